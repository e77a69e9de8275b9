/** Delegated writes through AuthServer (src/lib/auth/admin.ts): what a team scoped by labels and SPIFFE IDs may do. */
import {generateKeyPairSync} from 'node:crypto'
import {beforeAll, describe, expect, it} from 'vitest'
import {AuthServer, type Caller} from '../../../src/lib/auth/auth-server.js'
import {initializeCluster} from '../../../src/lib/auth/init.js'
import type {Item} from '../../../src/lib/backend/backend.js'
import {MemoryBackend} from '../../../src/lib/backend/memory.js'
import type {Role, User, WorkloadIdentity, WorkloadIdentitySpec} from '../../../src/lib/resources/types.js'
import {putResource, resourceKey} from '../../../src/lib/services/resources.js'
import {rejection} from '../../helpers/errors.js'

const admin: Caller = {kind: 'admin', name: 'root'}
const tara: Caller = {kind: 'user', name: 'tara'}
const NOW = new Date('2026-11-23T10:00:00Z')
const publicKey = generateKeyPairSync('ec', {namedCurve: 'P-256'}).publicKey.export({type: 'spki', format: 'pem'}) as string

const identity = (name: string, team: string, spiffe: WorkloadIdentitySpec['spiffe']): WorkloadIdentity => ({
  kind: 'workload_identity',
  version: 'v1',
  metadata: {name, labels: {team}},
  spec: {spiffe},
})

const teamAdmin: Role = {
  kind: 'role',
  version: 'v7',
  metadata: {name: 'team-a-admin'},
  spec: {
    allow: {
      workload_identity_labels: {team: ['a']},
      rules: [{resources: ['workload_identity'], verbs: ['list', 'read', 'create', 'update', 'delete']}],
      spiffe: [{path: '/svc/team-a/*', dns_sans: ['*.team-a.internal']}],
    },
    deny: {spiffe: [{path: '/svc/break-glass/*'}]},
  },
}

/** A store where someone else changes a key right after a reader got it (the reader keeps what it read). */
class InterleavingBackend extends MemoryBackend {
  private readonly hooks = new Map<string, () => Promise<void>>()

  afterNextGet(key: string, hook: () => Promise<void>): void {
    this.hooks.set(key, hook)
  }

  override async get(key: string): Promise<Item | undefined> {
    const item = await super.get(key)
    const hook = this.hooks.get(key)
    this.hooks.delete(key)
    await hook?.()
    return item
  }
}

describe('a team scoped to team: a and /svc/team-a/*', () => {
  const backend = new InterleavingBackend()
  let auth: AuthServer

  beforeAll(async () => {
    await initializeCluster(backend, {clusterName: 'example.org', defaultClusterName: 'unused', now: NOW})
    auth = await AuthServer.open(backend, () => NOW)
    const user: User = {kind: 'user', version: 'v2', metadata: {name: 'tara'}, spec: {roles: ['team-a-admin']}, status: {login_id: ''}}
    await backend.atomicWrite([], [putResource(teamAdmin), putResource(user)])
    // The admin (never fenced) defines team b's identity, and one labelled team: a whose ID the team is denied
    await auth.applyResource(admin, identity('team-b-api', 'b', {id: '/svc/team-b/api'}), 'create')
    const breakGlass = identity('break-glass', 'a', {id: '/svc/break-glass/team-a', x509: {maximum_ttl: '336h'}})
    await auth.applyResource(admin, {...breakGlass, metadata: {name: 'break-glass', labels: {team: 'a', purpose: 'break-glass'}}}, 'create')
  })

  const refused = async (promise: Promise<unknown>, message: string) => {
    const error = await rejection(promise)
    expect([error.code, error.message]).toEqual(['access_denied', message])
  }

  it('creates, updates, reads, lists, issues and deletes its own identities', async () => {
    // When tara creates an identity within her scope, and updates it
    expect(await auth.applyResource(tara, identity('team-a-api', 'a', {id: '/svc/team-a/api', x509: {dns_sans: ['api.team-a.internal']}}), 'create')).toBe('created')
    expect(await auth.applyResource(tara, identity('team-a-api', 'a', {id: '/svc/team-a/{{ user.name }}'}), 'upsert')).toBe('updated')
    // Then she reads it, lists only her team's, and issues from it
    expect((await auth.getResource(tara, 'workload_identity', 'team-a-api')).metadata.name).toBe('team-a-api')
    expect((await auth.listResources(tara, 'workload_identity')).map((r) => r.metadata.name).sort()).toEqual(['break-glass', 'team-a-api'])
    expect((await auth.issueX509Svid(tara, {name: 'team-a-api', publicKey})).spiffeId).toBe('spiffe://example.org/svc/team-a/tara')
    // And she deletes it
    await auth.deleteResource(tara, 'workload_identity', 'team-a-api')
  })

  it('refuses to create an identity labelled team: b', async () => {
    await refused(
      auth.applyResource(tara, identity('evil', 'b', {id: '/svc/team-a/evil'}), 'create'),
      'auth: user "tara" may not create workload_identity "evil": no role\'s workload_identity_labels match its labels {team: b}',
    )
  })

  it('refuses to relabel its own identity to team: b', async () => {
    // Given tara's identity
    await auth.applyResource(tara, identity('mine', 'a', {id: '/svc/team-a/mine'}), 'create')
    // When she moves it to team b (with --force, or an edit at its revision), Then it is refused
    const message = 'auth: user "tara" may not update workload_identity "mine": no role\'s workload_identity_labels match its new labels {team: b}'
    await refused(auth.applyResource(tara, identity('mine', 'b', {id: '/svc/team-a/mine'}), 'upsert'), message)
    const {revision} = (await auth.getResource(tara, 'workload_identity', 'mine')).metadata
    await refused(auth.applyResource(tara, identity('mine', 'b', {id: '/svc/team-a/mine'}), {revision: revision!}), message)
  })

  it('refuses an overwrite (--force) when the identity was moved out of its scope after it was checked', async () => {
    // Given tara's identity, which the admin moves to team b just after tara's write has read it
    await auth.applyResource(tara, identity('raced', 'a', {id: '/svc/team-a/raced'}), 'create')
    backend.afterNextGet(resourceKey('workload_identity', 'raced'), async () => {
      await auth.applyResource(admin, identity('raced', 'b', {id: '/svc/team-b/raced'}), 'upsert')
    })
    // When tara overwrites it, Then the write finds another revision than the one checked and is refused
    const error = await rejection(auth.applyResource(tara, identity('raced', 'a', {id: '/svc/team-a/raced'}), 'upsert'))
    expect([error.code, error.message]).toEqual(['compare_failed', 'workload_identity "raced" was changed by someone else meanwhile; read it again and retry'])
    // And team b's identity is as the admin left it
    expect((await auth.getResource(admin, 'workload_identity', 'raced')).metadata.labels).toEqual({team: 'b'})
  })

  it('refuses to overwrite, read or delete a team: b identity', async () => {
    const current = 'no role\'s workload_identity_labels match its current labels {team: b}'
    await refused(auth.applyResource(tara, identity('team-b-api', 'a', {id: '/svc/team-a/x'}), 'upsert'), `auth: user "tara" may not update workload_identity "team-b-api": ${current}`)
    await refused(auth.getResource(tara, 'workload_identity', 'team-b-api'), 'auth: user "tara" may not read workload_identity "team-b-api": no role\'s workload_identity_labels match its labels {team: b}')
    await refused(auth.deleteResource(tara, 'workload_identity', 'team-b-api'), 'auth: user "tara" may not delete workload_identity "team-b-api": no role\'s workload_identity_labels match its labels {team: b}')
    // And team b's identity is as the admin wrote it
    expect((await auth.getResource(admin, 'workload_identity', 'team-b-api')).metadata.labels).toEqual({team: 'b'})
  })

  it.each([
    ['/svc/prod-db', 'it'],
    ['/svc/team-b/api', 'it'],
    ['/svc/team-a{{ user.name }}', 'every rendering of it'],
  ])('refuses the SPIFFE ID %j', async (id, what) => {
    await refused(
      auth.applyResource(tara, identity('claim', 'a', {id}), 'create'),
      `auth: user "tara" may not set spec.spiffe.id ${JSON.stringify(id)} on workload_identity "claim": no allow.spiffe entry of a role that lets it create this identity covers ${what} (team-a-admin allows /svc/team-a/*)`,
    )
  })

  it('refuses a DNS SAN outside the entry and a maximum_ttl above 24h', async () => {
    await refused(
      auth.applyResource(tara, identity('claim', 'a', {id: '/svc/team-a/db', x509: {dns_sans: ['db.prod.internal']}}), 'create'),
      'auth: user "tara" may not set spec.spiffe.x509.dns_sans[0] "db.prod.internal" on workload_identity "claim": no allow.spiffe entry covering its spec.spiffe.id allows it (team-a-admin allows dns_sans *.team-a.internal for /svc/team-a/*)',
    )
    await refused(
      auth.applyResource(tara, identity('claim', 'a', {id: '/svc/team-a/db', x509: {maximum_ttl: '336h'}}), 'create'),
      'auth: user "tara" may not set spec.spiffe.x509.maximum_ttl "336h" on workload_identity "claim": a role holder may set at most 24h (the cap of issuance by path); only the local admin (wid create on the cluster\'s host) may set more, up to 336h',
    )
  })

  it('refuses an SVID whose ID a deny.spiffe path of its roles matches, even from an identity in its scope', async () => {
    // Given break-glass, labelled team: a by the admin, When tara issues from it, Then the deny wins (X.509 and JWT)
    const message = 'auth: user "tara" may not issue spiffe path /svc/break-glass/team-a from workload identity "break-glass": denied by role "team-a-admin"'
    await refused(auth.issueX509Svid(tara, {name: 'break-glass', publicKey}), message)
    await refused(auth.issueJwtSvid(tara, {name: 'break-glass', audiences: ['a']}), message)
    // And by labels, where it is the only match
    const byLabels = await rejection(auth.issueJwtSvid(tara, {labels: {purpose: 'break-glass'}, audiences: ['a']}))
    expect(byLabels.message).toContain('from workload identity "break-glass": denied by role "team-a-admin"')
    // And the admin, who is never fenced, gets it
    expect((await auth.issueX509Svid(admin, {name: 'break-glass', publicKey})).spiffeId).toBe('spiffe://example.org/svc/break-glass/team-a')
  })
})
