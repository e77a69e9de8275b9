/**
 * The regular expressions of roles: a `workload_identity_labels` value or a `spiffe` path
 * written `^...$` (auth/patterns.ts matches them). One that does not compile, or can
 * backtrack catastrophically (regex-safety.ts), is refused when the role is applied; one
 * stored before is never run (see AccessChecker).
 */
import {badInput} from '../errors.js'
import {formatPath, type FieldPath} from './field-path.js'
import {backtrackingHazard} from './regex-safety.js'
import type {LabelValues, Role} from './types.js'

export const isRegexPattern = (pattern: string): boolean => pattern.length >= 2 && pattern.startsWith('^') && pattern.endsWith('$')

/** What is wrong with a `^regex$`, quoting it, or undefined when it may be run. */
export function regexProblem(pattern: string): string | undefined {
  try {
    new RegExp(pattern)
  } catch {
    return `invalid regular expression ${JSON.stringify(pattern)}`
  }
  const hazard = backtrackingHazard(pattern)
  return hazard === undefined ? undefined : `regular expression ${JSON.stringify(pattern)} can backtrack catastrophically (${hazard})`
}

export interface PatternProblem {
  path: FieldPath
  /** `spec.allow.spiffe[0].path` */
  field: string
  side: 'allow' | 'deny'
  problem: string
}

/** Every `^regex$` of the role that may not be run, in document order. */
export function rolePatternProblems(role: Role): PatternProblem[] {
  const problems: PatternProblem[] = []
  const check = (path: FieldPath, side: 'allow' | 'deny', pattern: string) => {
    const problem = isRegexPattern(pattern) ? regexProblem(pattern) : undefined
    if (problem !== undefined) problems.push({path, field: formatPath(path), side, problem})
  }
  for (const side of ['allow', 'deny'] as const) {
    const conditions = role.spec[side]
    for (const [key, values] of Object.entries(conditions?.workload_identity_labels ?? {})) {
      const at: FieldPath = ['spec', side, 'workload_identity_labels', key]
      if (typeof values === 'string') check(at, side, values)
      else values.forEach((value, i) => check([...at, i], side, value))
    }
    conditions?.spiffe?.forEach((entry, i) => check(['spec', side, 'spiffe', i, 'path'], side, entry.path))
  }
  return problems
}

/** The grammar of a `workload_identity_labels` selector: keys, at least one value each, `*` only as `{"*": "*"}`. */
export function checkLabelSelector(selector: Record<string, LabelValues>, field: string): void {
  for (const [key, values] of Object.entries(selector)) {
    const patterns = typeof values === 'string' ? [values] : values
    if (key === '') throw badInput(`auth: ${field}: label key must not be empty`)
    if (patterns.length === 0) throw badInput(`auth: ${field}.${key}: at least one value is required`)
    if (key === '*' && patterns.some((pattern) => pattern !== '*')) throw badInput(`auth: ${field}: the "*" key only takes the value "*"`)
  }
}
