/**
 * Automatic CA rotation, as SPIRE schedules it (DESIGN §4.5): every key has a life of
 * ca_ttl; the next key is prepared (made, trusted, published) at half of the signing key's
 * life and signs from five sixths of it; the old key is dropped once nothing it signed can
 * still be valid. The policy is stored on the CA itself (one conditional write, audited), so
 * that every server and every local command that moves rotations on reads the same one.
 * This module sets the policy and computes the schedule; rotation.ts makes the steps.
 */
import type {Backend} from '../backend/backend.js'
import {readCertificateFields} from '../crypto/certificate.js'
import {formatDuration} from '../duration.js'
import {badInput, WidError} from '../errors.js'
import {DEFAULT_REFRESH_HINT_SECONDS} from '../bundle/spiffe-bundle.js'
import {auditOperation, type AuditEvent} from '../services/audit.js'
import {authorityKey, type AuthorityKey, type AuthorityType} from '../services/authorities.js'
import {isoString} from '../time.js'
import {certificateDer} from './authorities.js'
import type {RotatedAuthority, RotateRequest, RotationPhase, RotationStatus} from './rotation.js'
import {longestSvidTtl} from './workload-issuance.js'

export type Actor = Pick<AuditEvent, 'actor'> & Record<string, unknown>

export const svidTypeOf = (type: AuthorityType): 'x509' | 'jwt' => (type === 'jwt' ? 'jwt' : 'x509')

export interface AutomaticRotation {
  caTtlSeconds: number
  /** When the policy was turned on: a key older than it counts its life from then. */
  since: string
}

/** The CAs rotated on a schedule: the host and client CAs wait for servers and logins to move over, which a schedule cannot see. */
export const AUTOMATIC_TYPES = ['spiffe', 'jwt'] as const satisfies readonly AuthorityType[]
export const DEFAULT_CA_TTL_SECONDS = 720 * 3600
/** As long as the CAs wid makes without the policy. */
export const MAX_CA_TTL_SECONDS = 10 * 365 * 24 * 3600
/**
 * A key stops signing with a sixth of its life left: ca_ttl must be at least six times the
 * longest SVID TTL, so that no SVID is cut short by the end of its CA.
 */
export const CA_TTL_PER_SVID_TTL = 6
/** Relying parties refresh this many times between a key's publication and its first signature. */
export const PUBLISH_AHEAD_HINTS = 3

/** The longest TTL of the SVIDs a CA signs, and what allows it, for messages. */
export interface LongestSvidTtl {
  seconds: number
  source: string
}

export function checkCaTtl(type: AuthorityType, caTtlSeconds: number, longest: LongestSvidTtl): void {
  if (!(AUTOMATIC_TYPES as readonly string[]).includes(type)) {
    throw badInput(`auth rotate: automatic rotation is for the spiffe and jwt CAs; the ${type} CA's rotation waits for servers and logins to move over, so rotate it with --grace-period`)
  }
  if (caTtlSeconds > MAX_CA_TTL_SECONDS) throw badInput(`auth rotate: --ca-ttl ${formatDuration(caTtlSeconds)} is longer than the ${formatDuration(MAX_CA_TTL_SECONDS)} (10 years) a CA may live`)
  const minimum = CA_TTL_PER_SVID_TTL * longest.seconds
  if (caTtlSeconds < minimum) {
    throw badInput(
      `auth rotate: --ca-ttl ${formatDuration(caTtlSeconds)} is too short for the ${type} CA: a key stops signing with a sixth of its life left, which must cover the longest SVID it signs (${formatDuration(longest.seconds)}, ${longest.source}); use --ca-ttl ${formatDuration(minimum)} or more`,
    )
  }
}

/** When a key was made and when it ends (an X.509 CA's certificate validity; a JWT key's scheduled life): unknown ends are open. */
export function keyValidity(key: AuthorityKey): {notBefore?: number; notAfter?: number} {
  if (key.certificate) {
    const {notBefore, notAfter} = readCertificateFields(certificateDer(key))
    return {notBefore: notBefore.getTime(), notAfter: notAfter.getTime()}
  }
  return {
    ...(key.notBefore ? {notBefore: Date.parse(key.notBefore)} : {}),
    ...(key.notAfter ? {notAfter: Date.parse(key.notAfter)} : {}),
  }
}

/**
 * Whether a key was made with a life of its own, under the policy: at most MAX_CA_TTL_SECONDS
 * (and the 60 s its certificate is backdated), where a key made without one has a
 * certificate of ten calendar years, which is longer, and a JWT key no end at all.
 */
export function madeWithLife(key: AuthorityKey): boolean {
  const {notBefore, notAfter} = keyValidity(key)
  return notBefore !== undefined && notAfter !== undefined && notAfter - notBefore <= (MAX_CA_TTL_SECONDS + 60) * 1000
}

/** A key's life under the policy: from its making (or the policy's start, if older), for ca_ttl at most. */
export function keyLife(key: AuthorityKey, policy: AutomaticRotation): {from: number; until: number} {
  const {notBefore, notAfter} = keyValidity(key)
  const from = Math.max(notBefore ?? -Infinity, Date.parse(policy.since))
  return {from, until: Math.min(notAfter ?? Infinity, from + policy.caTtlSeconds * 1000)}
}

/** When the key after the signing one is prepared: at half its life. */
export function preparesAt(signing: AuthorityKey, policy: AutomaticRotation): number {
  const {from, until} = keyLife(signing, policy)
  return from + (until - from) / 2
}

/**
 * When the key prepared at `preparedAt` signs: at five sixths of the signing key's life, but
 * not before relying parties have had three refresh hints to fetch it (a preparation made
 * late, say by a cluster with no server running, waits for them), unless the signing key
 * ends sooner: then nothing it signs would be valid anyway.
 */
export function activatesAt(signing: AuthorityKey, policy: AutomaticRotation, preparedAt: number): number {
  const {from, until} = keyLife(signing, policy)
  const published = preparedAt + PUBLISH_AHEAD_HINTS * DEFAULT_REFRESH_HINT_SECONDS * 1000
  return Math.max(from + ((until - from) * 5) / 6, Math.min(published, keyValidity(signing).notAfter ?? Infinity))
}

/**
 * When a key that stopped signing at `activatedAt` can be dropped: once every SVID it signed
 * has expired (the longest TTL after it stopped, or its own end, at which they were cut).
 */
export function retiresAt(previous: AuthorityKey, activatedAt: number, longestSvidTtlSeconds: number): number {
  const end = keyValidity(previous).notAfter
  // A key made with a life of its own is kept until its end: no SVID it signed outlives it,
  // whatever TTLs the workload identities allow now (one lowered since would otherwise cut its
  // SVIDs short)
  if (end !== undefined && madeWithLife(previous)) return Math.max(activatedAt, end)
  return Math.max(activatedAt, Math.min(end ?? Infinity, activatedAt + longestSvidTtlSeconds * 1000))
}

/** The policy as status shows it; between rotations, when the next key is prepared and when it should sign. */
export function automaticStatus(authority: RotatedAuthority, phase: RotationPhase): RotationStatus['automatic'] {
  const policy = authority.automatic
  if (!policy) return undefined
  const shown = {caTtl: formatDuration(policy.caTtlSeconds), caTtlSeconds: policy.caTtlSeconds, since: policy.since}
  if (phase !== 'standby') return shown
  const signing = authority.activeKeys[0]!
  const prepares = preparesAt(signing, policy)
  return {...shown, prepares: isoString(new Date(prepares)), activates: isoString(new Date(activatesAt(signing, policy, prepares)))}
}

/**
 * Turns a CA's automatic rotation on (or changes its ca_ttl) or off, audited as
 * ca.rotation_policy. A rotation under way goes on by its own schedule either way.
 */
export async function setAutomaticRotation(backend: Backend, current: {authority: RotatedAuthority; revision: number}, request: RotateRequest, now: Date, actor: Actor): Promise<RotatedAuthority> {
  const {type} = request
  if (request.phase !== undefined || request.gracePeriodSeconds !== undefined || request.force) {
    throw new WidError('bad_input', 'auth rotate: --automatic sets how the CA is rotated from now on, with --ca-ttl only; --phase, --grace-period and --force start or move one rotation')
  }
  if (request.caTtlSeconds !== undefined && !request.automatic) throw new WidError('bad_input', 'auth rotate: --ca-ttl is for --automatic; --no-automatic turns automatic rotation off')
  const existing = current.authority.automatic
  let policy: AutomaticRotation | undefined
  if (request.automatic) {
    const caTtlSeconds = request.caTtlSeconds ?? existing?.caTtlSeconds ?? DEFAULT_CA_TTL_SECONDS
    checkCaTtl(type, caTtlSeconds, await longestSvidTtl(backend, svidTypeOf(type)))
    policy = {caTtlSeconds, since: existing?.since ?? isoString(now)}
  }
  if (policy?.caTtlSeconds === existing?.caTtlSeconds) return current.authority
  const {automatic: _off, ...rest} = current.authority
  const authority: RotatedAuthority = policy ? {...rest, automatic: policy} : rest
  const event: AuditEvent = {
    time: isoString(now),
    type: 'ca.rotation_policy',
    ...actor,
    authority: type,
    automatic: policy !== undefined,
    ...(policy ? {ca_ttl: formatDuration(policy.caTtlSeconds)} : {}),
  }
  const key = authorityKey(type)
  await backend.atomicWrite([{key, type: 'revision', revision: current.revision}], [{key, type: 'put', value: JSON.stringify(authority)}, auditOperation(event)])
  return authority
}
