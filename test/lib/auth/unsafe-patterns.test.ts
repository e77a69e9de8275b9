/**
 * Role regular expressions stored before wid refused those that can backtrack catastrophically
 * (src/lib/auth/access.ts, patterns.ts): issuance does not run them, an allow pattern matches
 * nothing, a deny pattern everything, and refusals name the role and the field.
 */
import {generateKeyPairSync} from 'node:crypto'
import {beforeAll, describe, expect, it} from 'vitest'
import {AuthServer, type Caller} from '../../../src/lib/auth/auth-server.js'
import {initializeCluster} from '../../../src/lib/auth/init.js'
import {MemoryBackend} from '../../../src/lib/backend/memory.js'
import type {Role, RoleConditions, User, WorkloadIdentity} from '../../../src/lib/resources/types.js'
import {putResource} from '../../../src/lib/services/resources.js'
import {rejection} from '../../helpers/errors.js'

const NOW = new Date('2026-11-23T10:00:00Z')
const publicKey = generateKeyPairSync('ec', {namedCurve: 'P-256'}).publicKey.export({type: 'spki', format: 'pem'}) as string
const role = (name: string, allow?: RoleConditions, deny?: RoleConditions): Role => ({
  kind: 'role',
  version: 'v7',
  metadata: {name},
  spec: {...(allow && {allow}), ...(deny && {deny})},
})
const user = (name: string, roles: string[]): User => ({kind: 'user', version: 'v2', metadata: {name}, spec: {roles}, status: {login_id: ''}})
const caller = (name: string): Caller => ({kind: 'user', name})

/** With the backtracking engine, each character more doubles the time these take against the patterns below. */
const SLOW_PATH = `/svc/${'a'.repeat(25)}A`
const SLOW_LABEL = `${'a'.repeat(25)}-`

describe('a role stored with a regular expression that can backtrack catastrophically', () => {
  const backend = new MemoryBackend()
  let auth: AuthServer

  beforeAll(async () => {
    await initializeCluster(backend, {clusterName: 'example.org', defaultClusterName: 'unused', now: NOW})
    auth = await AuthServer.open(backend, () => NOW)
    // Given roles written straight to the store, as an earlier version (or anyone with the database) could
    const identity: WorkloadIdentity = {kind: 'workload_identity', version: 'v1', metadata: {name: 'slow', labels: {team: SLOW_LABEL}}, spec: {spiffe: {id: '/svc/slow'}}}
    await backend.atomicWrite(
      [],
      [
        putResource(role('slow-paths', {spiffe: [{path: '^/svc/([a-z0-9-]+)*$'}]})),
        putResource(role('slow-labels', {workload_identity_labels: {team: ['b', '^([a-z]+)*$']}, rules: [{resources: ['workload_identity'], verbs: ['read', 'list']}]})),
        putResource(role('paths', {spiffe: [{path: '/svc/*'}]})),
        putResource(role('slow-deny', undefined, {spiffe: [{path: '^/svc/(a|a)*$'}]})),
        putResource(user('sam', ['slow-paths'])),
        putResource(user('lea', ['slow-labels'])),
        putResource(user('dan', ['paths', 'slow-deny'])),
        putResource(identity),
      ],
    )
  })

  it('matches nothing as an allow.spiffe path, without running it, and says why', async () => {
    // When sam, whose only entry is the unsafe regex, issues a path built to make it backtrack, and one it would match
    for (const path of [SLOW_PATH, '/svc/api']) {
      const error = await rejection(auth.issueX509Svid(caller('sam'), {path, publicKey}))
      // Then each is refused at once, naming the role, the field and the construct
      expect([error.code, error.message]).toEqual([
        'access_denied',
        `auth: user "sam" may not issue spiffe path ${path}: no role allows it (add a role with allow.spiffe: [{path: ${path}}]); ` +
          'role "slow-paths" spec.allow.spiffe[0].path: regular expression "^/svc/([a-z0-9-]+)*$" can backtrack catastrophically (a repeated group contains a quantifier: ([a-z0-9-]+)*), so it matches nothing until the role is fixed',
      ])
    }
  })

  it('matches nothing as a workload_identity_labels value, against a label a delegated writer chose', async () => {
    // When lea issues from the identity whose label value is built to make her role's regex backtrack
    const error = await rejection(auth.issueJwtSvid(caller('lea'), {name: 'slow', audiences: ['a']}))
    // Then it is refused at once, naming the role and the field
    expect([error.code, error.message]).toEqual([
      'access_denied',
      `auth: user "lea" may not use workload identity "slow": no role's workload_identity_labels match its labels {team: ${SLOW_LABEL}}; ` +
        'role "slow-labels" spec.allow.workload_identity_labels.team[1]: regular expression "^([a-z]+)*$" can backtrack catastrophically (a repeated group contains a quantifier: ([a-z]+)*), so it matches nothing until the role is fixed',
    ])
    // And a listing, which checks every identity against the scope, leaves it out
    expect(await auth.listResources(caller('lea'), 'workload_identity')).toEqual([])
  })

  it('matches everything as a deny.spiffe path: the deny fails closed', async () => {
    // When dan, allowed /svc/* by one role and denied by an unsafe regex in another, issues any path
    const error = await rejection(auth.issueX509Svid(caller('dan'), {path: '/svc/api', publicKey}))
    // Then the deny refuses it, saying why
    expect([error.code, error.message]).toEqual([
      'access_denied',
      'auth: user "dan" may not issue spiffe path /svc/api: denied by role "slow-deny"; ' +
        'role "slow-deny" spec.deny.spiffe[0].path: regular expression "^/svc/(a|a)*$" can backtrack catastrophically (a repeated group has alternatives that do not each start with a different character: (a|a)*), so it matches everything until the role is fixed',
    ])
  })
})
