/**
 * copyStore (src/lib/backend/copy.ts): a whole cluster copied from one store into an empty
 * PostgreSQL database, all or nothing, its revisions kept. A throwaway PostgreSQL server for
 * the file, a new database for each test; the source is a MemoryBackend with a real cluster.
 */
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'
import {AuthServer, type Caller} from '../../../src/lib/auth/auth-server.js'
import {initializeCluster} from '../../../src/lib/auth/init.js'
import {putItem} from '../../../src/lib/backend/backend.js'
import {copyStore} from '../../../src/lib/backend/copy.js'
import {MemoryBackend} from '../../../src/lib/backend/memory.js'
import {PostgresBackend} from '../../../src/lib/backend/postgres.js'
import {authorityKey} from '../../../src/lib/services/authorities.js'
import {rejection} from '../../helpers/errors.js'
import {startPostgres, type TestPostgres} from '../../helpers/postgres.js'

const admin: Caller = {kind: 'admin', name: 'root'}
const NOW = new Date('2026-11-23T10:00:00Z')

let server: TestPostgres
const opened: PostgresBackend[] = []

beforeAll(async () => {
  server = await startPostgres()
})
afterEach(async () => {
  for (const backend of opened.splice(0)) await backend.close()
})
afterAll(async () => {
  await server?.destroy()
})

async function emptyDatabase(): Promise<PostgresBackend> {
  const backend = await PostgresBackend.open(await server.createDatabase())
  opened.push(backend)
  return backend
}

/** A cluster with a bot, its join token, a user and their audit events, whose authorities were rewritten after many writes (as a rotation does). */
async function embeddedCluster(): Promise<MemoryBackend> {
  const backend = new MemoryBackend()
  await initializeCluster(backend, {clusterName: 'example.org', defaultClusterName: 'unused', now: NOW})
  const auth = await AuthServer.open(backend, () => NOW)
  await auth.addBot(admin, {name: 'my-bot', roles: ['access'], tokenTtlSeconds: 3600})
  await auth.addUser(admin, {name: 'alice', roles: ['editor'], inviteTtlSeconds: 3600})
  // Values as the store may hold them: any Unicode, and NUL, in keys and values alike
  await putItem(backend, '/test/ünïcode\u{1F600}', 'line one\nline two\u0000after NUL')
  for (const type of ['spiffe', 'jwt'] as const) {
    const item = (await backend.get(authorityKey(type)))!
    await putItem(backend, item.key, item.value)
  }
  return backend
}

const sequenceOf = async (backend: MemoryBackend | PostgresBackend) =>
  (JSON.parse(await (await AuthServer.open(backend, () => NOW)).exportTrust('spiffe-bundle')) as {spiffe_sequence: number}).spiffe_sequence

describe('copyStore', () => {
  it('copies every item, each key, value and revision exactly, and the revision counter goes on from the source', async () => {
    // Given an embedded cluster and an empty database
    const source = await embeddedCluster()
    const target = await emptyDatabase()
    const before = await source.list('')
    const counter = await putItem(source, '/test/counter', 'x')
    await source.atomicWrite([{key: '/test/counter', type: 'exists'}], [{key: '/test/counter', type: 'delete'}])
    // When it is copied
    const result = await copyStore(source, target)
    // Then the database holds every item of the source, with the same key, value and revision
    const after = await target.list('')
    expect(result.items).toBe(before.length)
    expect(after).toEqual(before)
    expect(after.map((item) => item.key)).toEqual(expect.arrayContaining(['/cluster/config', '/authorities/spiffe', '/authorities/jwt', '/resources/bot/my-bot', '/resources/user/alice']))
    expect(after.filter((item) => item.key.startsWith('/audit/')).length).toBeGreaterThan(0)
    // So the SPIFFE bundle's sequence is the same (relying parties ignore a lower one), and its keys are the same
    expect(await sequenceOf(target)).toBe(await sequenceOf(source))
    const [sourceAuth, targetAuth] = await Promise.all([source, target].map((backend) => AuthServer.open(backend, () => NOW)))
    expect(await targetAuth!.exportTrust('tls-spiffe')).toBe(await sourceAuth!.exportTrust('tls-spiffe'))
    expect(await targetAuth!.exportTrust('jwks')).toBe(await sourceAuth!.exportTrust('jwks'))
    // And the next write to the database goes on from the source's last revision, even one of a key since deleted
    expect(await putItem(target, '/test/next', 'x')).toBe(counter + 2)
  })

  it('refuses a database that holds anything, naming how many items, and writes nothing', async () => {
    // Given a database that holds one item already
    const source = await embeddedCluster()
    const target = await emptyDatabase()
    await putItem(target, '/test/left-over', 'x')
    const before = await target.list('')
    // When the copy is asked, it is refused in one line that says what is there
    const refused = await rejection(copyStore(source, target))
    expect([refused.code, refused.message]).toEqual([
      'already_exists',
      `storage migrate: ${target.location} is not empty (it holds 1 item); copy into a new, empty database`,
    ])
    // And the database is as it was
    expect(await target.list('')).toEqual(before)
  })

  it('refuses a second copy of the same cluster into the database', async () => {
    const source = await embeddedCluster()
    const target = await emptyDatabase()
    const {items} = await copyStore(source, target)
    const refused = await rejection(copyStore(source, target))
    expect(refused.message).toBe(`storage migrate: ${target.location} is not empty (it holds ${items} items); copy into a new, empty database`)
  })
})
