/**
 * Audit retention on a frozen clock (in-memory store): the boundary, the batches, the local
 * commands' bounded prune, the setting's bounds, its audit event, and what `wid audit
 * retention` shows.
 */
import {beforeEach, describe, expect, it} from 'vitest'
import {AuthServer, type Caller} from '../../../src/lib/auth/auth-server.js'
import {initializeCluster} from '../../../src/lib/auth/init.js'
import {MemoryBackend} from '../../../src/lib/backend/memory.js'
import {auditOperation, listAuditEvents} from '../../../src/lib/services/audit.js'
import {auditRetention, checkRetention, deleteAuditBefore, LOCAL_PRUNE_BATCH, pruneAudit, pruneAuditIfDue} from '../../../src/lib/services/audit-retention.js'

const admin: Caller = {kind: 'admin', name: 'root'}
const NOW = new Date('2026-12-01T12:00:00Z')
const ago = (seconds: number) => new Date(NOW.getTime() - seconds * 1000).toISOString()

describe('audit retention (frozen clock)', () => {
  let backend: MemoryBackend
  let auth: AuthServer
  const write = (times: string[]) => backend.atomicWrite([], times.map((time, i) => auditOperation({time, type: 'svid.issued', actor: 'bot:b', serial: String(i)})))
  const times = async () => (await listAuditEvents(backend)).filter((e) => e.type === 'svid.issued').map((e) => e.time)

  beforeEach(async () => {
    backend = new MemoryBackend()
    await initializeCluster(backend, {clusterName: 'example.org', defaultClusterName: 'unused', now: NOW})
    auth = await AuthServer.open(backend, () => NOW)
  })

  it('keeps 90 days until set, and prunes exactly what is older than now − retention', async () => {
    await write([ago(91 * 86400), ago(90 * 86400), ago(89 * 86400)])
    expect(await auditRetention(backend)).toEqual({retention: '2160h', retentionSeconds: 90 * 86400, default: true, oldestEvent: ago(91 * 86400)})
    expect(await pruneAudit(backend, NOW)).toBe(1)
    // an event of exactly the boundary is kept
    expect(await times()).toEqual([ago(90 * 86400), ago(89 * 86400)])

    await auth.setAuditRetention(admin, 3600)
    await write([ago(3601), ago(3600), ago(10)])
    expect(await pruneAudit(backend, NOW)).toBe(3)
    expect(await times()).toEqual([ago(3600), ago(10)])
    expect(await auditRetention(backend)).toMatchObject({retention: '1h', default: false, lastPruned: {time: NOW.toISOString(), before: ago(3600), events: 3}})
  })

  it('deletes in batches until none is left, or as many batches as allowed', async () => {
    await write(Array.from({length: 25}, (_, i) => ago(7200 + i)))
    expect(await deleteAuditBefore(backend, new Date(ago(3600)), NOW, {batch: 10, maxBatches: 1})).toBe(10)
    expect(await deleteAuditBefore(backend, new Date(ago(3600)), NOW, {batch: 10})).toBe(15)
    expect(await times()).toEqual([])
  })

  it('prunes a batch at most when a local command opens the store, and nothing when the oldest event is recent', async () => {
    // (written in time order, as events are: the check reads the first committed)
    await write(Array.from({length: LOCAL_PRUNE_BATCH + 5}, (_, i) => ago(7200 + i)))
    await auth.setAuditRetention(admin, 3600)
    expect(await pruneAuditIfDue(backend, NOW)).toBe(LOCAL_PRUNE_BATCH)
    expect(await pruneAuditIfDue(backend, NOW)).toBe(5)
    expect(await pruneAuditIfDue(backend, NOW)).toBe(0)
  })

  it('refuses a retention out of bounds in one line, and audits a change (not a repeat)', async () => {
    expect(() => checkRetention(3599)).toThrow(/^audit retention: 59m59s is too short \(at least 1h\)$/)
    expect(() => checkRetention(3650 * 86400 + 1)).toThrow(/^audit retention: 87600h1s is too long \(at most 87600h, ten years\)$/)
    await expect(auth.setAuditRetention(admin, 60)).rejects.toThrow(/too short/)
    await auth.setAuditRetention(admin, 720 * 3600)
    await auth.setAuditRetention(admin, 720 * 3600)
    expect(await listAuditEvents(backend, {type: 'audit.retention'})).toEqual([
      {time: NOW.toISOString(), type: 'audit.retention', actor: 'admin:root', retention_seconds: 720 * 3600, previous_retention_seconds: 90 * 86400},
    ])
  })

  it('prunes by hand up to the shortest retention ago, never later, and audits it before it deletes', async () => {
    await write([ago(7200), ago(3000)])
    const refused = /^audit prune: 2026-12-01T11:00:01.000Z is less than 1h ago; events are pruned up to the shortest retention \(1h\) ago at most$/
    await expect(auth.pruneAudit(admin, new Date(NOW.getTime() - 3599_000))).rejects.toThrow(refused)
    expect(await auth.pruneAudit(admin, new Date(ago(3600)))).toEqual({deleted: 1, before: ago(3600), more: false})
    expect(await listAuditEvents(backend, {type: 'audit.pruned'})).toEqual([{time: NOW.toISOString(), type: 'audit.pruned', actor: 'admin:root', before: ago(3600)}])
  })

  it('stops after as many batches as asked (a request through the server), saying more is left', async () => {
    await write(Array.from({length: 10_001}, () => ago(7200)))
    expect(await auth.pruneAudit(admin, new Date(ago(3600)), 1)).toEqual({deleted: 10_000, before: ago(3600), more: true})
    expect(await auth.pruneAudit(admin, new Date(ago(3600)), 1)).toEqual({deleted: 1, before: ago(3600), more: false})
    expect(await listAuditEvents(backend, {type: 'svid.issued'})).toEqual([])
  })

  it('overwrites a damaged retention with --set, which a damaged value otherwise refuses', async () => {
    await backend.atomicWrite([], [{key: '/cluster/audit', type: 'put', value: '{"retention_seconds":5}'}])
    await expect(auth.auditRetention(admin)).rejects.toThrow(/damaged \(set it again with wid audit retention --set\)/)
    expect(await auth.setAuditRetention(admin, 720 * 3600)).toMatchObject({retentionSeconds: 720 * 3600})
    expect((await listAuditEvents(backend, {type: 'audit.retention'})).at(-1)).toEqual({time: NOW.toISOString(), type: 'audit.retention', actor: 'admin:root', retention_seconds: 720 * 3600})
  })
})
