/**
 * The documents AWS and other relying parties fetch without authenticating: OIDC
 * discovery, JWKS and the SPIFFE bundle. They are built once, kept in memory with an ETag,
 * and rebuilt when the stored authorities change: checked once a second, at once when the
 * change feed reports a change, and when asked (after a rotation through this server). The
 * same refresh tells the trust watch (trust-watch.ts) of the new trust state.
 */
import {createHash} from 'node:crypto'
import type {AuthServer} from '../auth/auth-server.js'
import {trustState} from '../auth/trust.js'
import type {Backend} from '../backend/backend.js'
import {DEFAULT_REFRESH_HINT_SECONDS} from '../bundle/spiffe-bundle.js'
import {authorityKey} from '../services/authorities.js'
import type {TrustWatch} from './trust-watch.js'

export interface Document {
  body: string
  etag: string
  contentType: string
  /** Seconds a cache may keep it: the published spiffe_refresh_hint, which a rotation shortens. */
  maxAge: number
}

const CLAIMS_SUPPORTED = ['iss', 'sub', 'aud', 'exp', 'iat', 'jti']

function document(body: unknown, maxAge = DEFAULT_REFRESH_HINT_SECONDS, contentType = 'application/json'): Document {
  const text = typeof body === 'string' ? body : JSON.stringify(body)
  return {body: text, etag: `"${createHash('sha256').update(text).digest('base64url').slice(0, 27)}"`, contentType, maxAge}
}

/** The authorities the public documents publish. */
const AUTHORITIES = ['spiffe', 'jwt'] as const

export class PublicDocuments {
  private readonly auth: AuthServer
  private readonly backend: Backend
  private readonly publicAddr: string
  private readonly watch: TrustWatch
  private documents = new Map<string, Document>()
  private revisions = ''
  private timer?: NodeJS.Timeout
  private feed?: {close(): Promise<void>}
  /** The refresh running, and the one asked for meanwhile (at most one waits: they would all read the same). */
  private running: Promise<void> = Promise.resolve()
  private queued?: Promise<void>

  constructor(auth: AuthServer, backend: Backend, publicAddr: string, watch: TrustWatch) {
    this.auth = auth
    this.backend = backend
    this.publicAddr = publicAddr
    this.watch = watch
  }

  get(path: string): Document | undefined {
    return this.documents.get(path)
  }

  /** Builds the documents, then keeps them current; `thumbprint` is what the TLS listener presents. */
  async start(thumbprint: string, find: object): Promise<void> {
    this.documents.set('/webapi/thumbprint', document(JSON.stringify(thumbprint)))
    this.documents.set('/webapi/find', document(find))
    await this.refresh()
    this.timer = setInterval(() => void this.refresh().catch(() => undefined), 1000)
    this.timer.unref()
    // With several servers on one store, another's change to the authorities is served as soon as the feed reports it, not at the next check
    const watched = new Set(AUTHORITIES.map(authorityKey))
    this.feed = await this.backend.watch?.((event) => {
      if (event.type !== 'lost' && (event.type === 'resync' || event.keys.some((key) => watched.has(key)))) void this.refresh().catch(() => undefined)
    })
  }

  stop(): void {
    clearInterval(this.timer)
    void this.feed?.close()
  }

  /**
   * Reads the authorities' revisions and, if they changed, rebuilds the documents and tells
   * the trust watch. One at a time, so that an older read never replaces a newer one.
   */
  refresh(): Promise<void> {
    this.queued ??= this.running.then(() => {
      this.queued = undefined
      return this.rebuild()
    })
    this.running = this.queued.catch(() => undefined)
    return this.queued
  }

  private async rebuild(): Promise<void> {
    const items = await Promise.all(AUTHORITIES.map((type) => this.backend.get(authorityKey(type))))
    const revisions = items.map((i) => i?.revision ?? 0).join(',')
    if (revisions === this.revisions) return
    const state = await trustState(this.backend)
    const issuer = `${this.publicAddr}/workload-identity`
    const jwks = await this.auth.exportTrust('jwks')
    const discovery = (iss: string, jwksUri: string) => ({
      issuer: iss,
      jwks_uri: jwksUri,
      claims_supported: CLAIMS_SUPPORTED,
      id_token_signing_alg_values_supported: [...new Set((JSON.parse(jwks) as {keys: {alg: string}[]}).keys.map((k) => k.alg))],
      response_types_supported: ['id_token'],
      subject_types_supported: ['public'],
    })
    const bundle = (await this.auth.exportTrust('spiffe-bundle')).trim()
    // Caches keep the trust documents no longer than relying parties are told to wait between fetches
    const maxAge = (JSON.parse(bundle) as {spiffe_refresh_hint: number}).spiffe_refresh_hint
    const next = new Map(this.documents)
    next.set('/workload-identity/.well-known/openid-configuration', document(discovery(issuer, `${issuer}/jwt-jwks.json`), maxAge))
    next.set('/workload-identity/jwt-jwks.json', document(jwks.trim(), maxAge))
    next.set('/.well-known/openid-configuration', document(discovery(this.publicAddr, `${this.publicAddr}/.well-known/jwks-oidc`), maxAge))
    next.set('/.well-known/jwks-oidc', document(jwks.trim(), maxAge))
    next.set('/webapi/spiffe/bundle.json', document(bundle, maxAge))
    this.documents = next
    this.revisions = revisions
    this.watch.publish(state)
  }
}
