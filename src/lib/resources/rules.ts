/**
 * The grammar of workload identity rules (DESIGN §4): each condition names a known
 * attribute and exactly one operator with its value(s). auth/rules.ts evaluates them.
 */
import {badInput} from '../errors.js'
import {isKnownAttribute, unknownAttribute} from './attribute-names.js'
import type {Condition, WorkloadIdentitySpec} from './types.js'

type Rules = WorkloadIdentitySpec['rules']

const OPERATORS = ['eq', 'not_eq', 'in', 'not_in'] as const

function checkCondition(condition: Condition, where: string): void {
  const operators = OPERATORS.filter((operator) => condition[operator] !== undefined)
  if (operators.length !== 1) throw badInput(`auth: ${where}: exactly one of ${OPERATORS.join(', ')} is required`)
  if (!condition.attribute) throw badInput(`auth: ${where}: attribute is required`)
  if (!isKnownAttribute(condition.attribute)) throw badInput(`auth: ${where}: ${unknownAttribute(condition.attribute)}`)
  const operator = operators[0]!
  if (operator === 'eq' || operator === 'not_eq') {
    if (typeof condition[operator]?.value !== 'string') throw badInput(`auth: ${where}: ${operator}.value is required`)
  } else if (!Array.isArray(condition[operator]?.values) || condition[operator].values.length === 0) {
    throw badInput(`auth: ${where}: ${operator}.values must list at least one value`)
  }
}

export function checkRulesAt(rules: Rules, where: string): void {
  for (const [index, rule] of (rules?.allow ?? []).entries()) {
    for (const [position, condition] of (rule.conditions ?? []).entries()) {
      checkCondition(condition, `${where}.allow[${index}].conditions[${position}]`)
    }
  }
}

/** Create-time validation: every condition has one operator with its value(s) and a known attribute. */
export function checkRules(rules: Rules): void {
  checkRulesAt(rules, 'spec.rules')
}
