/**
 * The patterns roles are written in: label values (`*`, exact, `^regex$`), SPIFFE ID paths
 * (exact, `*` glob, `^regex$`) and DNS SANs (`*` globs, case-insensitive).
 */
import {globMatches, parseGlob} from './globs.js'

export const isRegexPattern = (pattern: string): boolean => pattern.length >= 2 && pattern.startsWith('^') && pattern.endsWith('$')

/** The regular expression, or undefined when it does not compile (and then matches nothing). */
export function compileRegex(pattern: string): RegExp | undefined {
  try {
    return new RegExp(pattern)
  } catch {
    return undefined
  }
}

/** Exact, a glob with `*`, or a `^...$` regular expression. */
export function matchSpiffePath(pattern: string, path: string): boolean {
  return isRegexPattern(pattern) ? (compileRegex(pattern)?.test(path) ?? false) : globMatches(parseGlob(pattern), path)
}

/** DNS names compare without regard to case. */
export const matchDnsSan = (pattern: string, san: string): boolean => globMatches(parseGlob(pattern.toLowerCase()), san.toLowerCase())
