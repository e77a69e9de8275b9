/**
 * Workload identity rules (DESIGN §4): `spec.rules.allow[]` rules are OR'd, the
 * `conditions[]` of a rule AND'd; no rules at all means anyone may use the identity.
 */
import {WidError} from '../errors.js'
import {checkRulesAt} from '../resources/rules.js'
import type {Condition, WorkloadIdentitySpec} from '../resources/types.js'
import {resolveAttribute, type Attributes, type AttributeValue} from './attributes.js'

type Rules = WorkloadIdentitySpec['rules']

const quote = (value: string): string => JSON.stringify(value)
const quoteAll = (values: string[]): string => `[${values.map(quote).join(', ')}]`

/**
 * Whether a condition holds. Values compare as strings; an unset attribute compares as the
 * empty string, and a multi-valued one holds for eq/in when any value matches, for
 * not_eq/not_in when none does.
 */
function holds(condition: Condition, value: AttributeValue): boolean {
  const actual = value.kind === 'unset' ? [''] : value.kind === 'single' ? [value.value] : value.values
  if (condition.eq) return actual.includes(condition.eq.value)
  if (condition.not_eq) return !actual.includes(condition.not_eq.value)
  if (condition.in) return actual.some((item) => condition.in!.values.includes(item))
  return !actual.some((item) => condition.not_in!.values.includes(item))
}

function describeFailure(condition: Condition, value: AttributeValue): string {
  const actual = value.kind === 'unset' ? 'is not set' : value.kind === 'single' ? `is ${quote(value.value)}` : `is ${quoteAll(value.values)}`
  const subject = `${condition.attribute} ${actual}`
  if (condition.eq) return `${subject}, not ${quote(condition.eq.value)}`
  if (condition.not_eq) return `${subject}, which not_eq ${quote(condition.not_eq.value)} excludes`
  if (condition.in) return `${subject}, not one of ${quoteAll(condition.in.values)}`
  return `${subject}, which not_in ${quoteAll(condition.not_in!.values)} excludes`
}

/**
 * The first condition of a rule that does not hold, described for the admin; undefined when
 * the rule matches. A `workload.*` attribute comes only from an agent's attestation: a
 * condition on one that is not set never holds, not_eq and not_in included, so that a rule
 * such as `workload.unix.uid not_eq 0` does not admit callers nobody attested.
 */
function firstFailure(conditions: Condition[], attributes: Attributes): string | undefined {
  for (const condition of conditions) {
    const value = resolveAttribute(attributes, condition.attribute)
    if (value.kind === 'unset' && condition.attribute.startsWith('workload.')) return `${condition.attribute} is not set (the caller was not attested)`
    if (!holds(condition, value)) return describeFailure(condition, value)
  }
  return undefined
}

/** Refuses (access_denied) unless some rule of workload identity `name` matches the attributes. */
export function evaluateRules(name: string, rules: Rules, attributes: Attributes): void {
  checkRulesAt(rules, `workload identity ${quote(name)}: spec.rules`)
  const allow = rules?.allow ?? []
  if (allow.length === 0) return
  const failures: string[] = []
  for (const [index, rule] of allow.entries()) {
    const failure = firstFailure(rule.conditions ?? [], attributes)
    if (failure === undefined) return
    failures.push(`allow[${index}]: ${failure}`)
  }
  throw new WidError('access_denied', `auth: workload identity ${quote(name)}: no matching rule found (${failures.join('; ')})`)
}

/** The attributes the conditions of the rules refer to, as written, each once. */
export function ruleAttributes(rules: Rules): string[] {
  return [...new Set((rules?.allow ?? []).flatMap((rule) => (rule.conditions ?? []).map((condition) => condition.attribute)))]
}
