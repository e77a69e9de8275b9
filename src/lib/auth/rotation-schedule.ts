/**
 * When a scheduled rotation moves on (rotation.ts makes the steps): a semi-automatic one by
 * thirds of its grace period, an automatic one by its CA's policy (rotation-policy.ts).
 */
import type {AuthorityKey} from '../services/authorities.js'
import {isoString} from '../time.js'
import {activatesAt, preparesAt, retiresAt, type AutomaticRotation} from './rotation-policy.js'
import type {RotatedAuthority, Rotation, RotationPhase} from './rotation.js'

/** The scheduled phases of a rotation, in order. */
const SCHEDULED = ['update_clients', 'update_servers', 'standby'] as const
export type Schedule = Record<(typeof SCHEDULED)[number], string>

/** The schedule once `entered` began at `now`: each later phase no sooner than its third of the grace period after the one before. */
export function rescheduled(rotation: Rotation, entered: RotationPhase, now: Date): Schedule {
  const schedule = {...rotation.schedule!}
  const third = ((rotation.gracePeriodSeconds ?? 0) * 1000) / 3
  let earliest = now.getTime()
  for (const phase of SCHEDULED.slice(SCHEDULED.indexOf(entered as (typeof SCHEDULED)[number]) + 1)) {
    earliest = Math.max(Date.parse(schedule[phase]), earliest + third)
    schedule[phase] = isoString(new Date(earliest))
  }
  return schedule
}

export function scheduleFrom(start: Date, gracePeriodSeconds: number): Schedule {
  const at = (thirds: number) => isoString(new Date(start.getTime() + Math.round((gracePeriodSeconds * 1000 * thirds) / 3)))
  return {update_clients: at(1), update_servers: at(2), standby: at(3)}
}

/** An automatic rotation's schedule from its init at `now`: the new key signs at five sixths of the old one's life, which is dropped when its SVIDs have expired. */
export function automaticSchedule(current: AuthorityKey, policy: AutomaticRotation, now: Date, longestSvidTtlSeconds: number): Schedule {
  const activates = activatesAt(current, policy, now.getTime())
  const at = isoString(new Date(activates))
  return {update_clients: at, update_servers: at, standby: isoString(new Date(retiresAt(current, activates, longestSvidTtlSeconds)))}
}

/**
 * The step a CA (in `rotation`) is due to make by `now`: a scheduled rotation's next phase,
 * or, between rotations, the init of an automatic one once its signing key is half way
 * through its life.
 */
export function duePhase(authority: RotatedAuthority, rotation: Rotation, now: Date): RotationPhase | undefined {
  const {phase, mode, schedule} = rotation
  if (phase === 'standby') return authority.automatic && preparesAt(authority.activeKeys[0]!, authority.automatic) <= now.getTime() ? 'init' : undefined
  if ((mode !== 'semi-automatic' && mode !== 'automatic') || !schedule || phase === 'rollback') return undefined
  const next = SCHEDULED[SCHEDULED.indexOf(phase as (typeof SCHEDULED)[number]) + 1]!
  return Date.parse(schedule[next]) <= now.getTime() ? next : undefined
}
