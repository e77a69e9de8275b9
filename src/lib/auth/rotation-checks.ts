/**
 * The waits of a rotation, one rule each, whoever asks (the CLI, the API, the schedules): a
 * new SPIFFE or JWT key is published long enough before it signs, and a key that signed is
 * dropped only once no SVID it signed can be valid.
 */
import type {Backend} from '../backend/backend.js'
import {DEFAULT_REFRESH_HINT_SECONDS} from '../bundle/spiffe-bundle.js'
import {formatDuration} from '../duration.js'
import {WidError} from '../errors.js'
import type {AuthorityType} from '../services/authorities.js'
import {isoString} from '../time.js'
import {PUBLISH_AHEAD_HINTS, svidTypeOf} from './rotation-policy.js'
import {rotationOf, type RotatedAuthority, type RotationStatus} from './rotation.js'
import {longestSvidTtl} from './workload-issuance.js'

/**
 * How long a new SPIFFE or JWT key is published before it signs. A relying party that fetched
 * just before init was told to come back after the default hint, whatever is published later.
 */
const PUBLISH_AHEAD_SECONDS = PUBLISH_AHEAD_HINTS * DEFAULT_REFRESH_HINT_SECONDS
/** The longest grace period: a year. */
export const MAX_GRACE_PERIOD_SECONDS = 365 * 24 * 3600

/** A grace period the library accepts, whoever asks (the API's schema and the CLI check the same bounds). */
export function checkGracePeriod(type: AuthorityType, seconds: number, force: boolean | undefined): void {
  if (!Number.isSafeInteger(seconds) || seconds < 0 || seconds > MAX_GRACE_PERIOD_SECONDS) {
    throw new WidError('bad_input', `auth rotate: the grace period must be a whole number of seconds from 0 to ${MAX_GRACE_PERIOD_SECONDS} (a year)`)
  }
  if (seconds === 0 || force || type === 'host' || type === 'client' || seconds / 3 >= PUBLISH_AHEAD_SECONDS) return
  throw new WidError(
    'bad_input',
    `auth rotate: with a grace period of ${formatDuration(seconds)} the new ${type} key would sign after ${formatDuration(Math.round(seconds / 3))}, before relying parties that refresh every ${DEFAULT_REFRESH_HINT_SECONDS} s have fetched it three times (${formatDuration(PUBLISH_AHEAD_SECONDS * 3)} or more is safe); --force accepts it`,
  )
}

/**
 * A manual rotation's new SPIFFE or JWT key signs only once relying parties that refresh
 * every `spiffe_refresh_hint` have had three chances to fetch it; `--force` skips the wait
 * (they may then reject SVIDs of the new key until they refresh).
 */
export function publishedLongEnough(authority: RotatedAuthority, now: Date, force: boolean | undefined): void {
  const rotation = rotationOf(authority)
  if (force || authority.type === 'host' || authority.type === 'client' || rotation.phase !== 'init' || !rotation.started) return
  const ready = Date.parse(rotation.started) + PUBLISH_AHEAD_SECONDS * 1000
  if (now.getTime() < ready) {
    const wait = Math.ceil((ready - now.getTime()) / 1000)
    throw new WidError(
      'bad_input',
      `auth rotate: the new ${authority.type} key was published at ${rotation.started}; relying parties refresh every ${DEFAULT_REFRESH_HINT_SECONDS} s, so it signs from ${isoString(new Date(ready))} (in ${formatDuration(wait)}); --force moves on now`,
    )
  }
}

/**
 * A SPIFFE or JWT key that signed is dropped (standby) only once no SVID it signed can still
 * be valid: the longest SVID TTL the cluster issues (by path, or a workload
 * identity's maximum_ttl) after it stopped signing (the federation spec's rule for retiring keys); `--force` drops it sooner, and those SVIDs stop verifying.
 */
export async function noValidSvidsLeft(backend: Backend, authority: RotatedAuthority, now: Date, force: boolean | undefined): Promise<void> {
  const rotation = rotationOf(authority)
  if (force || authority.type === 'host' || authority.type === 'client' || !rotation.retired) return
  const dropped = rotation.phase === 'rollback' ? rotation.nextKey : rotation.previousKey
  if (rotation.retired.key !== dropped) return
  const longest = await longestSvidTtl(backend, svidTypeOf(authority.type))
  const safe = Date.parse(rotation.retired.signedUntil) + longest.seconds * 1000
  if (now.getTime() < safe) {
    throw new WidError(
      'bad_input',
      `auth rotate: the ${rotation.phase === 'rollback' ? 'new' : 'old'} ${authority.type} key signed SVIDs until ${rotation.retired.signedUntil}, which may be valid until ${isoString(new Date(safe))} (${longest.source}: ${formatDuration(longest.seconds)}), in ${formatDuration(Math.ceil((safe - now.getTime()) / 1000))}; standby then, or --force drops the key now and they stop verifying`,
    )
  }
}


/** What a semi-automatic schedule too short for the SVIDs the old key signs would cut short, said when it starts. */
export async function shortGraceWarning(backend: Backend, type: AuthorityType, status: RotationStatus): Promise<string | undefined> {
  if ((type !== 'spiffe' && type !== 'jwt') || !status.schedule) return undefined
  const {update_clients: clients, standby} = status.schedule
  const longest = await longestSvidTtl(backend, svidTypeOf(type))
  if (Date.parse(standby) - Date.parse(clients) >= longest.seconds * 1000) return undefined
  return `SVIDs the old key signs until ${clients} may be valid for ${formatDuration(longest.seconds)} after (${longest.source}); those still valid at standby (${standby}) stop verifying; a grace period of ${formatDuration(Math.ceil((longest.seconds * 3) / 2))} or more avoids it`
}
