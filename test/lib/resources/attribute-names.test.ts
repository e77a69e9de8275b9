import {describe, expect, it} from 'vitest'
import {checkAttributeName} from '../../../src/lib/resources/attribute-names.js'
import {refusal} from '../../helpers/errors.js'

const KNOWN =
  'user.name, user.is_bot, user.bot_name, user.labels.<key>, user.labels["<key>"], user.traits.<key>, user.traits["<key>"], ' +
  'workload.unix.attested, workload.unix.pid, workload.unix.uid, workload.unix.gid, workload.unix.binary_path, workload.unix.binary_hash, ' +
  'join.meta.join_method, join.meta.join_token_name, join.<method>.<field>'

describe('checkAttributeName', () => {
  it.each([
    'user.name',
    'user.is_bot',
    'user.bot_name',
    'user.labels.env',
    'user.labels["teleport.dev/origin"]',
    'user.traits.logins',
    'user.traits["team-name"]',
    'workload.unix.binary_hash',
    'join.meta.join_token_name',
    'join.github.repository_owner',
    'join.kubernetes.service_account',
    'join.kubernetes.service_account.namespace',
    'join.kubernetes.pod.name',
  ])('accepts %s', (name) => {
    // Given a known attribute name
    // When it is checked
    // Then nothing is thrown
    expect(() => checkAttributeName(name)).not.toThrow()
  })

  it.each([
    'user.nmae',
    'user',
    'user.name.first',
    'user.labels',
    'user.labels.',
    'user.labels[env]',
    'user.labels[""]',
    'user.traits.team-name',
    'workload.unix',
    'workload.unix.cmdline',
    'workload.kubernetes.pod_name',
    'join.meta.region',
    'join.GitHub.repository',
    'join.github',
    'join.kubernetes.pod.',
    'join.meta.join_method.x',
    '',
  ])('refuses %j with bad_input naming it', (name) => {
    // Given a name outside the known set
    // When it is checked
    const error = refusal(() => checkAttributeName(name))
    // Then it is bad_input, quoting the name and listing the known names
    expect(error.code).toBe('bad_input')
    expect(error.message).toBe(`auth: unknown attribute ${JSON.stringify(name)} (known: ${KNOWN})`)
  })
})
