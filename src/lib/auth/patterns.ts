/**
 * The patterns roles are written in: label values (`*`, exact, `^regex$`), SPIFFE ID paths
 * (exact, `*` glob, `^regex$`) and DNS SANs (`*` globs, case-insensitive). A `^regex$` that
 * is invalid or can backtrack catastrophically (stored before wid refused such ones) is never
 * run: where it allows, it matches nothing; where it denies, everything.
 */
import {isRegexPattern} from '../resources/role-patterns.js'
import {backtrackingHazard} from '../resources/regex-safety.js'
import {globMatches, parseGlob} from './globs.js'

export {isRegexPattern} from '../resources/role-patterns.js'

/** Which side of a role a pattern is on: an unusable regex fails closed on both. */
export type Side = 'allow' | 'deny'

/** The regular expression, or undefined when it does not compile or could backtrack catastrophically. */
function compileRegex(pattern: string): RegExp | undefined {
  try {
    return backtrackingHazard(pattern) === undefined ? new RegExp(pattern) : undefined
  } catch {
    return undefined
  }
}

export function matchRegex(pattern: string, value: string, side: Side): boolean {
  const regex = compileRegex(pattern)
  return regex === undefined ? side === 'deny' : regex.test(value)
}

/** Exact, a glob with `*`, or a `^...$` regular expression. */
export function matchSpiffePath(pattern: string, path: string, side: Side = 'allow'): boolean {
  return isRegexPattern(pattern) ? matchRegex(pattern, path, side) : globMatches(parseGlob(pattern), path)
}

/** DNS names compare without regard to case. */
export const matchDnsSan = (pattern: string, san: string): boolean => globMatches(parseGlob(pattern.toLowerCase()), san.toLowerCase())
