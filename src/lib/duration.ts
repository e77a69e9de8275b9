/** Go-style durations (`8h`, `90m`, `1h30m`, `45s`) as whole seconds. */
import {badInput} from './errors.js'

const UNIT_SECONDS: Record<string, number> = {h: 3600, m: 60, s: 1}
const DURATION = /^(?:\d+[hms])+$/

export function parseDuration(value: string, what = 'duration'): number {
  const text = value.trim()
  if (!DURATION.test(text)) throw badInput(`invalid ${what} "${value}" (expected a duration such as 8h, 90m or 1h30m)`)
  let seconds = 0
  for (const [, amount, unit] of text.matchAll(/(\d+)([hms])/g)) seconds += Number(amount) * UNIT_SECONDS[unit!]!
  if (seconds <= 0) throw badInput(`invalid ${what} "${value}" (must be greater than zero, e.g. 8h, 90m or 1h30m)`)
  if (!Number.isSafeInteger(seconds)) throw badInput(`invalid ${what} "${value}" (too large)`)
  return seconds
}

/** The shortest Go-style spelling of a whole number of seconds: 3600 → `1h`, 5400 → `1h30m`. */
export function formatDuration(totalSeconds: number): string {
  if (totalSeconds === 0) return '0s'
  const h = Math.floor(totalSeconds / 3600)
  const m = Math.floor((totalSeconds % 3600) / 60)
  const s = totalSeconds % 60
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s ? `${s}s` : ''}`
}

function roughly(seconds: number): string {
  const days = Math.floor(seconds / 86400)
  return days >= 2 ? `${days}d${Math.floor((seconds % 86400) / 3600)}h` : formatDuration(seconds)
}

/** Seconds until an expiry, for people: `7h59m left`, `3d4h left`, `expired 5m ago`. */
export function describeTimeLeft(seconds: number): string {
  return seconds > 0 ? `${roughly(seconds)} left` : `expired ${roughly(-seconds)} ago`
}
