/**
 * The Backend contract (src/lib/backend/backend.ts), run unchanged against every
 * implementation: the in-memory one used by unit tests, the embedded SQLite one, and
 * PostgreSQL (a throwaway server for this file, a new database for each test).
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'
import {afterAll, afterEach, beforeEach, describe, expect, it} from 'vitest'
import {createItem, deleteItem, putItem, updateItem, type Backend, type Item} from '../../../src/lib/backend/backend.js'
import {MemoryBackend} from '../../../src/lib/backend/memory.js'
import {PostgresBackend} from '../../../src/lib/backend/postgres.js'
import {SqliteBackend} from '../../../src/lib/backend/sqlite.js'
import {WidError} from '../../../src/lib/errors.js'
import {rejection} from '../../helpers/errors.js'
import {startPostgres, type TestPostgres} from '../../helpers/postgres.js'

interface Implementation {
  name: string
  open(): Promise<Backend>
  cleanup(): void
  /** Once, after every test of the file. */
  finish?(): Promise<void>
}

function memory(): Implementation {
  return {name: 'MemoryBackend', open: async () => new MemoryBackend(), cleanup: () => {}}
}

/**
 * The writer thread runs the backend's own module file, which has to be JavaScript, so that
 * variant is tested on the build (`npm test` builds first) rather than on the sources. Its
 * errors are the build's WidErrors; they are re-made as the sources' for the checks below.
 */
async function openBuiltWithWriterThread(path: string): Promise<Backend> {
  const built = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'dist', 'lib', 'backend', 'sqlite.js')).href
  const backend = await ((await import(built)) as {SqliteBackend: typeof SqliteBackend}).SqliteBackend.open(path, {writerThread: true})
  const translate = (error: unknown): never => {
    if (error instanceof Error && error.name === 'WidError') throw new WidError((error as WidError).code, error.message)
    throw error
  }
  return {
    kind: backend.kind,
    location: backend.location,
    get: (key) => backend.get(key).catch(translate),
    list: (prefix) => backend.list(prefix).catch(translate),
    listAfter: (prefix, after, limit) => backend.listAfter(prefix, after, limit).catch(translate),
    atomicWrite: (conditions, operations) => backend.atomicWrite(conditions, operations).catch(translate),
    deleteRange: (from, before, limit) => backend.deleteRange(from, before, limit).catch(translate),
    readSnapshot: (read) => backend.readSnapshot(read).catch(translate),
    load: (revision, pages) => backend.load(revision, pages).catch(translate),
    ping: () => backend.ping().catch(translate),
    close: () => backend.close(),
  }
}

function sqlite(writerThread: boolean): Implementation {
  const dirs: string[] = []
  return {
    name: writerThread ? 'SqliteBackend with a writer thread' : 'SqliteBackend',
    open: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'wid-contract-'))
      dirs.push(dir)
      const path = join(dir, 'state', 'wid.db')
      return writerThread ? openBuiltWithWriterThread(path) : SqliteBackend.open(path)
    },
    cleanup: () => {
      for (const dir of dirs.splice(0)) rmSync(dir, {recursive: true, force: true})
    },
  }
}

/** The server starts with the first test that needs it. */
function postgres(): Implementation {
  let server: Promise<TestPostgres> | undefined
  return {
    name: 'PostgresBackend',
    open: async () => {
      server ??= startPostgres()
      return PostgresBackend.open(await (await server).createDatabase())
    },
    cleanup: () => {},
    finish: async () => (await server)?.destroy(),
  }
}

const implementations = [memory(), sqlite(false), sqlite(true), postgres()]

afterAll(async () => {
  for (const impl of implementations) await impl.finish?.()
})

const keysOf = (items: {key: string}[]) => items.map((i) => i.key)

for (const impl of implementations) {
  describe(`Backend contract: ${impl.name}`, () => {
    let backend: Backend

    beforeEach(async () => {
      backend = await impl.open()
    })

    afterEach(async () => {
      await backend.close()
      impl.cleanup()
    })

    it('returns undefined for a key that was never written', async () => {
      // Given an empty store
      // When a missing key is read
      const item = await backend.get('/missing')
      // Then there is no item, and listing finds nothing either
      expect(item).toBeUndefined()
      expect(await backend.list('/')).toEqual([])
    })

    it('answers a ping', async () => {
      await expect(backend.ping()).resolves.toBeUndefined()
    })

    it('creates an item and reads it back with the revision the write returned', async () => {
      // Given an empty store
      // When a key is created
      const revision = await createItem(backend, '/ca/current', '{"serial":1}')
      // Then get returns exactly that value, stamped with the write's revision
      expect(revision).toBeGreaterThan(0)
      expect({...(await backend.get('/ca/current'))}).toEqual({key: '/ca/current', value: '{"serial":1}', revision})
    })

    it('refuses to create a key that already exists, naming the key, and keeps the old value', async () => {
      // Given an existing key
      const revision = await createItem(backend, '/ca/current', 'first')
      // When it is created again
      const error = await rejection(createItem(backend, '/ca/current', 'second'))
      // Then the write fails with compare_failed naming the key, and nothing changed
      expect(error.code).toBe('compare_failed')
      expect(error.message).toContain('/ca/current')
      expect(error.message).toContain('already exists')
      expect(await backend.get('/ca/current')).toMatchObject({value: 'first', revision})
    })

    it('updates with the current revision and refuses a stale one', async () => {
      // Given a key at revision r1
      const r1 = await createItem(backend, '/counter', '1')
      // When it is updated with r1
      const r2 = await updateItem(backend, '/counter', '2', r1)
      // Then the update succeeds with a newer revision
      expect(r2).toBeGreaterThan(r1)
      expect(await backend.get('/counter')).toMatchObject({value: '2', revision: r2})

      // When another update still carries the stale r1
      const error = await rejection(updateItem(backend, '/counter', 'lost update', r1))
      // Then it fails with compare_failed naming the key and the winner's value stays
      expect(error.code).toBe('compare_failed')
      expect(error.message).toContain('/counter')
      expect(await backend.get('/counter')).toMatchObject({value: '2', revision: r2})
    })

    it('refuses to update a key that does not exist', async () => {
      // Given an empty store
      // When an update names a revision for a missing key
      const error = await rejection(updateItem(backend, '/nope', 'x', 1))
      // Then it fails and does not create the key
      expect(error.code).toBe('compare_failed')
      expect(error.message).toContain('/nope')
      expect(await backend.get('/nope')).toBeUndefined()
    })

    it('hands out strictly increasing store-wide revisions across writes to different keys', async () => {
      // Given a series of writes to several keys, with a refused write in the middle
      const revisions: number[] = []
      revisions.push(await createItem(backend, '/k/a', 'a'))
      revisions.push(await createItem(backend, '/k/b', 'b'))
      await rejection(createItem(backend, '/k/a', 'again'))
      revisions.push(await putItem(backend, '/k/c', 'c'))
      revisions.push(await updateItem(backend, '/k/a', 'a2', revisions[0]!))
      revisions.push(await putItem(backend, '/k/b', 'b2'))
      // Then every successful write returned a larger revision than the one before
      for (let i = 1; i < revisions.length; i++) expect(revisions[i]).toBeGreaterThan(revisions[i - 1]!)
      // And each item carries the revision of the write that last changed it
      expect(await backend.get('/k/a')).toMatchObject({value: 'a2', revision: revisions[3]})
      expect(await backend.get('/k/b')).toMatchObject({value: 'b2', revision: revisions[4]})
      expect(await backend.get('/k/c')).toMatchObject({value: 'c', revision: revisions[2]})
    })

    it('lists exactly the keys that start with the prefix, in key order', async () => {
      // Given keys that share leading characters, written out of order
      for (const key of ['/ab', '/a/bc', '/b', '/a/b', '/a', '/a/b/c', '/a/a', '/a/b0', '/a/b/']) {
        await putItem(backend, key, `value of ${key}`)
      }
      // When listing by various prefixes
      // Then only keys that start with the prefix come back, sorted
      expect(keysOf(await backend.list('/a/b'))).toEqual(['/a/b', '/a/b/', '/a/b/c', '/a/b0', '/a/bc'])
      expect(keysOf(await backend.list('/a/b/'))).toEqual(['/a/b/', '/a/b/c'])
      expect(keysOf(await backend.list('/a/'))).toEqual(['/a/a', '/a/b', '/a/b/', '/a/b/c', '/a/b0', '/a/bc'])
      expect(keysOf(await backend.list('/ab'))).toEqual(['/ab'])
      expect(keysOf(await backend.list('/a/bc/'))).toEqual([])
      expect(keysOf(await backend.list('/zzz'))).toEqual([])
      expect(keysOf(await backend.list(''))).toEqual(['/a', '/a/a', '/a/b', '/a/b/', '/a/b/c', '/a/b0', '/a/bc', '/ab', '/b'])
      // And listed items carry their values and revisions like get does
      const [item] = await backend.list('/ab')
      expect({...item}).toEqual({...(await backend.get('/ab'))})
      expect(item!.value).toBe('value of /ab')
    })

    it('lists keys whose next character after the prefix is outside the Basic Multilingual Plane', async () => {
      // Given keys under /emoji/ that continue with astral characters (and U+FFFF itself)
      await putItem(backend, '/emoji/plain', '1')
      await putItem(backend, '/emoji/\u{1F600}', '2')
      await putItem(backend, '/emoji/\u{10FFFF}x', '3')
      await putItem(backend, '/emoji/\uffff', '4')
      await putItem(backend, '/emojis', 'not under the prefix')
      // When the prefix is listed
      const keys = keysOf(await backend.list('/emoji/'))
      // Then every key under the prefix is returned, and nothing else
      expect([...keys].sort()).toEqual(['/emoji/plain', '/emoji/\u{1F600}', '/emoji/\u{10FFFF}x', '/emoji/\uffff'].sort())
      // And the empty prefix lists everything, including a key that starts with an emoji
      await putItem(backend, '\u{1F600}top', '5')
      expect(await backend.list('')).toHaveLength(6)
    })

    it('treats every character of the prefix literally, including % _ and backslash', async () => {
      // Given keys that a LIKE pattern built from the prefix would confuse
      for (const key of ['/p%/1', '/p_/1', '/px/1', '/p\\/1', '/p%x/1', '/pa_/1']) await putItem(backend, key, key)
      // When prefixes containing those characters are listed
      // Then only keys that start with exactly those characters come back
      expect(keysOf(await backend.list('/p%'))).toEqual(['/p%/1', '/p%x/1'])
      expect(keysOf(await backend.list('/p_'))).toEqual(['/p_/1'])
      expect(keysOf(await backend.list('/p\\'))).toEqual(['/p\\/1'])
      expect(keysOf(await backend.list('/pa_'))).toEqual(['/pa_/1'])
    })

    it('deletes without a revision, and refuses to delete a missing key', async () => {
      // Given an existing key
      await createItem(backend, '/gone', 'x')
      // When it is deleted without a revision
      const revision = await deleteItem(backend, '/gone')
      // Then it is gone from get and list, and the delete got a revision of its own
      expect(revision).toBeGreaterThan(0)
      expect(await backend.get('/gone')).toBeUndefined()
      expect(await backend.list('/gone')).toEqual([])
      // When it is deleted again
      const error = await rejection(deleteItem(backend, '/gone'))
      // Then the delete fails, naming the key
      expect(error.code).toBe('compare_failed')
      expect(error.message).toContain('/gone')
      expect(error.message).toContain('does not exist')
    })

    it('deletes with a revision only when the revision is current', async () => {
      // Given a key that was updated after it was created
      const r1 = await createItem(backend, '/guarded', 'v1')
      const r2 = await updateItem(backend, '/guarded', 'v2', r1)
      // When a delete carries the stale revision
      const error = await rejection(deleteItem(backend, '/guarded', r1))
      // Then it is refused and the key survives
      expect(error.code).toBe('compare_failed')
      expect(await backend.get('/guarded')).toMatchObject({value: 'v2', revision: r2})
      // When a delete carries the current revision
      const r3 = await deleteItem(backend, '/guarded', r2)
      // Then the key is removed
      expect(r3).toBeGreaterThan(r2)
      expect(await backend.get('/guarded')).toBeUndefined()
      // And a key can be created afresh afterwards
      await createItem(backend, '/guarded', 'v3')
      expect(await backend.get('/guarded')).toMatchObject({value: 'v3'})
    })

    it('applies a multi-condition write all-or-nothing', async () => {
      // Given two existing keys
      const rA = await createItem(backend, '/multi/a', 'a1')
      const rB = await createItem(backend, '/multi/b', 'b1')
      // When a write whose first condition holds but whose second does not would change three keys
      const error = await rejection(
        backend.atomicWrite(
          [
            {key: '/multi/a', type: 'revision', revision: rA},
            {key: '/multi/b', type: 'absent'},
          ],
          [
            {key: '/multi/a', type: 'put', value: 'a2'},
            {key: '/multi/c', type: 'put', value: 'c1'},
            {key: '/multi/b', type: 'delete'},
          ],
        ),
      )
      // Then it fails naming the second condition's key
      expect(error.code).toBe('compare_failed')
      expect(error.message).toContain('/multi/b')
      // And none of its operations took effect
      expect(await backend.get('/multi/a')).toMatchObject({value: 'a1', revision: rA})
      expect(await backend.get('/multi/b')).toMatchObject({value: 'b1', revision: rB})
      expect(await backend.get('/multi/c')).toBeUndefined()

      // When the same write runs with conditions that all hold
      const revision = await backend.atomicWrite(
        [
          {key: '/multi/a', type: 'revision', revision: rA},
          {key: '/multi/b', type: 'exists'},
          {key: '/multi/c', type: 'absent'},
        ],
        [
          {key: '/multi/a', type: 'put', value: 'a2'},
          {key: '/multi/c', type: 'put', value: 'c1'},
          {key: '/multi/b', type: 'delete'},
        ],
      )
      // Then every operation took effect under the one returned revision
      expect(revision).toBeGreaterThan(rB)
      expect(keysOf(await backend.list('/multi/'))).toEqual(['/multi/a', '/multi/c'])
      expect(await backend.get('/multi/a')).toMatchObject({value: 'a2', revision})
      expect(await backend.get('/multi/c')).toMatchObject({value: 'c1', revision})
    })

    it('lists what changed after a revision, in revision order, a page at a time', async () => {
      // Given items written in an order that is not their key order, and one outside the prefix
      const r1 = await putItem(backend, '/log/c', '1')
      const r2 = await putItem(backend, '/log/a', '2')
      await putItem(backend, '/other/x', 'x')
      const r4 = await backend.atomicWrite([], [{key: '/log/d', type: 'put', value: '3'}, {key: '/log/b', type: 'put', value: '4'}])
      // When the prefix is read after revision 0, two at a time
      const first = await backend.listAfter('/log/', {revision: 0}, 2)
      const second = await backend.listAfter('/log/', first.at(-1)!, 2)
      const third = await backend.listAfter('/log/', {revision: r4, key: '/log/b'}, 2)
      // Then the pages follow the revisions (then the keys within one write), and never leave the prefix
      expect(first).toEqual([{key: '/log/c', value: '1', revision: r1}, {key: '/log/a', value: '2', revision: r2}])
      expect(second).toEqual([{key: '/log/b', value: '4', revision: r4}, {key: '/log/d', value: '3', revision: r4}])
      expect(third).toEqual([{key: '/log/d', value: '3', revision: r4}])
      expect(await backend.listAfter('/log/', {revision: r4}, 10)).toEqual([])
    })

    it('deletes a range of keys, lowest first, at most as many as asked, and nothing outside it', async () => {
      // Given five keys of a prefix and one on each side of it
      for (const key of ['/aud', '/audit/1', '/audit/2', '/audit/3', '/audit/4', '/audit/5', '/audiu']) await putItem(backend, key, 'x')
      // When the keys from /audit/ below /audit/4 are deleted, two at most
      expect(await backend.deleteRange('/audit/', '/audit/4', 2)).toBe(2)
      expect(keysOf(await backend.list('/aud'))).toEqual(['/aud', '/audit/3', '/audit/4', '/audit/5', '/audiu'])
      // Then again: only what is left of the range goes
      expect(await backend.deleteRange('/audit/', '/audit/4', 10)).toBe(1)
      expect(await backend.deleteRange('/audit/', '/audit/4', 10)).toBe(0)
      expect(keysOf(await backend.list('/aud'))).toEqual(['/aud', '/audit/4', '/audit/5', '/audiu'])
    })

    it('copies itself through a snapshot into an empty store: keys, values, revisions and the counter', async () => {
      // Given items, unicode and NUL included, and a counter above every item's revision (a deleted key)
      await putItem(backend, '/a', 'line\nnul\u0000é🔐')
      for (let i = 0; i < 1500; i++) await backend.atomicWrite([], [{key: `/many/${String(i).padStart(4, '0')}`, type: 'put', value: String(i)}])
      const last = await putItem(backend, '/gone', 'x')
      await deleteItem(backend, '/gone')
      const items = await backend.list('')
      // When a snapshot of it is loaded into an empty store of the same kind
      const target = await impl.open()
      try {
        const pages: number[] = []
        const loaded = await backend.readSnapshot(async (revision, snapshot) => {
          expect(revision).toBe(last + 1)
          async function* counted(): AsyncGenerator<Item[]> {
            for await (const page of snapshot) {
              pages.push(page.length)
              yield page
            }
          }
          return target.load(revision, counted())
        })
        // Then everything arrived, in pages, exactly as it was
        expect(loaded.items).toBe(items.length)
        expect(pages.reduce((a, b) => a + b, 0)).toBe(items.length)
        expect(await target.list('')).toEqual(items)
        // And the next write goes on above the source's counter
        expect(await putItem(target, '/next', 'x')).toBe(last + 2)
        // And a second load is refused, naming how much is there, and changes nothing
        const refused = await rejection(backend.readSnapshot((revision, snapshot) => target.load(revision, snapshot)))
        expect([refused.code, refused.message]).toEqual(['already_exists', `${target.location} is not empty (it holds ${items.length + 1} items)`])
        expect((await target.list('')).length).toBe(items.length + 1)
      } finally {
        await target.close()
      }
    })

    it('reads a snapshot as of its start while writes go on, and loads nothing when the pages fail half way', async () => {
      // Given a store with 2500 items
      for (let i = 0; i < 25; i++) {
        await backend.atomicWrite([], Array.from({length: 100}, (_, j) => ({key: `/s/${String(i * 100 + j).padStart(4, '0')}`, type: 'put' as const, value: 'v'})))
      }
      const target = await impl.open()
      try {
        // When the snapshot is read while every page is followed by new writes and deletions
        let seen = 0
        await backend.readSnapshot(async (_revision, pages) => {
          for await (const page of pages) {
            seen += page.length
            await putItem(backend, `/s/zz-${seen}`, 'later')
            await deleteItem(backend, '/s/2499').catch(() => undefined)
          }
        })
        // Then it saw exactly the items of its start
        expect(seen).toBe(2500)
        // And a load whose pages fail after the first leaves the target empty
        const failing = backend.readSnapshot(async (revision, pages) => {
          async function* broken(): AsyncGenerator<Item[]> {
            for await (const page of pages) {
              yield page
              throw new Error('the backup file ends here')
            }
          }
          return target.load(revision, broken())
        })
        await expect(failing).rejects.toThrow('the backup file ends here')
        expect(await target.list('')).toEqual([])
      } finally {
        await target.close()
      }
    })

    it('round-trips unicode keys and values', async () => {
      // Given values and keys with accents, CJK, emoji, combining marks, control characters and NUL
      const samples: Array<[string, string]> = [
        ['/unicode/héllo', 'wörld ✓'],
        ['/unicode/日本', '日本語のテキスト'],
        ['/unicode/emoji', '🔐 keys 🗝️ and 👩🏽‍💻'],
        ['/unicode/combining', 'e\u0301 vs é'],
        ['/unicode/controls', 'line1\nline2\ttab\r\u0000nul\u007f'],
        ['/unicode/json', JSON.stringify({name: 'Zoë', tags: ['α', 'β'], n: 1})],
      ]
      // When they are written and read back
      for (const [key, value] of samples) await createItem(backend, key, value)
      // Then get and list return exactly the same strings
      for (const [key, value] of samples) expect((await backend.get(key))?.value).toBe(value)
      const listed = await backend.list('/unicode/')
      expect(new Map(listed.map((i) => [i.key, i.value]))).toEqual(new Map(samples))
    })
  })
}

describe('Backend contract: implementations agree', () => {
  it('lists keys in the same order, UTF-8 byte order, in every implementation', async () => {
    // Given the same keys in every backend: after the prefix, upper vs lower case, and a BMP-high vs an astral character
    const backends: Backend[] = []
    try {
      for (const impl of implementations) backends.push(await impl.open())
      const orders: string[][] = []
      for (const backend of backends) {
        for (const key of ['pa\uff01', 'pa\u{1F600}', 'pa~', 'pB']) await putItem(backend, key, '1')
        // When each lists the prefix
        orders.push(keysOf(await backend.list('p')))
      }
      // Then each returns all four keys in byte order
      for (const order of orders) expect(order).toEqual(['pB', 'pa~', 'pa\uff01', 'pa\u{1F600}'])
    } finally {
      for (const backend of backends) await backend.close()
      for (const impl of implementations) impl.cleanup()
    }
  })
})

describe('SqliteBackend with a writer thread', () => {
  it('finishes the writes in flight when closed, and refuses writes after that', async () => {
    // Given 50 writes handed to the writer thread and not yet awaited
    const dir = mkdtempSync(join(tmpdir(), 'wid-writer-'))
    const path = join(dir, 'wid.db')
    try {
      const backend = await openBuiltWithWriterThread(path)
      const writes = Array.from({length: 50}, (_, i) => putItem(backend, `/inflight/${String(i).padStart(2, '0')}`, String(i)))
      // When the backend is closed at once
      await backend.close()
      // Then every write completed, and a reopened store holds all 50
      expect(await Promise.all(writes)).toHaveLength(50)
      const reopened = await SqliteBackend.open(path)
      expect(await reopened.list('/inflight/')).toHaveLength(50)
      await reopened.close()
      // And the closed backend refuses another write instead of hanging
      await expect(putItem(backend, '/late', 'x')).rejects.toThrow(/closed/)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})
