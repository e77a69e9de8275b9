/** The attribute set of a caller or workload (src/lib/auth/attributes.ts). */
import {describe, expect, it} from 'vitest'
import {resolveAttribute, type Attributes} from '../../../src/lib/auth/attributes.js'
import {unknownAttribute} from '../../../src/lib/resources/attribute-names.js'
import {refusal} from '../../helpers/errors.js'

const bot: Attributes = {
  user: {
    name: 'bot-ci',
    is_bot: true,
    bot_name: 'ci',
    labels: {env: 'prod', 'team-name': 'payments', blank: ''},
    traits: {logins: ['root', 'ubuntu'], 'team-name': ['payments'], none: [], blanks: ['', 'x']},
  },
  workload: {unix: {attested: true, pid: 4242, uid: 0, gid: 1000, binary_path: '/usr/bin/app'}},
  join: {meta: {join_method: 'token', join_token_name: 'abc123'}, github: {repository: 'acme/app', run_attempt: 2, private: false}},
}

const human: Attributes = {user: {name: 'alice', is_bot: false, labels: {}, traits: {}}}

describe('resolveAttribute', () => {
  it.each([
    ['user.name', 'bot-ci'],
    ['user.is_bot', 'true'],
    ['user.bot_name', 'ci'],
    ['user.labels.env', 'prod'],
    ['user.labels["env"]', 'prod'],
    ['user.labels["team-name"]', 'payments'],
    ['user.traits["team-name"]', 'payments'],
    ['workload.unix.attested', 'true'],
    ['workload.unix.pid', '4242'],
    ['workload.unix.uid', '0'],
    ['workload.unix.gid', '1000'],
    ['workload.unix.binary_path', '/usr/bin/app'],
    ['join.meta.join_method', 'token'],
    ['join.meta.join_token_name', 'abc123'],
    ['join.github.repository', 'acme/app'],
    ['join.github.run_attempt', '2'],
    ['join.github.private', 'false'],
  ])('resolves %s to the single value %j', (name, value) => {
    // Given a bot's attributes with user, workload and join data
    // When the attribute is resolved
    // Then it is one string: booleans as true/false, numbers in decimal
    expect(resolveAttribute(bot, name)).toEqual({kind: 'single', value})
  })

  it('resolves a trait with several values as multi', () => {
    // Given a trait holding two logins
    // When it is resolved
    // Then both values come back
    expect(resolveAttribute(bot, 'user.traits.logins')).toEqual({kind: 'multi', values: ['root', 'ubuntu']})
  })

  it('ignores empty strings among trait values', () => {
    // Given a trait holding an empty string and "x"
    // When it is resolved
    // Then only "x" counts
    expect(resolveAttribute(bot, 'user.traits.blanks')).toEqual({kind: 'single', value: 'x'})
  })

  it.each([
    ['user.bot_name', human],
    ['user.labels.env', human],
    ['user.labels.blank', bot],
    ['user.traits.logins', human],
    ['user.traits.none', bot],
    ['user.labels.constructor', human],
    ['user.traits.toString', human],
    ['workload.unix.attested', human],
    ['workload.unix.binary_hash', bot],
    ['join.meta.join_method', human],
    ['join.github.ref', bot],
    ['join.gitlab.project_path', bot],
    ['join.constructor.name', bot],
  ])('resolves %s as unset when absent or empty', (name, attributes) => {
    // Given attributes without a value (or with an empty one) for the name
    // When it is resolved
    // Then it is unset, never a value inherited from Object.prototype
    expect(resolveAttribute(attributes, name)).toEqual({kind: 'unset'})
  })

  it('refuses an unknown name with bad_input listing the known names', () => {
    // Given a misspelt attribute
    // When it is resolved
    const error = refusal(() => resolveAttribute(bot, 'user.nmae'))
    // Then the refusal names it and lists what exists
    expect(error.code).toBe('bad_input')
    expect(error.message).toBe(`auth: ${unknownAttribute('user.nmae')}`)
  })
})

