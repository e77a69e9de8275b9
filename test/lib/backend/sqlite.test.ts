/**
 * SqliteBackend specifics: file permissions, persistence, sharing one file between
 * backend objects and between processes, and refusing a schema from a newer wid.
 */
import {spawn} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {DatabaseSync} from 'node:sqlite'
import {fileURLToPath} from 'node:url'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {createItem, putItem, updateItem} from '../../../src/lib/backend/backend.js'
import {SqliteBackend} from '../../../src/lib/backend/sqlite.js'
import {rejection} from '../../helpers/errors.js'

/** Run by plain node, which strips its types and (through its own hook) those of the sources. */
const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'backend-race.ts')

let dir: string
const open: SqliteBackend[] = []

async function openBackend(path: string): Promise<SqliteBackend> {
  const backend = await SqliteBackend.open(path)
  open.push(backend)
  return backend
}

const mode = (path: string) => statSync(path).mode & 0o777

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'wid-sqlite-'))
})

afterEach(async () => {
  for (const backend of open.splice(0)) await backend.close()
  rmSync(dir, {recursive: true, force: true})
})

describe('SqliteBackend.open', () => {
  it('creates the database file 0600 inside a new 0700 directory', async () => {
    // Given a path whose directories do not exist yet
    const path = join(dir, 'home', 'state', 'wid.db')
    // When the backend is opened and written to (so that the WAL files exist too)
    const backend = await openBackend(path)
    await putItem(backend, '/k', 'v')
    // Then the created directories are 0700 and the database and its WAL files 0600
    expect(mode(join(dir, 'home'))).toBe(0o700)
    expect(mode(join(dir, 'home', 'state'))).toBe(0o700)
    expect(mode(path)).toBe(0o600)
    expect(mode(`${path}-wal`)).toBe(0o600)
    expect(mode(`${path}-shm`)).toBe(0o600)
    // And it reports where it lives
    expect(backend.kind).toBe('sqlite')
    expect(backend.location).toBe(path)
  })

  it('keeps the data across close and reopen', async () => {
    // Given a backend with a few writes
    const path = join(dir, 'wid.db')
    const first = await SqliteBackend.open(path)
    await createItem(first, '/a', 'alpha')
    const revision = await createItem(first, '/b', 'bravo ✓')
    // When it is closed and the file is opened again
    await first.close()
    await first.close() // closing twice is harmless
    const second = await openBackend(path)
    // Then the items, their revisions and the revision counter survived
    expect(await second.get('/a')).toMatchObject({value: 'alpha'})
    expect(await second.get('/b')).toMatchObject({value: 'bravo ✓', revision})
    expect(await putItem(second, '/c', 'charlie')).toBeGreaterThan(revision)
  })

  it('lets a second backend object on the same file see writes at once', async () => {
    // Given two backend objects on one file
    const path = join(dir, 'wid.db')
    const a = await openBackend(path)
    const b = await openBackend(path)
    // When one writes
    const r1 = await createItem(a, '/shared', 'from a')
    // Then the other reads it immediately and cannot create it again
    expect(await b.get('/shared')).toMatchObject({value: 'from a', revision: r1})
    expect((await rejection(createItem(b, '/shared', 'from b'))).code).toBe('compare_failed')
    // When the second updates it, the first's stale revision no longer works
    const r2 = await updateItem(b, '/shared', 'from b', r1)
    expect(r2).toBeGreaterThan(r1)
    expect(await a.list('/')).toMatchObject([{key: '/shared', value: 'from b', revision: r2}])
    expect((await rejection(updateItem(a, '/shared', 'stale', r1))).code).toBe('compare_failed')
    // And both share one store-wide revision counter
    expect(await putItem(a, '/other', 'x')).toBeGreaterThan(r2)
  })

  it('serves repeated reads from its cache yet sees a sibling backend\'s write at once', async () => {
    // Given two backend objects on one file, the first having read a key (so it is cached)
    const path = join(dir, 'wid.db')
    const a = await openBackend(path)
    const b = await openBackend(path)
    const r1 = await createItem(a, '/cached', 'one')
    expect(await a.get('/cached')).toMatchObject({value: 'one', revision: r1})
    expect(await b.get('/cached')).toMatchObject({value: 'one', revision: r1})
    // When the other updates it and deletes nothing else, without the event loop turning
    const r2 = await updateItem(b, '/cached', 'two', r1)
    // Then the first reads the new value at once, and a returned item cannot change the cache
    const item = await a.get('/cached')
    expect(item).toMatchObject({value: 'two', revision: r2})
    item!.value = 'mutated'
    expect((await a.get('/cached'))?.value).toBe('two')
  })

  it('refuses a database written by a newer schema, asking to upgrade, and leaves it alone', async () => {
    // Given a database whose user_version is beyond the migrations this code knows
    const path = join(dir, 'wid.db')
    const backend = await SqliteBackend.open(path)
    await putItem(backend, '/keep', 'me')
    await backend.close()
    const raw = new DatabaseSync(path)
    raw.exec('PRAGMA user_version = 99')
    raw.close()
    // When the backend opens it
    const error = await rejection(SqliteBackend.open(path))
    // Then it is refused with a state error that mentions the schema and upgrading
    expect(error.code).toBe('state')
    expect(error.message).toContain('99')
    expect(error.message).toMatch(/upgrad/i)
    // And the file still has its version and data
    const check = new DatabaseSync(path, {readOnly: true})
    expect(check.prepare('PRAGMA user_version').get()).toMatchObject({user_version: 99})
    expect(check.prepare('SELECT value FROM kv WHERE key = ?').get('/keep')).toMatchObject({value: 'me'})
    check.close()
  })

  it('upgrades a store of an earlier wid (schema 1, space never given back), keeping its items', async () => {
    // Given a store as wid wrote it before schema 2: no revision index, auto_vacuum off
    const path = join(dir, 'wid.db')
    const raw = new DatabaseSync(path)
    raw.exec(`PRAGMA journal_mode = WAL;
      CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, revision INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
      INSERT INTO meta (name, value) VALUES ('revision', 7);
      INSERT INTO kv (key, value, revision) VALUES ('/keep', 'me', 7);
      PRAGMA user_version = 1;`)
    raw.close()
    // When the backend opens it
    const backend = await openBackend(path)
    // Then its items and counter are as they were, and it is at schema 2 with incremental vacuum
    expect(await backend.get('/keep')).toEqual({key: '/keep', value: 'me', revision: 7})
    expect(await putItem(backend, '/next', 'x')).toBe(8)
    const check = new DatabaseSync(path, {readOnly: true})
    expect(check.prepare('PRAGMA user_version').get()).toMatchObject({user_version: 2})
    expect(check.prepare('PRAGMA auto_vacuum').get()).toMatchObject({auto_vacuum: 2})
    expect(check.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'kv_revision'").get()).toBeDefined()
    check.close()
  })

  it('gives the space of deleted ranges back to the file system once a quarter of the file is free', async () => {
    // Given a store grown to several MB by 20,000 audit-like items
    const path = join(dir, 'wid.db')
    const backend = await openBackend(path)
    const value = 'x'.repeat(300)
    for (let i = 0; i < 20; i++) {
      await backend.atomicWrite([], Array.from({length: 1000}, (_, j) => ({key: `/audit/${String(i * 1000 + j).padStart(6, '0')}`, type: 'put' as const, value})))
    }
    const pages = () => {
      const db = new DatabaseSync(path, {readOnly: true})
      const {page_count: count} = db.prepare('PRAGMA page_count').get() as {page_count: number}
      const {freelist_count: free} = db.prepare('PRAGMA freelist_count').get() as {freelist_count: number}
      db.close()
      return {count, free}
    }
    const full = pages().count
    // When a tenth is deleted, the pages stay in the file, free for the next writes
    expect(await backend.deleteRange('/audit/', '/audit/002000', 100_000)).toBe(2000)
    expect(pages().count).toBe(full)
    expect(pages().free).toBeGreaterThan(0)
    // And when most of it is deleted, the file gives them back
    expect(await backend.deleteRange('/audit/', '/audit/018000', 100_000)).toBe(16_000)
    expect(pages().count).toBeLessThan(full / 4)
    expect(pages().free).toBe(0)
    expect((await backend.list('/audit/')).length).toBe(2000)
  })

  it('reports a data directory that is really a file as bad input naming it', async () => {
    // Given a "directory" that is really a file
    const blocker = join(dir, 'file')
    writeFileSync(blocker, 'not a directory')
    // When the backend is opened beneath it
    const error = await rejection(SqliteBackend.open(join(blocker, 'wid.db')))
    // Then the error is a WidError naming the path
    expect(error.code).toBe('bad_input')
    expect(error.message).toBe(`backend: ${blocker} (WID_HOME) is not a directory`)
  })

  it('refuses an existing empty database file instead of starting a new cluster over it', async () => {
    // Given a store truncated to zero bytes (a full disk, a bad copy)
    const path = join(dir, 'truncated.db')
    writeFileSync(path, '')
    // When it is opened
    const error = await rejection(SqliteBackend.open(path))
    // Then it is refused as damaged state, and left as it was
    expect(error.code).toBe('state')
    expect(error.message).toMatch(/is empty \(truncated\?\)/)
    expect(readFileSync(path).length).toBe(0)
  })

  it('reports a damaged database as a state error naming the path', async () => {
    // Given a database file full of garbage
    const path = join(dir, 'garbage.db')
    writeFileSync(path, Buffer.alloc(8192, 0x5a))
    // When it is opened
    const error = await rejection(SqliteBackend.open(path))
    // Then the error says the store may be damaged
    expect(error.code).toBe('state')
    expect(error.message).toContain(path)
    expect(error.message).toMatch(/the store may be damaged/)
  })
})

describe('SqliteBackend across processes', () => {
  /** Starts `count` children, releases them together once all are ready, and returns their JSON results. */
  async function race<T>(count: number, args: string[]): Promise<T[]> {
    const children = Array.from({length: count}, () => {
      const child = spawn(process.execPath, [FIXTURE, ...args], {stdio: ['pipe', 'pipe', 'pipe']})
      let stdout = ''
      let stderr = ''
      let onReady!: () => void
      const ready = new Promise<void>((resolve) => (onReady = resolve))
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk
        if (stdout.startsWith('ready\n')) onReady()
      })
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
      const exited = new Promise<T>((resolve, reject) =>
        child.on('exit', (code) => {
          if (code !== 0) return reject(new Error(`child exited ${code}: ${stderr}`))
          resolve(JSON.parse(stdout.split('\n')[1]!) as T)
        }),
      )
      return {child, ready: Promise.race([ready, exited.then(() => {})]), exited}
    })
    await Promise.all(children.map((c) => c.ready))
    for (const {child} of children) child.stdin.write('go\n')
    return Promise.all(children.map((c) => c.exited))
  }

  it('lets exactly one of 8 processes create the same key on a fresh database', async () => {
    // Given 8 processes that opened (and so concurrently created and migrated) one new database file
    const path = join(dir, 'race', 'wid.db')
    type Outcome = {ok: true; revision: number} | {ok: false; code: string; message: string}
    // When all of them create the same key at once
    const outcomes = await race<Outcome>(8, ['create', path, '/race/winner', 'x'])
    // Then exactly one succeeded and every other one got compare_failed naming the key
    const winners = outcomes.filter((o) => o.ok)
    const losers = outcomes.filter((o): o is Extract<Outcome, {ok: false}> => !o.ok)
    expect(winners).toHaveLength(1)
    expect(losers).toHaveLength(7)
    for (const loser of losers) {
      expect(loser.code).toBe('compare_failed')
      expect(loser.message).toContain('/race/winner')
    }
    // And the store holds the winner's write
    const backend = await openBackend(path)
    expect(await backend.get('/race/winner')).toMatchObject({value: 'x', revision: (winners[0] as {revision: number}).revision})
    expect(await backend.list('/')).toHaveLength(1)
  })

  it('sees a key another process created after this one read it as missing', async () => {
    // Given a backend that has read a key and found it missing (so the absence is cached)
    const path = join(dir, 'seen', 'wid.db')
    const reader = await openBackend(path)
    expect(await reader.get('/later')).toBeUndefined()
    // When another process creates it
    const [outcome] = await race<{ok: boolean; revision: number}>(1, ['create', path, '/later', 'made elsewhere'])
    expect(outcome?.ok).toBe(true)
    // Then the reader's next get returns it
    expect(await reader.get('/later')).toMatchObject({value: 'made elsewhere', revision: outcome!.revision})
  })

  it('loses no increment when 8 processes each add 50 with compare-and-swap retries', async () => {
    // Given a counter at 0
    const path = join(dir, 'wid.db')
    const seed = await openBackend(path)
    const start = await createItem(seed, '/counter', '0')
    // When 8 processes each do 50 read-modify-write increments, retrying on compare_failed
    const outcomes = await race<{revisions: number[]; retries: number}>(8, ['increment', path, '/counter', '50'])
    // Then the counter is exactly 400
    const final = await seed.get('/counter')
    expect(final?.value).toBe('400')
    // And the 400 successful writes got 400 distinct revisions, the last of which the counter carries
    const revisions = outcomes.flatMap((o) => o.revisions)
    expect(revisions).toHaveLength(400)
    expect(new Set(revisions).size).toBe(400)
    expect(Math.min(...revisions)).toBeGreaterThan(start)
    expect(final?.revision).toBe(Math.max(...revisions))
    // And each process saw its own revisions strictly increase
    for (const {revisions: own} of outcomes) for (let i = 1; i < own.length; i++) expect(own[i]).toBeGreaterThan(own[i - 1]!)
  })
})
