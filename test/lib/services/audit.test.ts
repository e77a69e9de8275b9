/**
 * Reading the audit log in pages (readAuditPage): in commit order, with a cursor that loses
 * nothing and repeats nothing while others write, even when one group commit is larger than
 * a page. On SQLite, whose revisions are what the server's store gives.
 */
import {join} from 'node:path'
import {afterAll, afterEach, beforeEach, describe, expect, it} from 'vitest'
import type {Backend} from '../../../src/lib/backend/backend.js'
import {SqliteBackend} from '../../../src/lib/backend/sqlite.js'
import {AuditWriter, auditOperation, listAuditEvents, readAuditPage, type AuditCursor, type AuditEvent} from '../../../src/lib/services/audit.js'
import {tempDir} from '../../helpers/cli.js'

const event = (n: number, time = new Date(Date.UTC(2026, 11, 1, 0, 0, 0, n)).toISOString()): AuditEvent => ({time, type: 'svid.issued', actor: 'bot:b', serial: String(n)})

/** Every event after `after`, page by page of `limit`, as a follower reads them. */
async function readAll(backend: Backend, limit: number, after: AuditCursor = {revision: 0}): Promise<{events: AuditEvent[]; next: AuditCursor}> {
  const events: AuditEvent[] = []
  for (;;) {
    const page = await readAuditPage(backend, after, {limit})
    events.push(...page.events)
    after = page.next
    if (!page.more) return {events, next: after}
  }
}

describe('readAuditPage', () => {
  const tmp = tempDir()
  let backend: SqliteBackend
  let file = 0
  afterAll(() => tmp.cleanup())
  beforeEach(async () => {
    backend = await SqliteBackend.open(join(tmp.path, `wid-${++file}.db`))
  })
  afterEach(() => backend.close())

  it('pages through a group commit larger than a page, in commit order, each event once', async () => {
    // Given 5 single events, then one transaction of 250 (one revision), then 5 more
    for (let n = 0; n < 5; n++) await backend.atomicWrite([], [auditOperation(event(n))])
    await backend.atomicWrite([], Array.from({length: 250}, (_, i) => auditOperation(event(5 + i))))
    for (let n = 255; n < 260; n++) await backend.atomicWrite([], [auditOperation(event(n))])
    // When read 100 at a time
    const {events} = await readAll(backend, 100)
    // Then every event comes once, the batch after the 5 before it and before the 5 after it
    expect(events.map((e) => Number(e.serial))).toHaveLength(260)
    expect(new Set(events.map((e) => e.serial)).size).toBe(260)
    expect(events.slice(0, 5).map((e) => Number(e.serial))).toEqual([0, 1, 2, 3, 4])
    expect(events.slice(255).map((e) => Number(e.serial))).toEqual([255, 256, 257, 258, 259])
  })

  it('reads a page with one query wherever the cursor stands in a large group commit, even a cursor past its last key', async () => {
    // Given one transaction of 5,000 events, and a store that counts the reads it is asked for
    const revision = await backend.atomicWrite([], Array.from({length: 5000}, (_, i) => auditOperation(event(i))))
    let reads = 0
    const counting = Object.assign(Object.create(backend) as SqliteBackend, {
      listAfter: (...args: Parameters<SqliteBackend['listAfter']>) => {
        reads++
        return backend.listAfter(...args)
      },
    })
    // When a page of one is asked after a key beyond every key of that commit (as a client may craft it), and in its middle
    const beyond = await readAuditPage(counting, {revision, key: '/audit/~'}, {limit: 1})
    const middle = await readAuditPage(counting, {revision, key: (await backend.list('/audit/'))[2500]!.key}, {limit: 1})
    // Then each took one read: nothing after the first, and the 2,502nd event after the second
    expect(reads).toBe(2)
    expect(beyond).toMatchObject({events: [], more: false})
    expect(middle.events.map((e) => e.serial)).toEqual([(await backend.list('/audit/')).map((item) => JSON.parse(item.value) as AuditEvent)[2501]!.serial])
  })

  it('loses nothing that commits while a reader pages, from writers group-committing at once', async () => {
    const writer = new AuditWriter(backend)
    const seen: AuditEvent[] = []
    let after: AuditCursor = {revision: 0}
    let writing = true
    const writes = (async () => {
      for (let round = 0; round < 40; round++) await Promise.all(Array.from({length: 50}, (_, i) => writer.append(event(round * 50 + i))))
      writing = false
    })()
    // A follower reads pages of 64 while the writers commit, then what is left once they stopped
    while (writing) {
      const page = await readAuditPage(backend, after, {limit: 64})
      seen.push(...page.events)
      after = page.next
      if (!page.more) await new Promise((resolve) => setImmediate(resolve))
    }
    await writes
    seen.push(...(await readAll(backend, 64, after)).events)
    expect(seen).toHaveLength(2000)
    expect(new Set(seen.map((e) => e.serial)).size).toBe(2000)
  })

  it('keeps with since the events at or after it, by the time in their keys, and answers an empty page at the end', async () => {
    for (const time of ['2026-12-01T00:00:00.000Z', '2026-12-02T00:00:00.000Z', '2026-12-03T00:00:00.000Z']) await backend.atomicWrite([], [auditOperation(event(0, time))])
    const page = await readAuditPage(backend, {revision: 0}, {since: new Date('2026-12-02T00:00:00Z')})
    expect(page.events.map((e) => e.time)).toEqual(['2026-12-02T00:00:00.000Z', '2026-12-03T00:00:00.000Z'])
    expect(page.more).toBe(false)
    const end = await readAuditPage(backend, page.next)
    expect(end).toEqual({events: [], ids: [], next: page.next, more: false})
    // audit ls filters the same way, by type too
    expect((await listAuditEvents(backend, {since: new Date('2026-12-03T00:00:00Z'), type: 'svid.issued'})).map((e) => e.time)).toEqual(['2026-12-03T00:00:00.000Z'])
  })
})
