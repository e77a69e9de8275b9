/**
 * The change feed of the PostgreSQL backend (postgres-feed.ts) and the read cache it keeps
 * true (read-cache.ts): two backends on one database stand for two servers. One throwaway
 * PostgreSQL for the file, a new database for each test.
 */
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'
import {createItem, putItem, updateItem, type Backend, type ChangeEvent} from '../../../src/lib/backend/backend.js'
import {PostgresBackend} from '../../../src/lib/backend/postgres.js'
import {ChangeFeed} from '../../../src/lib/backend/postgres-feed.js'
import {CachedBackend} from '../../../src/lib/backend/read-cache.js'
import {WidError} from '../../../src/lib/errors.js'
import {rejection} from '../../helpers/errors.js'
import {startPostgres, type TestPostgres} from '../../helpers/postgres.js'

let server: TestPostgres
const closing: {close(): Promise<void>}[] = []

beforeAll(async () => {
  server = await startPostgres()
})
afterEach(async () => {
  for (const item of closing.splice(0).reverse()) await item.close()
})
afterAll(async () => {
  await server?.destroy()
})

async function open(url: string): Promise<PostgresBackend> {
  const backend = await PostgresBackend.open(url)
  closing.push(backend)
  return backend
}

/** Waits (polling, a few seconds at most) until `done`; the waits are bounds, not measurements. */
async function until(done: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let waited = 0; waited < 10_000; waited += 10) {
    if (await done()) return
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  throw new Error(`timed out waiting for ${what}`)
}

describe('the change feed', () => {
  it('reports the keys of every write, by any backend, once and in commit order', async () => {
    const url = await server.createDatabase()
    const [writer, watched] = [await open(url), await open(url)]
    const events: ChangeEvent[] = []
    closing.push(await watched.watch((event) => events.push(event)))
    for (let i = 0; i < 20; i++) await putItem(i % 2 ? writer : watched, `/k/${String(i).padStart(2, '0')}`, 'v')
    await writer.atomicWrite([], [
      {key: '/a', type: 'put', value: '1'},
      {key: '/b', type: 'put', value: '2'},
    ])
    const keys = () => events.flatMap((event) => (event.type === 'changed' ? event.keys : []))
    await until(() => keys().length === 22, '22 keys')
    expect(keys()).toEqual([...Array.from({length: 20}, (_, i) => `/k/${String(i).padStart(2, '0')}`), '/a', '/b'])
    expect(events.every((event) => event.type === 'changed')).toBe(true)
  })

  it('says it lost the database while PostgreSQL restarts, and resyncs once it is back', async () => {
    const url = await server.createDatabase()
    const [writer, watched] = [await open(url), await open(url)]
    const events: string[] = []
    closing.push(await watched.watch((event) => events.push(event.type)))
    await server.restart()
    await until(() => events.includes('resync'), 'resync')
    expect(events.slice(0, events.indexOf('resync') + 1)).toEqual(['lost', 'resync'])
    // and it reports writes again
    await until(async () => (await putItem(writer, '/after', 'x').then(() => true, () => false)), 'a write after the restart')
    await until(() => events.at(-1) === 'changed', 'a change after the restart')
  })

  it('asks for a full resync when the log was pruned past what it reported', async () => {
    const url = await server.createDatabase()
    const writer = await open(url)
    const events: string[] = []
    // A feed that is slow to read the log: meanwhile the log is pruned past what it reported
    let release!: () => void
    const slow = new Promise<void>((resolve) => (release = resolve))
    const source = {pg: await import('pg'), connString: url, changesSince: async (revision: number) => (await slow, writer.changesSince(revision)), pruneChanges: (revision: number) => writer.pruneChanges(revision)}
    closing.push(await ChangeFeed.start(source, (event) => events.push(event.type)))
    await writer.pruneChanges(await putItem(writer, '/x', '1'))
    release()
    await until(() => events.length > 0, 'an event')
    expect(events).toEqual(['resync'])
  })
})

describe('pruning the changes log', () => {
  it('prunes up to what the feed had reported one interval before', async () => {
    const url = await server.createDatabase()
    const writer = await open(url)
    const keys: string[] = []
    const source = {pg: await import('pg'), connString: url, changesSince: (r: number) => writer.changesSince(r), pruneChanges: (r: number) => writer.pruneChanges(r), pruneIntervalMs: 100}
    closing.push(await ChangeFeed.start(source, (event) => event.type === 'changed' && keys.push(...event.keys)))
    const first = await putItem(writer, '/one', '1')
    await until(() => keys.includes('/one'), 'the first change')
    // Two intervals later the first write's entry is gone from the log, and the feed goes on
    await until(async () => (await writer.changesSince(0)) === undefined, 'the log pruned')
    expect(await writer.changesSince(first)).toEqual([])
    await putItem(writer, '/two', '2')
    await until(() => keys.includes('/two'), 'a change after pruning')
  })
})

describe('the read cache of a server', () => {
  it('answers reads from memory until another server changes the key, then the new value', async () => {
    const url = await server.createDatabase()
    const other = await open(url)
    const cached = await CachedBackend.over(await PostgresBackend.open(url))
    closing.push(cached)
    await createItem(other, '/role/a', 'v1')
    expect((await cached.get('/role/a'))?.value).toBe('v1')
    // Another server changes it: this one serves the new value once its feed reports the change
    const item = (await other.get('/role/a'))!
    await updateItem(other, '/role/a', 'v2', item.revision)
    await until(async () => (await cached.get('/role/a'))?.value === 'v2', 'the new value')
    // A key that does not exist is remembered as absent, and forgotten when it appears
    expect(await cached.get('/role/b')).toBeUndefined()
    await createItem(other, '/role/b', 'new')
    await until(async () => (await cached.get('/role/b'))?.value === 'new', 'the new key')
  })

  it('never answers a stale revision to a conditional write twice: a refused write forgets what it was conditioned on', async () => {
    const url = await server.createDatabase()
    const [other, store] = [await open(url), await PostgresBackend.open(url)]
    // No feed for this one, so that only the refusal can make the cache forget
    const cached = await CachedBackend.over(Object.assign(Object.create(store) as Backend, {watch: async () => ({close: async () => {}})}))
    closing.push(store)
    await createItem(other, '/counter', '0')
    const seen = (await cached.get('/counter'))!
    await updateItem(other, '/counter', '1', seen.revision)
    expect((await cached.get('/counter'))?.value).toBe('0')
    const refused = await rejection(updateItem(cached, '/counter', '1', seen.revision))
    expect(refused).toBeInstanceOf(WidError)
    expect(refused.code).toBe('compare_failed')
    expect((await cached.get('/counter'))?.value).toBe('1')
  })

  it('does not keep a read that the feed invalidated while it was in flight, but keeps one that a change of another key crossed', async () => {
    const {MemoryBackend} = await import('../../../src/lib/backend/memory.js')
    const memory = new MemoryBackend()
    let feed!: (event: ChangeEvent) => void
    let hold: Promise<void> | undefined
    // The store: memory whose reads can be held back, and a feed the test drives
    const store = Object.assign(Object.create(memory) as Backend, {
      get: async (key: string) => {
        const item = await memory.get(key)
        await hold
        return item
      },
      watch: async (listener: (event: ChangeEvent) => void) => ((feed = listener), {close: async () => {}}),
    })
    const cached = await CachedBackend.over(store)
    await putItem(memory, '/a', 'old')
    await putItem(memory, '/b', 'b')
    let release!: () => void
    hold = new Promise((resolve) => (release = resolve))
    const reads = [cached.get('/a'), cached.get('/b')]
    // Another server changes /a while both reads are in flight; /b is untouched
    await putItem(memory, '/a', 'new')
    feed({type: 'changed', keys: ['/a', '/audit/1']})
    release()
    expect((await Promise.all(reads)).map((item) => item?.value)).toEqual(['old', 'b'])
    hold = undefined
    expect((await cached.get('/a'))?.value).toBe('new')
    await putItem(memory, '/b', 'b2')
    // /b was kept: until the feed reports its change, the cache answers it
    expect((await cached.get('/b'))?.value).toBe('b')
    feed({type: 'changed', keys: ['/b']})
    expect((await cached.get('/b'))?.value).toBe('b2')
  })

  it('is a plain store for one that has no feed (SQLite, memory)', async () => {
    const {MemoryBackend} = await import('../../../src/lib/backend/memory.js')
    const memory = new MemoryBackend()
    expect(await CachedBackend.over(memory)).toBe(memory)
  })
})
