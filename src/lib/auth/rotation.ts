/**
 * CA rotation, phase by phase as Teleport does it (DESIGN §4.5):
 *
 *   standby → init → update_clients → update_servers → standby
 *   init | update_clients | update_servers → rollback → standby
 *
 * At init a new key is made and trusted (published) but does not sign; the signing key
 * changes to the new one at update_clients (the host CA's at update_servers, when servers
 * present certificates of the new CA); at standby the old key is no longer trusted. A
 * rollback makes the old key sign again and keeps the new one trusted until standby drops
 * it. Each change is one conditional write of the authority with its audit event, so
 * several servers and local commands may race to make it: one wins, the others see it made.
 *
 * A rotation is manual (`--phase` for every step), semi-automatic (a grace period split in
 * three over the phases, advanced by advanceRotations), a grace period of zero: the whole
 * rotation at once, for a key that must not be trusted a moment longer, or automatic: started
 * and advanced by advanceRotations on the schedule of the CA's policy (rotation-policy.ts).
 */
import type {Backend} from '../backend/backend.js'
import {readCertificateFields} from '../crypto/certificate.js'
import {spkiPin} from '../crypto/keys.js'
import {WidError} from '../errors.js'
import {auditOperation, type AuditEvent} from '../services/audit.js'
import {authorityKey, getAuthorityItem, parseAuthority, type AuthorityKey, type AuthorityType, type CertAuthority} from '../services/authorities.js'
import {TrustDomain} from '../spiffeid/index.js'
import {DEFAULT_REFRESH_HINT_SECONDS} from '../bundle/spiffe-bundle.js'
import {isoString} from '../time.js'
import {certificateDer, newJwtAuthorityKey, newX509AuthorityKey} from './authorities.js'
import {checkGracePeriod, noValidSvidsLeft, publishedLongEnough, shortGraceWarning} from './rotation-checks.js'
import {automaticStatus, keyValidity, madeWithLife, PUBLISH_AHEAD_HINTS, retiresAt, setAutomaticRotation, svidTypeOf, type Actor, type AutomaticRotation} from './rotation-policy.js'
import {automaticSchedule, duePhase, rescheduled, scheduleFrom, type Schedule} from './rotation-schedule.js'
import {longestSvidTtl} from './workload-issuance.js'

export const AUTHORITY_TYPES = ['spiffe', 'jwt', 'host', 'client'] as const satisfies readonly AuthorityType[]
export const ROTATION_PHASES = ['init', 'update_clients', 'update_servers', 'standby', 'rollback'] as const
export type RotationPhase = (typeof ROTATION_PHASES)[number]

export interface Rotation {
  phase: RotationPhase
  /** manual: every phase by hand; semi-automatic: by the schedule. */
  mode?: 'manual' | 'semi-automatic' | 'automatic'
  /** When the rotation under way began (its init) and when its phase did. */
  started?: string
  phaseStarted?: string
  gracePeriodSeconds?: number
  /** When a semi-automatic or automatic rotation enters each later phase. */
  schedule?: Schedule
  /** The keys of the rotation under way, as keyId names them: the one it replaces and the one it brings. */
  previousKey?: string
  nextKey?: string
  /** The key of this rotation that last stopped signing, and when: its SVIDs may be valid for the longest SVID TTL after. */
  retired?: {key: string; signedUntil: string}
  /** When the last rotation (or rollback) ended. */
  lastRotated?: string
}

export type RotatedAuthority = CertAuthority & {rotation?: Rotation; automatic?: AutomaticRotation}

export interface RotateRequest {
  type: AuthorityType
  /** A manual step; without it, a semi-automatic rotation starts. */
  phase?: RotationPhase
  /** Semi-automatic: the whole rotation's length (0: all at once). */
  gracePeriodSeconds?: number
  /** Manual: skip the waits, before a new SPIFFE or JWT key signs and before one that signed is dropped (see publishedLongEnough, noValidSvidsLeft). */
  force?: boolean
  /** Turns the CA's automatic rotation on (with caTtlSeconds, or the policy's, or 720h) or off; nothing else in the request. */
  automatic?: boolean
  caTtlSeconds?: number
}

export interface RotationStatus {
  type: AuthorityType
  phase: RotationPhase
  mode?: Rotation['mode']
  started?: string
  schedule?: Rotation['schedule']
  lastRotated?: string
  /** A semi-automatic rotation just started: what its schedule would cut short (see shortGraceWarning). */
  warning?: string
  /** When the signing key's life ends, if it was made with one (under automatic rotation): it signs nothing after. */
  signingUntil?: string
  /** The CA's automatic rotation, when on; between rotations, when its next key is prepared and when it should sign. */
  automatic?: {caTtl: string; caTtlSeconds: number; since: string; prepares?: string; activates?: string}
  /** The key that signs now, and every key trusted (signing key first), as keyId names them. */
  signing: string
  trusted: string[]
  /** The key the rotation under way brings (until its standby). */
  next?: string
}

/** How a key is named in status and events: a JWT key by its kid, an X.509 CA by the pin of its public key. */
export function keyId(key: AuthorityKey): string {
  if (key.kid) return key.kid
  return spkiPin(readCertificateFields(certificateDer(key)).subjectPublicKeyInfo)
}

/** The stored rotation state, checked: a damaged one is damage to the store, reported in one line. */
export function rotationOf(authority: CertAuthority): Rotation {
  const rotation = (authority as RotatedAuthority).rotation ?? {phase: 'standby'}
  if (typeof rotation !== 'object' || rotation === null || !(ROTATION_PHASES as readonly unknown[]).includes(rotation.phase) || authority.activeKeys.length === 0) {
    throw new WidError('state', `backend: the stored rotation of the ${authority.type} authority is damaged`)
  }
  return rotation
}

/** The phase at which the new key starts to sign: the host CA's waits until servers switch certificates. */
const signsFrom = (type: AuthorityType): RotationPhase => (type === 'host' ? 'update_servers' : 'update_clients')

/** The phases each phase may move to. */
const NEXT: Record<RotationPhase, RotationPhase[]> = {
  standby: ['init'],
  init: ['update_clients', 'rollback'],
  update_clients: ['update_servers', 'rollback'],
  update_servers: ['standby', 'rollback'],
  rollback: ['standby'],
}

function refusedStep(type: AuthorityType, from: RotationPhase, to: RotationPhase): WidError {
  if (from === 'standby') return new WidError('bad_input', `auth rotate: no rotation of the ${type} CA is under way; start one with --manual --phase init (or without --manual, semi-automatically)`)
  return new WidError('bad_input', `auth rotate: the ${type} CA is in phase ${from}; it can move to ${NEXT[from].join(' or ')}, not ${to}`)
}

/** A new key for the authority: under an automatic policy, it lives for ca_ttl (however the rotation that makes it was started). */
async function newKey(authority: RotatedAuthority, now: Date): Promise<AuthorityKey> {
  const lifetime = authority.automatic?.caTtlSeconds
  if (authority.type === 'jwt') return newJwtAuthorityKey(now, lifetime)
  const keyType = authority.activeKeys[0]?.keyType ?? 'ec-p256'
  return newX509AuthorityKey(TrustDomain.parse(authority.clusterName), keyType, now, authority.type, lifetime)
}

function findKey(authority: CertAuthority, id: string | undefined): AuthorityKey {
  const key = [...authority.activeKeys, ...authority.additionalTrustedKeys].find((k) => keyId(k) === id)
  if (!key) throw new WidError('state', `auth: the ${authority.type} authority lost a key of its rotation (${id ?? 'none'}); the store is damaged`)
  return key
}

/** `signer` signs; every other key of the rotation (and whatever else was trusted) stays trusted. */
function signingWith(authority: CertAuthority, signer: AuthorityKey, drop?: AuthorityKey): Pick<CertAuthority, 'activeKeys' | 'additionalTrustedKeys'> {
  const all = [...authority.activeKeys, ...authority.additionalTrustedKeys].filter((k) => k !== drop)
  return {activeKeys: [signer], additionalTrustedKeys: all.filter((k) => k !== signer)}
}

/** How the steps of one write are made: the rotation's mode, and what its schedule is drawn from. */
interface StepPlan {
  mode: Rotation['mode']
  /** Semi-automatic: the whole rotation's length. */
  gracePeriodSeconds?: number
  /** Automatic: the longest SVID TTL of the CA, which the old key outlives its last signature by. */
  longestSvidTtlSeconds?: number
}

/** The authority after one step from its current phase to `to` (a new key is made at init). */
async function step(authority: RotatedAuthority, to: RotationPhase, now: Date, plan: StepPlan): Promise<RotatedAuthority> {
  const {mode, gracePeriodSeconds, longestSvidTtlSeconds} = plan
  const rotation = rotationOf(authority)
  const from = rotation.phase
  if (!NEXT[from].includes(to)) throw refusedStep(authority.type, from, to)
  const at = isoString(now)
  if (to === 'init') {
    const key = await newKey(authority, now)
    const current = authority.activeKeys[0]
    if (!current) throw new WidError('state', `auth: the ${authority.type} authority has no active signing key`)
    const schedule =
      gracePeriodSeconds !== undefined ? scheduleFrom(now, gracePeriodSeconds) : mode === 'automatic' ? automaticSchedule(current, authority.automatic!, now, longestSvidTtlSeconds!) : undefined
    return {
      ...authority,
      additionalTrustedKeys: [key, ...authority.additionalTrustedKeys],
      rotation: {
        phase: 'init',
        mode,
        started: at,
        phaseStarted: at,
        ...(gracePeriodSeconds === undefined ? {} : {gracePeriodSeconds}),
        ...(schedule ? {schedule} : {}),
        previousKey: keyId(current),
        nextKey: keyId(key),
        ...(rotation.lastRotated ? {lastRotated: rotation.lastRotated} : {}),
      },
    }
  }
  const previous = findKey(authority, rotation.previousKey)
  const next = findKey(authority, rotation.nextKey)
  let keys: Pick<CertAuthority, 'activeKeys' | 'additionalTrustedKeys'>
  if (to === 'rollback') keys = signingWith(authority, previous)
  else if (to === 'standby') keys = from === 'rollback' ? signingWith(authority, previous, next) : signingWith(authority, next, previous)
  else keys = signingWith(authority, to === signsFrom(authority.type) || from === signsFrom(authority.type) ? next : previous)
  if (to === 'standby') {
    return {...authority, ...keys, rotation: {phase: 'standby', lastRotated: at}}
  }
  const signer = authority.activeKeys[0]
  const retired = signer && keys.activeKeys[0] !== signer ? {retired: {key: keyId(signer), signedUntil: at}} : {}
  if (to === 'rollback') {
    // A rollback ends the schedule: standby (dropping the new key) is then the admin's step
    const {schedule: _schedule, gracePeriodSeconds: _grace, ...rest} = rotation
    return {...authority, ...keys, rotation: {...rest, ...retired, mode: 'manual', phase: 'rollback', phaseStarted: at}}
  }
  const schedule = rotation.schedule ? rescheduled(rotation, to, now) : undefined
  // An automatic rotation's old key stopped signing now, maybe later than planned: it is kept until what it signed has expired
  if (schedule && rotation.mode === 'automatic' && to === 'update_clients') schedule.standby = isoString(new Date(retiresAt(previous, now.getTime(), longestSvidTtlSeconds!)))
  return {...authority, ...keys, rotation: {...rotation, ...retired, phase: to, phaseStarted: at, ...(schedule ? {schedule} : {})}}
}

/** The event of a step from `before` to `to`; the step to standby ends the rotation, and is made in its mode. */
function rotationEvent(actor: Actor, before: RotatedAuthority, to: RotatedAuthority, now: Date): AuditEvent {
  const rotation = rotationOf(to)
  const mode = rotation.mode ?? rotationOf(before).mode
  return {
    time: isoString(now),
    type: 'ca.rotation',
    ...actor,
    authority: to.type,
    phase: rotation.phase,
    previous_phase: rotationOf(before).phase,
    ...(mode ? {mode} : {}),
    signing_key: keyId(to.activeKeys[0]!),
  }
}

export function rotationStatus(authority: CertAuthority): RotationStatus {
  const rotation = rotationOf(authority)
  const automatic = automaticStatus(authority, rotation.phase)
  return {
    type: authority.type,
    phase: rotation.phase,
    ...(rotation.mode ? {mode: rotation.mode} : {}),
    ...(rotation.started ? {started: rotation.started} : {}),
    ...(rotation.schedule ? {schedule: rotation.schedule} : {}),
    ...(rotation.lastRotated ? {lastRotated: rotation.lastRotated} : {}),
    ...(automatic ? {automatic} : {}),
    signing: keyId(authority.activeKeys[0]!),
    ...signingUntil(authority.activeKeys[0]!),
    trusted: [...authority.activeKeys, ...authority.additionalTrustedKeys].map(keyId),
    ...(rotation.phase !== 'standby' && rotation.nextKey ? {next: rotation.nextKey} : {}),
  }
}

/** When the signing key's life ends, if it was made with one (see madeWithLife). */
function signingUntil(key: AuthorityKey): {signingUntil?: string} {
  const {notAfter} = keyValidity(key)
  return notAfter === undefined || !madeWithLife(key) ? {} : {signingUntil: isoString(new Date(notAfter))}
}

/**
 * Writes the steps `next` names, one after the other from the stored authority (revision
 * `revision`), as one conditional write, each step audited.
 */
async function writeSteps(
  backend: Backend,
  stored: {authority: RotatedAuthority; revision: number},
  next: (authority: RotatedAuthority) => RotationPhase | undefined,
  now: Date,
  actor: Actor,
  plan: StepPlan,
): Promise<RotatedAuthority> {
  let authority = stored.authority
  const events: AuditEvent[] = []
  for (let target = next(authority); target !== undefined; target = next(authority)) {
    const before = authority
    authority = await step(authority, target, now, plan)
    // Steps made in one write are a millisecond apart in the log, so that it lists them in order
    events.push(rotationEvent(actor, before, authority, new Date(now.getTime() + events.length)))
  }
  const key = authorityKey(authority.type)
  await backend.atomicWrite([{key, type: 'revision', revision: stored.revision}], [{key, type: 'put', value: JSON.stringify(authority)}, ...events.map(auditOperation)])
  return authority
}

async function stored(backend: Backend, type: AuthorityType): Promise<{authority: RotatedAuthority; revision: number}> {
  const item = await getAuthorityItem(backend, type)
  return {authority: parseAuthority(item), revision: item.revision}
}

/**
 * One rotation request: a manual step, the start of a semi-automatic rotation (refused
 * while one is under way), or the CA's automatic policy. A step raced by another writer is
 * refused, not repeated.
 */
export async function rotateAuthority(backend: Backend, request: RotateRequest, now: Date, actor: Actor): Promise<RotationStatus> {
  const current = await stored(backend, request.type)
  const {phase, mode: rotating} = rotationOf(current.authority)
  let targets: RotationPhase[]
  let plan: StepPlan = {mode: 'manual'}
  if (request.automatic !== undefined || request.caTtlSeconds !== undefined) {
    targets = []
  } else if (current.authority.automatic && !(request.phase === undefined && request.gracePeriodSeconds === 0)) {
    // Its keys live ca_ttl: a rotation the schedule does not run would leave their ends unwatched
    throw new WidError(
      'bad_input',
      `auth rotate: the ${request.type} CA rotates automatically; turn that off first (--no-automatic) to rotate it by hand, or replace its key now with --grace-period 0s`,
    )
  } else if (request.phase === undefined) {
    if (phase !== 'standby') {
      const way = phase === 'rollback' ? 'end it with --manual --phase standby' : `move it on with --manual --phase ${NEXT[phase][0]}, or roll it back with --manual --phase rollback`
      throw new WidError('bad_input', `auth rotate: a rotation of the ${request.type} CA is already under way (phase ${phase}); ${way}`)
    }
    const grace = request.gracePeriodSeconds ?? DEFAULT_GRACE_PERIOD_SECONDS
    checkGracePeriod(request.type, grace, request.force)
    targets = grace === 0 ? ['init', 'update_clients', 'update_servers', 'standby'] : ['init']
    plan = grace === 0 ? {mode: 'manual'} : {mode: 'semi-automatic', gracePeriodSeconds: grace}
  } else {
    if (request.gracePeriodSeconds !== undefined) throw new WidError('bad_input', 'auth rotate: a grace period is for a semi-automatic rotation; a manual step (a phase) is made when asked')
    if (phase !== 'standby' && (rotating === 'semi-automatic' || rotating === 'automatic') && request.phase !== 'rollback') {
      throw new WidError('bad_input', `auth rotate: the ${request.type} CA is rotating ${rotating}ally (phase ${phase}); it moves on by its schedule, or roll it back with --manual --phase rollback`)
    }
    if (request.phase === 'update_clients') publishedLongEnough(current.authority, now, request.force)
    if (request.phase === 'standby') await noValidSvidsLeft(backend, current.authority, now, request.force)
    targets = [request.phase]
  }
  try {
    if (targets.length === 0) return rotationStatus(await setAutomaticRotation(backend, current, request, now, actor))
    const status = rotationStatus(await writeSteps(backend, current, () => targets.shift(), now, actor, plan))
    const warning = plan.mode === 'semi-automatic' ? await shortGraceWarning(backend, request.type, status) : undefined
    return warning === undefined ? status : {...status, warning}
  } catch (error) {
    if (error instanceof WidError && error.code === 'compare_failed') {
      throw new WidError('compare_failed', `auth rotate: the ${request.type} CA changed while this request was made (another rotation step?); check wid status and try again`)
    }
    throw error
  }
}

export const DEFAULT_GRACE_PERIOD_SECONDS = 48 * 3600

/**
 * Moves each semi-automatic or automatic rotation on when its schedule says so, and starts
 * the automatic rotations that are due. Run by the server every second and by local
 * commands; a step another writer made first is left to it. Overdue phases (no server ran,
 * or none could write) are not taken at once: each phase of a semi-automatic rotation
 * entered late still lasts its third of the grace period, and an automatic rotation's old
 * key is kept the longest SVID TTL after it actually stopped signing, so that it is never
 * dropped while SVIDs it signed may be valid.
 */
export async function advanceRotations(backend: Backend, now: Date): Promise<AuthorityType[]> {
  const moved: AuthorityType[] = []
  for (const type of AUTHORITY_TYPES) {
    const item = await backend.get(authorityKey(type))
    if (!item) continue
    const authority: RotatedAuthority = parseAuthority(item)
    if (duePhase(authority, rotationOf(authority), now) === undefined) continue
    const {phase, mode} = rotationOf(authority)
    const plan: StepPlan =
      phase === 'standby' || mode === 'automatic' ? {mode: 'automatic', longestSvidTtlSeconds: (await longestSvidTtl(backend, svidTypeOf(type))).seconds} : {mode: 'semi-automatic'}
    // Due phases are taken in one write (a semi-automatic rotation's next is a third later); a rotation that ends in it does not start the next
    const next = (current: RotatedAuthority) => (current === authority || rotationOf(current).phase !== 'standby' ? duePhase(current, rotationOf(current), now) : undefined)
    try {
      await writeSteps(backend, {authority, revision: item.revision}, next, now, {actor: 'system:rotation'}, plan)
      moved.push(type)
    } catch (error) {
      if (!(error instanceof WidError) || error.code !== 'compare_failed') throw error
    }
  }
  return moved
}

/**
 * The `spiffe_refresh_hint` to publish: the default, or less while a semi-automatic
 * rotation of the SPIFFE or JWT key has shorter phases, so that relying parties refresh
 * three times before its new key signs.
 */
export function refreshHintSeconds(authorities: CertAuthority[]): number {
  let hint = DEFAULT_REFRESH_HINT_SECONDS
  for (const authority of authorities) {
    const {phase, gracePeriodSeconds} = rotationOf(authority)
    if (phase === 'standby' || gracePeriodSeconds === undefined) continue
    hint = Math.min(hint, Math.max(1, Math.floor(gracePeriodSeconds / 3 / PUBLISH_AHEAD_HINTS)))
  }
  return hint
}
