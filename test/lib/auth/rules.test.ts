/** Workload identity rules (src/lib/auth/rules.ts). */
import {describe, expect, it} from 'vitest'
import type {Attributes} from '../../../src/lib/auth/attributes.js'
import {evaluateRules} from '../../../src/lib/auth/rules.js'
import {unknownAttribute} from '../../../src/lib/resources/attribute-names.js'
import type {Condition, WorkloadIdentitySpec} from '../../../src/lib/resources/types.js'
import {refusal} from '../../helpers/errors.js'

type Rules = WorkloadIdentitySpec['rules']

const user = (name: string, traits: Record<string, string[]> = {}): Attributes => ({user: {name, is_bot: false, labels: {}, traits}})
const alice = user('alice')
const bob = user('bob')
const workload = (uid: number): Attributes => ({user: {name: 'bot-agent', is_bot: true, bot_name: 'agent', labels: {}, traits: {}}, workload: {unix: {attested: true, uid}}})

describe('evaluateRules', () => {
  it.each<[string, Rules]>([
    ['no rules', undefined],
    ['no allow list', {}],
    ['an empty allow list', {allow: []}],
    ['a rule without conditions', {allow: [{}]}],
    ['a rule with an empty condition list', {allow: [{conditions: []}]}],
  ])('allows anyone with %s', (_, rules) => {
    // Given a workload identity with no effective restriction
    // When bob asks for it
    // Then it is allowed
    expect(() => evaluateRules('open', rules, bob)).not.toThrow()
  })

  it('allows the user a user.name condition names and refuses another with "no matching rule found"', () => {
    // Given a rule that only alice matches
    const rules: Rules = {allow: [{conditions: [{attribute: 'user.name', eq: {value: 'alice'}}]}]}
    // When alice asks, Then she is allowed
    expect(() => evaluateRules('alice-only', rules, alice)).not.toThrow()
    // When bob asks
    const error = refusal(() => evaluateRules('alice-only', rules, bob))
    // Then he is refused, and the message shows the condition he failed
    expect(error.code).toBe('access_denied')
    expect(error.message).toBe('auth: workload identity "alice-only": no matching rule found (allow[0]: user.name is "bob", not "alice")')
  })

  it('ORs rules and ANDs the conditions of a rule', () => {
    // Given two rules: the agent bot at uid 1000, or anything at uid 0
    const rules: Rules = {
      allow: [
        {
          conditions: [
            {attribute: 'user.bot_name', eq: {value: 'agent'}},
            {attribute: 'workload.unix.uid', eq: {value: '1000'}},
          ],
        },
        {conditions: [{attribute: 'workload.unix.uid', eq: {value: '0'}}]},
      ],
    }
    // When uid 1000 or uid 0 asks, Then each matches one rule
    expect(() => evaluateRules('agent', rules, workload(1000))).not.toThrow()
    expect(() => evaluateRules('agent', rules, workload(0))).not.toThrow()
    // When uid 33 asks
    const error = refusal(() => evaluateRules('agent', rules, workload(33)))
    // Then neither rule matches, and the first failing condition of each is shown
    expect(error.code).toBe('access_denied')
    expect(error.message).toBe(
      'auth: workload identity "agent": no matching rule found (allow[0]: workload.unix.uid is "33", not "1000"; allow[1]: workload.unix.uid is "33", not "0")',
    )
  })

  it.each<[string, Condition, Attributes, string | undefined]>([
    ['eq matches', {attribute: 'user.name', eq: {value: 'alice'}}, alice, undefined],
    ['eq differs', {attribute: 'user.name', eq: {value: 'alice'}}, bob, 'user.name is "bob", not "alice"'],
    ['eq "" matches unset', {attribute: 'user.bot_name', eq: {value: ''}}, alice, undefined],
    ['eq on unset', {attribute: 'user.bot_name', eq: {value: 'ci'}}, alice, 'user.bot_name is not set, not "ci"'],
    ['eq on a boolean', {attribute: 'user.is_bot', eq: {value: 'false'}}, alice, undefined],
    ['not_eq differs', {attribute: 'user.name', not_eq: {value: 'bob'}}, alice, undefined],
    ['not_eq equal', {attribute: 'user.name', not_eq: {value: 'bob'}}, bob, 'user.name is "bob", which not_eq "bob" excludes'],
    ['not_eq matches unset', {attribute: 'user.bot_name', not_eq: {value: 'ci'}}, alice, undefined],
    ['not_eq "" on unset', {attribute: 'user.bot_name', not_eq: {value: ''}}, alice, 'user.bot_name is not set, which not_eq "" excludes'],
    ['in contains', {attribute: 'user.name', in: {values: ['alice', 'carol']}}, alice, undefined],
    ['in lacks', {attribute: 'user.name', in: {values: ['alice', 'carol']}}, bob, 'user.name is "bob", not one of ["alice", "carol"]'],
    ['in "" matches unset', {attribute: 'user.bot_name', in: {values: ['', 'ci']}}, alice, undefined],
    ['not_in lacks', {attribute: 'user.name', not_in: {values: ['bob', 'carol']}}, alice, undefined],
    ['not_in contains', {attribute: 'user.name', not_in: {values: ['bob', 'carol']}}, bob, 'user.name is "bob", which not_in ["bob", "carol"] excludes'],
    ['not_in matches unset', {attribute: 'user.bot_name', not_in: {values: ['ci']}}, alice, undefined],
    ['eq on a multi-valued trait, one value equal', {attribute: 'user.traits.logins', eq: {value: 'root'}}, user('dave', {logins: ['root', 'ubuntu']}), undefined],
    [
      'not_eq on a multi-valued trait, one value equal',
      {attribute: 'user.traits.logins', not_eq: {value: 'root'}},
      user('dave', {logins: ['root', 'ubuntu']}),
      'user.traits.logins is ["root", "ubuntu"], which not_eq "root" excludes',
    ],
  ])('%s', (_, condition, attributes, failure) => {
    // Given one rule with one condition
    const rules: Rules = {allow: [{conditions: [condition]}]}
    // When the caller's attributes are evaluated
    const evaluate = () => evaluateRules('wi', rules, attributes)
    // Then it is allowed, or refused naming the failed condition
    if (failure === undefined) {
      expect(evaluate).not.toThrow()
    } else {
      const error = refusal(evaluate)
      expect(error.code).toBe('access_denied')
      expect(error.message).toBe(`auth: workload identity "wi": no matching rule found (allow[0]: ${failure})`)
    }
  })

  it('refuses an unknown attribute with bad_input naming the identity and the condition', () => {
    // Given a stored rule with a misspelt attribute
    const rules: Rules = {allow: [{conditions: [{attribute: 'user.name', eq: {value: 'alice'}}, {attribute: 'user.nmae', eq: {value: 'alice'}}]}]}
    // When it is evaluated
    const error = refusal(() => evaluateRules('typo', rules, alice))
    // Then it is bad_input, not a silent refusal
    expect(error.code).toBe('bad_input')
    expect(error.message).toBe(`auth: workload identity "typo": spec.rules.allow[0].conditions[1]: ${unknownAttribute('user.nmae')}`)
  })
})

