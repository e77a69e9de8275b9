/**
 * backupCluster and restoreCluster (src/lib/backup/backup.ts) on real SQLite homes: what a
 * restore brings back, and what it means for a bot whose agent renewed after the backup was
 * taken (its generation is ahead of the restored one: the first renewal since is accepted
 * and goes on from the bot's generation; a copy is still caught after that).
 */
import {generateKeyPairSync, X509Certificate} from 'node:crypto'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {AuthServer, type Caller} from '../../../src/lib/auth/auth-server.js'
import type {BotIdentity} from '../../../src/lib/auth/bot-join.js'
import {initializeCluster} from '../../../src/lib/auth/init.js'
import {SqliteBackend} from '../../../src/lib/backend/sqlite.js'
import {backupCluster} from '../../../src/lib/backup/backup.js'
import {restoreCluster} from '../../../src/lib/backup/restore.js'
import {databasePath} from '../../../src/lib/home.js'
import {listAuditEvents} from '../../../src/lib/services/audit.js'
import {tempDir} from '../../helpers/cli.js'
import {rejection} from '../../helpers/errors.js'

const admin: Caller = {kind: 'admin', name: 'root'}
const T0 = new Date('2026-11-23T10:00:00Z')
const publicKey = () => generateKeyPairSync('ec', {namedCurve: 'P-256'}).publicKey.export({type: 'spki', format: 'pem'}) as string
const tmp = tempDir()
afterAll(() => tmp.cleanup())

function callerOf(identity: BotIdentity): Caller {
  const subject = new X509Certificate(identity.certificate).subject
  const field = (name: string) => /^(\w+)=(.*)$/m.exec(subject.split('\n').find((line) => line.startsWith(`${name}=`)) ?? '')?.[2]
  return {kind: 'bot', name: field('CN')!, instanceId: field('serialNumber'), generation: Number(field('pseudonym'))}
}

/** The cluster in `home`, created first when `init`. */
async function withCluster<T>(home: string, body: (auth: AuthServer, backend: SqliteBackend) => Promise<T>, init = false): Promise<T> {
  const backend = await SqliteBackend.open(databasePath(home))
  try {
    if (init) await initializeCluster(backend, {clusterName: 'example.org', defaultClusterName: 'unused', now: T0})
    return await body(await AuthServer.open(backend, () => T0), backend)
  } finally {
    await backend.close()
  }
}

describe('a restored cluster and the bots that renewed after its backup', () => {
  it('accepts the first renewal of a bot whose generation is ahead of the restored one, then catches a copy as before', async () => {
    // Given a cluster whose bot joined (generation 1), then a backup of it
    const original = join(tmp.path, 'original')
    const sqlite = {type: 'sqlite' as const}
    const joined = await withCluster(
      original,
      async (auth) => {
        const {join: token} = await auth.addBot(admin, {name: 'my-bot', roles: ['access'], tokenTtlSeconds: 3600})
        return auth.joinBot({token: token.token, publicKey: publicKey(), address: '10.0.0.7'})
      },
      true,
    )
    const file = join(tmp.path, 'cluster.backup')
    const backup = await backupCluster({storage: sqlite, home: original}, file, {version: '0.1.0', now: T0})
    // And the agent renewed twice after it (generation 3)
    const renewed = await withCluster(original, async (auth) => {
      const second = await auth.renewBot(callerOf(joined), {publicKey: publicKey(), address: '10.0.0.7'})
      return auth.renewBot(callerOf(second), {publicKey: publicKey(), address: '10.0.0.7'})
    })
    expect(renewed.generation).toBe(3)

    // When the backup is restored into a new home
    const restoredHome = join(tmp.path, 'restored')
    const restored = await restoreCluster({storage: sqlite, home: restoredHome}, file, {given: false, get: async () => 'unused'})
    expect(restored).toMatchObject({clusterName: 'example.org', items: backup.items, created: T0.toISOString()})

    await withCluster(restoredHome, async (auth, backend) => {
      // Then the instance is there at generation 1, and the agent's renewal with generation 3 goes on to 4
      expect(await auth.listBotInstances(admin)).toMatchObject([{id: joined.instanceId, generation: 1}])
      const key = publicKey()
      const next = await auth.renewBot(callerOf(renewed), {publicKey: key, address: '10.0.0.7'})
      expect(next.generation).toBe(4)
      const [event] = await listAuditEvents(backend, {type: 'bot.renewed'})
      expect(event).toMatchObject({instance: joined.instanceId, generation: 4, presented: 3, expected: 1, reason: 'the store was restored from a backup taken before the last renewals'})
      // And from then on the generation rule holds as before: the generation 3 certificate, with another key, is a copy
      const copy = await rejection(auth.renewBot(callerOf(renewed), {publicKey: publicKey(), address: '198.51.100.3'}))
      expect(copy.message).toContain('is locked: its identity was used from two places (generation 3 presented, 4 expected)')
    })

    // But once every bot certificate issued before the restore has expired (24 hours), nothing can be ahead: a copy is locked
    const lateHome = join(tmp.path, 'restored-long-ago')
    await restoreCluster({storage: sqlite, home: lateHome}, file, {given: false, get: async () => 'unused'}, new Date(T0.getTime() - 25 * 3600_000))
    await withCluster(lateHome, async (auth) => {
      const late = await rejection(auth.renewBot(callerOf(renewed), {publicKey: publicKey(), address: '10.0.0.7'}))
      expect(late.message).toContain('is locked: its identity was used from two places (generation 3 presented, 1 expected)')
    })
  })

  it('keeps locking a generation ahead of the store when the store was never restored', async () => {
    const home = join(tmp.path, 'never-restored')
    await withCluster(
      home,
      async (auth) => {
        const {join: token} = await auth.addBot(admin, {name: 'my-bot', roles: ['access'], tokenTtlSeconds: 3600})
      const joined = await auth.joinBot({token: token.token, publicKey: publicKey(), address: '10.0.0.7'})
      const ahead = await rejection(auth.renewBot({...callerOf(joined), generation: 5} as Caller, {publicKey: publicKey(), address: '10.0.0.7'}))
      expect(ahead.message).toContain('is locked: its identity was used from two places (generation 5 presented, 1 expected)')
      },
      true,
    )
  })
})
