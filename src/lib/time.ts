/** Points in time given on the command line: strict RFC 3339 / ISO 8601, with a zone. */
import {badInput} from './errors.js'

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/

export function parseInstant(value: string, what: string): Date {
  const bad = () => badInput(`invalid ${what} "${value}" (expected a time such as 2026-12-01T00:00:00Z)`)
  const match = RFC3339.exec(value)
  if (!match) throw bad()
  const [, year, month, day, hour, minute, second] = match.map(Number) as number[]
  const date = new Date(value)
  // Date rolls 2026-02-30 over to March 2; a calendar date that does not exist is refused.
  const check = new Date(Date.UTC(year!, month! - 1, day!, hour!, minute!, second!))
  if (Number.isNaN(date.getTime()) || check.getUTCMonth() !== month! - 1 || check.getUTCDate() !== day! || hour! > 23 || minute! > 59 || second! > 59) throw bad()
  return date
}
