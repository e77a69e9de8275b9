/**
 * The issuance rules shared by local and remote mode: TTL limits, SAN validation, SPIFFE
 * ID construction and the contents of X.509- and JWT-SVIDs (DESIGN §4).
 */
import {isIP} from 'node:net'
import {hex} from '../crypto/der.js'
import {encodePem} from '../crypto/pem.js'
import {randomHex} from '../crypto/random.js'
import {subjectPublicKeyType} from '../crypto/spki.js'
import {formatDuration} from '../duration.js'
import {badInput, WidError} from '../errors.js'
import {isoString} from '../time.js'
import {mintX509Svid, type SigningAuthority} from '../svid/x509.js'
import type {WorkloadAttributes} from './attributes.js'
import type {JwtSigner} from './authorities.js'
import type {ResolvedIdentity, SvidSelector} from './workload-issuance.js'

export const DEFAULT_SVID_TTL_SECONDS = 3600
export const MAX_SVID_TTL_SECONDS = 24 * 3600
/** notBefore is backdated to tolerate clock skew between issuer and relying parties. */
export const BACKDATE_SECONDS = 60

export interface X509SvidRequest extends SvidSelector {
  /** SubjectPublicKeyInfo of the client's key, PEM `PUBLIC KEY`. */
  publicKey: string
  ttlSeconds?: number
  dnsSans?: string[]
  ipSans?: string[]
  /** What the bot agent attested of the workload the SVID is for (bots and the local admin only). */
  workload?: WorkloadAttributes
}

export interface X509SvidResponse {
  spiffeId: string
  /** The workload identity it was issued from, when chosen by name or labels. */
  workloadIdentity?: string
  hint?: string
  serial: string
  notBefore: string
  notAfter: string
  /** Leaf first, then any intermediates, PEM. */
  certificates: string[]
  /** Every trusted CA certificate of the trust domain, PEM. */
  bundle: string[]
}

export interface JwtSvidRequest extends SvidSelector {
  audiences: string[]
  ttlSeconds?: number
  /** As X509SvidRequest.workload. */
  workload?: WorkloadAttributes
}

export interface JwtSvidResponse {
  spiffeId: string
  workloadIdentity?: string
  hint?: string
  token: string
  audiences: string[]
  issuedAt: string
  expiresAt: string
  jti: string
}

function described(identity: ResolvedIdentity): {workloadIdentity?: string; hint?: string} {
  return {
    ...(identity.workloadIdentity ? {workloadIdentity: identity.workloadIdentity} : {}),
    ...(identity.hint ? {hint: identity.hint} : {}),
  }
}

export function checkTtl(ttlSeconds: number | undefined, maxSeconds: number): number {
  const ttl = ttlSeconds ?? DEFAULT_SVID_TTL_SECONDS
  if (!Number.isInteger(ttl) || ttl <= 0) throw badInput('svid: TTL must be a positive number of seconds')
  if (ttl > maxSeconds) {
    throw badInput(`svid: requested TTL ${formatDuration(ttl)} exceeds the maximum of ${formatDuration(maxSeconds)}`)
  }
  return ttl
}

const DNS_LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/

/** A DNS SAN: RFC 1123 labels, optionally a leading `*.` wildcard label, ≤ 253 bytes. */
export function checkDnsSan(name: string): string {
  if (isIP(name) !== 0) throw badInput(`svid: DNS SAN "${name}" is an IP address; use an IP SAN (--ip-san) for it`)
  const labels = name.split('.')
  const body = labels[0] === '*' ? labels.slice(1) : labels
  if (name.length > 253 || body.length === 0 || !body.every((l) => DNS_LABEL.test(l))) {
    throw badInput(`svid: invalid DNS SAN "${name}" (expected a host name such as api.example.com)`)
  }
  return name.toLowerCase()
}

export function checkIpSan(address: string): string {
  if (address.includes('%')) throw badInput(`svid: IP SAN "${address}" has a zone; certificates cannot carry one`)
  if (isIP(address) === 0) throw badInput(`svid: invalid IP SAN "${address}" (expected an IPv4 or IPv6 address)`)
  return address
}

export interface X509IssueContext {
  signer: SigningAuthority
  bundle: string[]
  now: Date
}

/** Mints the X.509-SVID of a resolved identity for the client's public key. */
export async function issueX509(ctx: X509IssueContext, identity: ResolvedIdentity, req: {publicKey: string; ttlSeconds?: number}): Promise<X509SvidResponse> {
  const {spiffeId} = identity
  const ttl = checkTtl(req.ttlSeconds, identity.maxTtlSeconds)
  const dnsSans = identity.dnsSans.map(checkDnsSan)
  const ipSans = identity.ipSans.map(checkIpSan)
  const spki = publicKeyDer(req.publicKey)
  const type = subjectPublicKeyType(spki)
  const notBefore = new Date(ctx.now.getTime() - BACKDATE_SECONDS * 1000)
  const notAfter = new Date(signedUntil(ctx.now.getTime() + ttl * 1000, ctx.signer.notAfter, ctx.now, 'spiffe CA'))
  const minted = await mintX509Svid(ctx.signer, {
    spiffeId,
    subjectPublicKeyInfo: spki,
    subjectKeyType: type,
    notBefore,
    notAfter,
    dnsSans,
    ipSans,
    subject: identity.subject,
  })
  return {
    spiffeId: spiffeId.toString(),
    ...described(identity),
    serial: hex(minted.serial),
    notBefore: isoString(notBefore),
    notAfter: isoString(notAfter),
    certificates: [encodePem('CERTIFICATE', minted.der)],
    bundle: ctx.bundle,
  }
}

/**
 * An SVID's end: its TTL's, cut to the end of its signing key's life (the CA certificate's
 * notAfter; an automatically rotated JWT key's retirement), since nothing may verify it once
 * the key is gone. A key already past its end signs nothing: its rotation is overdue (under
 * automatic rotation, the next pass of advanceRotations replaces it at once).
 */
function signedUntil(end: number, keyEnd: Date | undefined, now: Date, key: string): number {
  if (keyEnd === undefined || end <= keyEnd.getTime()) return end
  if (keyEnd.getTime() <= now.getTime() + 1000) {
    throw new WidError('state', `svid: the ${key} that signs expired at ${isoString(keyEnd)}; its rotation is overdue (wid auth rotate --type ${key.split(' ')[0]} --grace-period 0s replaces it now)`)
  }
  return keyEnd.getTime()
}

export function publicKeyDer(pem: string): Uint8Array {
  const match = /^-----BEGIN PUBLIC KEY-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END PUBLIC KEY-----\s*$/.exec(pem.trim() + '\n')
  if (!match) throw badInput('svid: the public key must be one PEM "PUBLIC KEY" block')
  return Buffer.from(match[1]!, 'base64')
}

export interface JwtIssueContext {
  issuer: string
  signer: JwtSigner
  now: Date
}

export async function issueJwt(ctx: JwtIssueContext, identity: ResolvedIdentity, req: {audiences: string[]; ttlSeconds?: number}): Promise<JwtSvidResponse> {
  const {spiffeId} = identity
  const ttl = checkTtl(req.ttlSeconds, identity.maxTtlSeconds)
  const audiences = [...new Set(req.audiences.map((a) => a.trim()))]
  if (audiences.length === 0 || audiences.some((a) => a === '')) {
    throw badInput('svid: a JWT-SVID needs at least one non-empty audience (--audience)')
  }
  const {SignJWT} = await import('jose')
  const iat = Math.floor(ctx.now.getTime() / 1000)
  const exp = Math.floor(signedUntil((iat + ttl) * 1000, ctx.signer.notAfter, ctx.now, 'jwt key') / 1000)
  const jti = randomHex(16)
  const token = await new SignJWT({...identity.extraClaims})
    .setProtectedHeader({alg: ctx.signer.alg, kid: ctx.signer.kid, typ: 'JWT'})
    .setIssuer(ctx.issuer)
    .setSubject(spiffeId.toString())
    .setAudience(audiences.length === 1 ? audiences[0]! : audiences)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .setJti(jti)
    .sign(ctx.signer.privateKey)
  return {
    spiffeId: spiffeId.toString(),
    ...described(identity),
    token,
    audiences,
    issuedAt: isoString(new Date(iat * 1000)),
    expiresAt: isoString(new Date(exp * 1000)),
    jti,
  }
}
