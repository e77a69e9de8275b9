/**
 * The documents AWS and other relying parties fetch without authenticating: OIDC
 * discovery, JWKS and the SPIFFE bundle, and what `wid login` and AWS read of the TLS
 * listener (/webapi/find, /webapi/thumbprint). They are kept in memory with an ETag, and
 * rebuilt when the stored authorities change (the server's AuthorityWatch says when: once a
 * second, at once from the change feed, and after a rotation through this server). The same
 * rebuild tells the trust watch (trust-watch.ts) of the new trust state.
 */
import {createHash} from 'node:crypto'
import type {AuthServer} from '../auth/auth-server.js'
import {trustState} from '../auth/trust.js'
import type {Backend} from '../backend/backend.js'
import {DEFAULT_REFRESH_HINT_SECONDS} from '../bundle/spiffe-bundle.js'
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

/** What the TLS listener presents now: the pin `wid login` expects and the SHA-1 thumbprint of the top of its chain (AWS's OIDC thumbprint). */
export interface Presented {
  loginPin: string
  thumbprint: string
}

export interface DocumentSources {
  auth: AuthServer
  backend: Backend
  publicAddr: string
  /** What /webapi/find says besides the pins. */
  about: {clusterName: string; version: string}
  presented: () => Presented
  watch: TrustWatch
}

export class PublicDocuments {
  private readonly sources: DocumentSources
  private documents = new Map<string, Document>()

  constructor(sources: DocumentSources) {
    this.sources = sources
  }

  get(path: string): Document | undefined {
    return this.documents.get(path)
  }

  /** Builds every document from the authorities as stored now and what the listener presents, and tells the trust watch. */
  async refresh(): Promise<void> {
    const {auth, backend, publicAddr, about, presented, watch} = this.sources
    const state = await trustState(backend)
    const {loginPin, thumbprint} = presented()
    const {caPins, hostCaPins} = await auth.status()
    const issuer = `${publicAddr}/workload-identity`
    const jwks = await auth.exportTrust('jwks')
    const discovery = (iss: string, jwksUri: string) => ({
      issuer: iss,
      jwks_uri: jwksUri,
      claims_supported: CLAIMS_SUPPORTED,
      id_token_signing_alg_values_supported: [...new Set((JSON.parse(jwks) as {keys: {alg: string}[]}).keys.map((k) => k.alg))],
      response_types_supported: ['id_token'],
      subject_types_supported: ['public'],
    })
    const bundle = (await auth.exportTrust('spiffe-bundle')).trim()
    // Caches keep the trust documents no longer than relying parties are told to wait between fetches
    const maxAge = (JSON.parse(bundle) as {spiffe_refresh_hint: number}).spiffe_refresh_hint
    const next = new Map<string, Document>()
    next.set('/webapi/thumbprint', document(JSON.stringify(thumbprint)))
    next.set('/webapi/find', document({...about, publicAddr, loginPin, hostCaPins, caPins}))
    next.set('/workload-identity/.well-known/openid-configuration', document(discovery(issuer, `${issuer}/jwt-jwks.json`), maxAge))
    next.set('/workload-identity/jwt-jwks.json', document(jwks.trim(), maxAge))
    next.set('/.well-known/openid-configuration', document(discovery(publicAddr, `${publicAddr}/.well-known/jwks-oidc`), maxAge))
    next.set('/.well-known/jwks-oidc', document(jwks.trim(), maxAge))
    next.set('/webapi/spiffe/bundle.json', document(bundle, maxAge))
    this.documents = next
    watch.publish(state)
  }
}
