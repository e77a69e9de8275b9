/** Points in time given on the command line: strict RFC 3339 / ISO 8601, with a zone. */
import {parseDuration} from './duration.js'
import {badInput} from './errors.js'

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/

/**
 * Times are kept and compared as RFC 3339 strings with four-digit years (isoString): a time
 * outside the years 1000–9999 would sort wrongly among them, and is refused.
 */
function inYears(date: Date): boolean {
  const year = date.getUTCFullYear()
  return year >= 1000 && year <= 9999
}

export function parseInstant(value: string, what: string): Date {
  const bad = () => badInput(`invalid ${what} "${value}" (expected a time such as 2026-12-01T00:00:00Z)`)
  const match = RFC3339.exec(value)
  if (!match) throw bad()
  const [, year, month, day, hour, minute, second] = match.map(Number) as number[]
  const date = new Date(value)
  // Date rolls 2026-02-30 over to March 2; a calendar date that does not exist is refused.
  const check = new Date(Date.UTC(year!, month! - 1, day!, hour!, minute!, second!))
  if (Number.isNaN(date.getTime()) || !inYears(date) || check.getUTCMonth() !== month! - 1 || check.getUTCDate() !== day! || hour! > 23 || minute! > 59 || second! > 59) throw bad()
  return date
}

/**
 * A point in time given as an RFC 3339 time or as a Go-style duration before `now`
 * (`--since 24h`, `--before 2026-12-01T00:00:00Z`).
 */
export function parseTimeOrAgo(value: string, what: string, now: Date): Date {
  if (/^\s*(?:\d+[hms])+\s*$/.test(value)) {
    const ago = new Date(now.getTime() - parseDuration(value, what) * 1000)
    if (!inYears(ago)) throw badInput(`invalid ${what} "${value}" (too long ago: before the year 1000)`)
    return ago
  }
  if (RFC3339.test(value)) return parseInstant(value, what)
  throw badInput(`invalid ${what} "${value}" (expected a time such as 2026-12-01T00:00:00Z, or a duration ago such as 24h or 90m)`)
}

const TWO_DIGITS = Array.from({length: 100}, (_, i) => String(i).padStart(2, '0'))

/**
 * `Date.prototype.toISOString` for years 1000–9999, built from the UTC fields: about a
 * third of the built-in's cost, which shows on the issuance path (several per SVID).
 */
export function isoString(date: Date): string {
  const year = date.getUTCFullYear()
  if (!(year >= 1000 && year <= 9999)) return date.toISOString()
  const ms = date.getUTCMilliseconds()
  return `${year}-${TWO_DIGITS[date.getUTCMonth() + 1]}-${TWO_DIGITS[date.getUTCDate()]}T${TWO_DIGITS[date.getUTCHours()]}:${TWO_DIGITS[date.getUTCMinutes()]}:${TWO_DIGITS[date.getUTCSeconds()]}.${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z`
}
