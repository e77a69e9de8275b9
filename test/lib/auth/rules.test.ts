/** Workload identity rules (src/lib/auth/rules.ts). */
import {describe, expect, it} from 'vitest'
import type {Attributes} from '../../../src/lib/auth/attributes.js'
import {evaluateRules, ruleAttributes} from '../../../src/lib/auth/rules.js'
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

  describe('over what the bot agent attested of a workload', () => {
    const attested = (unix: NonNullable<Attributes['workload']>['unix']): Attributes => ({...workload(0), workload: {unix}})
    const uid1000: Rules = {allow: [{conditions: [{attribute: 'workload.unix.uid', eq: {value: '1000'}}]}]}

    it('allows uid 1000 and refuses uid 1001 and a workload with no uid', () => {
      // Given a rule workload.unix.uid == 1000
      // When uid 1000 asks, Then it is allowed
      expect(() => evaluateRules('uid-1000', uid1000, attested({attested: true, uid: 1000}))).not.toThrow()
      // When uid 1001 asks, or a workload whose uid was not attested, or a caller with no workload
      for (const [attributes, failure] of [
        [attested({attested: true, uid: 1001}), 'workload.unix.uid is "1001", not "1000"'],
        [attested({attested: false}), 'workload.unix.uid is not set (the caller was not attested)'],
        [alice, 'workload.unix.uid is not set (the caller was not attested)'],
      ] as const) {
        const error = refusal(() => evaluateRules('uid-1000', uid1000, attributes))
        // Then each is refused, naming the uid it had or that it had none
        expect([error.code, error.message]).toEqual(['access_denied', `auth: workload identity "uid-1000": no matching rule found (allow[0]: ${failure})`])
      }
    })

    it('never lets a condition on an unset workload attribute hold, not_eq and not_in included', () => {
      // Given rules that exclude root by uid, with not_eq and with not_in
      for (const condition of [{attribute: 'workload.unix.uid', not_eq: {value: '0'}}, {attribute: 'workload.unix.uid', not_in: {values: ['0']}}]) {
        const rules: Rules = {allow: [{conditions: [condition]}]}
        // When an attested uid 1000 asks, Then it is allowed
        expect(() => evaluateRules('not-root', rules, attested({attested: true, uid: 1000}))).not.toThrow()
        // When a caller nobody attested asks (a file output, a TCP caller), Then it is refused
        const error = refusal(() => evaluateRules('not-root', rules, alice))
        expect(error.message).toBe('auth: workload identity "not-root": no matching rule found (allow[0]: workload.unix.uid is not set (the caller was not attested))')
      }
    })

    it('matches gid, binary_path and attested as their text', () => {
      // Given a rule over the group, the binary and the attestation
      const rules: Rules = {
        allow: [
          {
            conditions: [
              {attribute: 'workload.unix.attested', eq: {value: 'true'}},
              {attribute: 'workload.unix.gid', in: {values: ['50', '60']}},
              {attribute: 'workload.unix.binary_path', eq: {value: '/usr/bin/app'}},
            ],
          },
        ],
      }
      // When a workload in group 50 running /usr/bin/app asks, Then it matches
      expect(() => evaluateRules('gid', rules, attested({attested: true, gid: 50, binary_path: '/usr/bin/app'}))).not.toThrow()
      // When group 51 asks, Then it is refused at the gid
      const error = refusal(() => evaluateRules('gid', rules, attested({attested: true, gid: 51, binary_path: '/usr/bin/app'})))
      expect(error.message).toBe('auth: workload identity "gid": no matching rule found (allow[0]: workload.unix.gid is "51", not one of ["50", "60"])')
    })
  })
})

describe('ruleAttributes', () => {
  it('lists each attribute the conditions refer to once, in order of appearance', () => {
    const rules: Rules = {
      allow: [
        {conditions: [{attribute: 'workload.unix.uid', eq: {value: '0'}}, {attribute: 'user.name', eq: {value: 'a'}}]},
        {},
        {conditions: [{attribute: 'user.name', not_eq: {value: 'b'}}, {attribute: 'workload.unix.gid', in: {values: ['1']}}]},
      ],
    }
    expect(ruleAttributes(rules)).toEqual(['workload.unix.uid', 'user.name', 'workload.unix.gid'])
    expect(ruleAttributes(undefined)).toEqual([])
  })
})
