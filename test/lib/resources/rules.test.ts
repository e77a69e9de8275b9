import {describe, expect, it} from 'vitest'
import {unknownAttribute} from '../../../src/lib/resources/attribute-names.js'
import {checkRules} from '../../../src/lib/resources/rules.js'
import type {Condition, WorkloadIdentitySpec} from '../../../src/lib/resources/types.js'
import {refusal} from '../../helpers/errors.js'

type Rules = WorkloadIdentitySpec['rules']

describe('checkRules', () => {
  it('accepts rules with one operator and values per condition', () => {
    // Given well-formed rules using every operator
    const rules: Rules = {
      allow: [
        {
          conditions: [
            {attribute: 'user.name', eq: {value: ''}},
            {attribute: 'user.bot_name', not_eq: {value: 'x'}},
            {attribute: 'workload.unix.uid', in: {values: ['0']}},
            {attribute: 'join.github.repository', not_in: {values: ['a/b']}},
          ],
        },
        {},
      ],
    }
    // When they are checked, Then nothing is thrown
    expect(() => checkRules(rules)).not.toThrow()
    expect(() => checkRules(undefined)).not.toThrow()
  })

  it.each<[string, Condition, string]>([
    ['no operator', {attribute: 'user.name'}, 'exactly one of eq, not_eq, in, not_in is required'],
    ['two operators', {attribute: 'user.name', eq: {value: 'a'}, in: {values: ['a']}}, 'exactly one of eq, not_eq, in, not_in is required'],
    ['no attribute', {attribute: '', eq: {value: 'a'}}, 'attribute is required'],
    ['an unknown attribute', {attribute: 'user.nmae', eq: {value: 'a'}}, unknownAttribute('user.nmae')],
    ['eq without a value', {attribute: 'user.name', eq: {} as {value: string}}, 'eq.value is required'],
    ['not_eq without a value', {attribute: 'user.name', not_eq: {} as {value: string}}, 'not_eq.value is required'],
    ['in without values', {attribute: 'user.name', in: {} as {values: string[]}}, 'in.values must list at least one value'],
    ['not_in with no values', {attribute: 'user.name', not_in: {values: []}}, 'not_in.values must list at least one value'],
  ])('refuses a condition with %s, naming its path', (_, condition, problem) => {
    // Given the second condition of the second rule is malformed
    const rules: Rules = {allow: [{}, {conditions: [{attribute: 'user.name', eq: {value: 'alice'}}, condition]}]}
    // When the rules are checked at create time
    const error = refusal(() => checkRules(rules))
    // Then it is bad_input naming the condition's path and what is wrong
    expect(error.code).toBe('bad_input')
    expect(error.message).toBe(`auth: spec.rules.allow[1].conditions[1]: ${problem}`)
  })
})
