/**
 * Checks an ID token of a delegated join method (DESIGN §4.3): signed with an asymmetric
 * algorithm (RS, ES or PS) by a key of its issuer (a static JWKS, or the issuer's published
 * keys found by OIDC discovery over HTTPS), by exactly the expected issuer, for an audience
 * that includes the cluster name, unexpired and already valid with 2 minutes of leeway.
 * Refusals say what to check and never repeat the token.
 */
import type {JSONWebKeySet, JWTPayload, JWTVerifyGetKey} from 'jose'
import {ASYMMETRIC_JWS_ALGORITHMS} from '../crypto/keys.js'
import {WidError} from '../errors.js'
import {isoString} from '../time.js'
import {JoinRefused} from './refused.js'

export const LEEWAY_SECONDS = 120

/**
 * How long an issuer's keys are used before they are fetched again; the least time between
 * fetches (for an unknown key, or after a failed fetch); and how long the last keys fetched
 * still serve while the issuer cannot be reached (a CI platform's outage must not stop every
 * renewal at once, nor each join retry hammer it).
 */
const KEYS_TTL_MS = 3600_000
const REFETCH_INTERVAL_MS = 10_000
const STALE_KEYS_MS = 24 * 3600_000
const FETCH_TIMEOUT_MS = 10_000
const MAX_DOCUMENT_BYTES = 1024 * 1024

/** Where a token's keys come from: a JWKS given in the token resource, or the issuer's own. */
export type KeySource = {jwks: string; where: string} | {issuer: string}

export interface JwtCheck {
  /** The issuer the token must name exactly; unchecked when undefined (a Kubernetes cluster's static JWKS). */
  issuer?: string
  keys: KeySource
  /** The cluster name: the audience every delegated token must be for. */
  audience: string
  now: Date
}

type Jose = typeof import('jose')

/**
 * The issuers' published keys, fetched by OIDC discovery over HTTPS, kept for an hour, fetched
 * again (at most every 10 s) for a key they do not hold; while the issuer cannot be reached,
 * the last keys serve for a day, and the failure is answered for 10 s without asking again.
 */
export class IssuerKeys {
  private readonly entries = new Map<string, {jwks: JSONWebKeySet; fetchedAt: number}>()
  private readonly failures = new Map<string, {error: Error; at: number}>()
  private readonly pending = new Map<string, Promise<JSONWebKeySet>>()
  private readonly extraCa: string[]
  private readonly clock: () => number

  /** `ca`: PEM certificates trusted besides the system's, for private issuers; `clock` in ms, for the cache. */
  constructor(options: {ca?: string[]; clock?: () => number} = {}) {
    this.extraCa = options.ca ?? []
    this.clock = options.clock ?? Date.now
  }

  /** The issuer's keys; fetched again when `stale` (an unknown key) and the last fetch is old enough. */
  async keySet(issuer: string, stale = false): Promise<JSONWebKeySet> {
    const entry = this.entries.get(issuer)
    const age = entry ? this.clock() - entry.fetchedAt : Infinity
    if (entry && age < KEYS_TTL_MS && !(stale && age >= REFETCH_INTERVAL_MS)) return entry.jwks
    const lastGood = entry && age < STALE_KEYS_MS ? entry.jwks : undefined
    const failed = this.failures.get(issuer)
    if (failed && this.clock() - failed.at < REFETCH_INTERVAL_MS) {
      if (lastGood) return lastGood
      throw failed.error
    }
    let fetching = this.pending.get(issuer)
    if (!fetching) {
      fetching = this.fetch(issuer)
        .then(
          (jwks) => {
            this.failures.delete(issuer)
            return jwks
          },
          (error: unknown) => {
            this.failures.set(issuer, {error: error as Error, at: this.clock()})
            throw error
          },
        )
        .finally(() => this.pending.delete(issuer))
      this.pending.set(issuer, fetching)
    }
    try {
      return await fetching
    } catch (error) {
      if (lastGood) return lastGood
      throw error
    }
  }

  private async fetch(issuer: string): Promise<JSONWebKeySet> {
    const discovery = (await this.getJson(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`, issuer)) as {issuer?: unknown; jwks_uri?: unknown}
    if (discovery.issuer !== issuer) throw unavailable(issuer, `its discovery document names the issuer ${shown(discovery.issuer)}`)
    if (typeof discovery.jwks_uri !== 'string' || !discovery.jwks_uri.startsWith('https://')) throw unavailable(issuer, 'its discovery document has no https:// jwks_uri')
    const jwks = (await this.getJson(discovery.jwks_uri, issuer)) as JSONWebKeySet
    if (!Array.isArray(jwks?.keys)) throw unavailable(issuer, `${discovery.jwks_uri} is not a JWKS`)
    this.entries.set(issuer, {jwks, fetchedAt: this.clock()})
    return jwks
  }

  private async getJson(url: string, issuer: string): Promise<unknown> {
    // HTTP and TLS load only when an issuer is asked: every local command constructs this class
    const [{httpRequest}, {rootCertificates}] = await Promise.all([import('../http-client.js'), import('node:tls')])
    const ca = this.extraCa.length > 0 ? [...rootCertificates, ...this.extraCa] : undefined
    let answer
    try {
      answer = await httpRequest(url, {headers: {accept: 'application/json'}, timeoutMs: FETCH_TIMEOUT_MS, maxBytes: MAX_DOCUMENT_BYTES, ...(ca ? {tls: {ca}} : {})})
    } catch (error) {
      throw unavailable(issuer, `${url}: ${(error as Error).message}`)
    }
    if (answer.status !== 200) throw unavailable(issuer, `${url} answered HTTP ${answer.status}`)
    try {
      return JSON.parse(answer.text) as unknown
    } catch {
      throw unavailable(issuer, `${url} did not answer JSON`)
    }
  }
}

const unavailable = (issuer: string, reason: string) => new WidError('unavailable', `join: the keys of the issuer ${issuer} could not be fetched: ${reason}`)

/** The key getter jose calls: by kid from the set, fetching the issuer's keys again once for a kid it does not hold. */
function keyGetter(jose: Jose, check: JwtCheck, issuerKeys: IssuerKeys): JWTVerifyGetKey {
  const {keys} = check
  if ('jwks' in keys) return jose.createLocalJWKSet(JSON.parse(keys.jwks) as JSONWebKeySet)
  return async (header, token) => {
    try {
      return await jose.createLocalJWKSet(await issuerKeys.keySet(keys.issuer))(header, token)
    } catch (error) {
      if (!(error instanceof jose.errors.JWKSNoMatchingKey)) throw error
      return jose.createLocalJWKSet(await issuerKeys.keySet(keys.issuer, true))(header, token)
    }
  }
}

const SHOWN_LENGTH = 64

/** A value from the token, for a message: short strings (and lists of a few) as JSON, nothing an attacker could make long or deep. */
export function shown(value: unknown): string {
  const text = (v: string) => JSON.stringify(v.length > SHOWN_LENGTH ? `${v.slice(0, SHOWN_LENGTH)}…` : v)
  if (typeof value === 'string') return text(value)
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  if (value === undefined || value === null) return 'none'
  if (Array.isArray(value) && value.length <= 10 && value.every((v) => typeof v === 'string')) return `[${value.map(text).join(',')}]`
  return 'a value that is not a string'
}

/** A NumericDate claim as a time, or as given when it is no time a Date can hold. */
export function claimTime(seconds: unknown): string {
  const date = typeof seconds === 'number' ? new Date(seconds * 1000) : undefined
  return date && !Number.isNaN(date.getTime()) ? isoString(date) : shown(seconds)
}

/** The one line that says what is wrong with the token and what to check. */
function refusal(jose: Jose, error: unknown, check: JwtCheck, kid: string | undefined): Error {
  const {errors} = jose
  const key = kid === undefined ? 'a key with no kid' : `the key ${shown(kid)}`
  const keysWhere = 'jwks' in check.keys ? check.keys.where : `the issuer ${check.keys.issuer}`
  if (error instanceof errors.JWKSNoMatchingKey) return new JoinRefused(`join: the ID token is signed with ${key}, which is not one of the keys of ${keysWhere}; check that the token is from that issuer`)
  if (error instanceof errors.JWSSignatureVerificationFailed) return new JoinRefused(`join: the ID token's signature does not verify with ${key} of ${keysWhere}; the token was altered or not signed by that issuer`)
  if (error instanceof errors.JWTExpired) return new JoinRefused(`join: the ID token expired at ${claimTime(error.payload.exp)} (2 minutes of leeway allowed); use a fresh token`)
  if (error instanceof errors.JWTClaimValidationFailed) {
    const {payload, claim} = error
    if (claim === 'nbf') return new JoinRefused(`join: the ID token is not valid before ${claimTime(payload.nbf)} (2 minutes of leeway allowed); check the clocks of the issuer and the cluster`)
    if (claim === 'iss') return new JoinRefused(`join: the ID token's issuer is ${shown(payload.iss)}, not ${shown(check.issuer)}; check the token resource's issuer settings`)
    if (claim === 'aud') {
      return new JoinRefused(`join: the ID token's audience is ${shown(payload.aud)}, which does not include the cluster name ${shown(check.audience)}; request the token for the audience ${check.audience}`)
    }
    if (claim === 'exp') return new JoinRefused('join: the ID token has no expiry (exp); the issuer must set one')
    return new JoinRefused(`join: the ID token's claim ${claim} is invalid (${error.reason})`)
  }
  if (error instanceof errors.JOSEError) return new JoinRefused('join: the ID token is not a signed JWT the cluster can check; pass the whole token as its platform issued it')
  if (error instanceof WidError) return error
  // WebCrypto refusing a published key (a malformed JWK): the issuer's keys, not the caller, are at fault
  return new JoinRefused(`join: ${key} of ${keysWhere} cannot be used (${(error as Error).name}); check the issuer's published keys`)
}

/** The verified claims of `idToken`, or a JoinRefused saying what to check. */
export async function verifyIdToken(idToken: string, check: JwtCheck, issuerKeys: IssuerKeys): Promise<JWTPayload> {
  const jose = await import('jose')
  let header
  try {
    header = jose.decodeProtectedHeader(idToken)
  } catch {
    throw new JoinRefused('join: the ID token is not a signed JWT; pass the whole token as its platform issued it')
  }
  if (typeof header.alg !== 'string' || !ASYMMETRIC_JWS_ALGORITHMS.includes(header.alg)) {
    throw new JoinRefused(`join: the ID token is signed with ${shown(header.alg)}, which is not accepted (only ${ASYMMETRIC_JWS_ALGORITHMS.join(', ')})`)
  }
  try {
    const {payload} = await jose.jwtVerify(idToken, keyGetter(jose, check, issuerKeys), {
      algorithms: ASYMMETRIC_JWS_ALGORITHMS,
      audience: check.audience,
      clockTolerance: LEEWAY_SECONDS,
      currentDate: check.now,
      requiredClaims: ['exp'],
      ...(check.issuer === undefined ? {} : {issuer: check.issuer}),
    })
    return payload
  } catch (error) {
    throw refusal(jose, error, check, typeof header.kid === 'string' ? header.kid : undefined)
  }
}
