/**
 * The embedded backend: one SQLite file in WAL mode, opened through Node's built-in
 * `node:sqlite` (no native add-on to compile, no install script; better-sqlite3 would need
 * both). Several processes (CLI runs, a server) may use the same file at once: every write
 * is a `BEGIN IMMEDIATE` transaction and readers see committed state only.
 */
import {closeSync, existsSync, mkdirSync, openSync, statSync} from 'node:fs'
import {dirname} from 'node:path'
import type {DatabaseSync} from 'node:sqlite'
import {isWidError, WidError} from '../errors.js'
import {checkPrivateDirectory} from '../output/private-dir.js'
import {StoreNotEmpty, type Backend, type Condition, type Item, type Operation, type Position, type SnapshotReader, type StoreObserver} from './backend.js'
import {connect, prepareStatements, transaction, type Statements} from './sqlite-statements.js'
import {runTask, WriterThread, type WriteTask} from './sqlite-writer.js'

/**
 * Ordered schema migrations; `PRAGMA user_version` records how many have run. The second
 * indexes revisions, for following the audit log in commit order (listAfter).
 */
const MIGRATIONS = [
  `CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, revision INTEGER NOT NULL) WITHOUT ROWID;
   CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
   INSERT INTO meta (name, value) VALUES ('revision', 0);`,
  'CREATE INDEX kv_revision ON kv (revision, key);',
]

/** SQLite's code for auto_vacuum = INCREMENTAL: freed pages can be given back to the file system (deleteRange). */
const INCREMENTAL_VACUUM = 2
/** How often get asks whether another connection committed (see SqliteBackend.readCache). */
const CACHE_CHECK_MS = 1
/** Items kept by the read cache before it starts over (get reads resources, authorities and settings). */
const READ_CACHE_LIMIT = 10_000
/** Rows per page of a snapshot. */
const SNAPSHOT_PAGE = 1000

/** The open backends of this process: a commit by one makes the others check for changes at once. */
const openBackends = new Set<SqliteBackend>()

export interface SqliteOptions {
  /**
   * Commit writes on a thread of their own (sqlite-writer.ts). Worth it for the server; a
   * CLI run would only pay for starting the thread.
   */
  writerThread?: boolean
  /** Told of every write's time and of read-cache hits (a server with --diag-addr). */
  observer?: StoreObserver
}

export class SqliteBackend implements Backend {
  readonly kind = 'sqlite'
  readonly location: string
  private readonly db: DatabaseSync
  private readonly statements: Statements
  private readonly writer: WriterThread | undefined
  private readonly observer: StoreObserver | undefined
  /**
   * Items read by get, kept while nobody else commits. `PRAGMA data_version` changes exactly
   * when another connection (a CLI run, another server, the writer thread) has committed
   * since this connection last asked. Asking costs about as much as a read, so it is asked
   * at most once per CACHE_CHECK_MS: a get sees every write committed by others more than
   * that long before it, this connection's own writes at once (they drop the entries they
   * touch), and writes by other backends of this process at once (see openBackends).
   */
  private readonly readCache = new Map<string, Item | undefined>()
  private cachedDataVersion = -1
  private checkedAt = -Infinity

  private constructor(location: string, db: DatabaseSync, writer: WriterThread | undefined, observer: StoreObserver | undefined) {
    this.location = location
    this.db = db
    this.statements = prepareStatements(db)
    this.writer = writer
    this.observer = observer
  }

  /** Opens (creating if needed, mode 0600 in a 0700 directory) and migrates the database. */
  static async open(path: string, options: SqliteOptions = {}): Promise<SqliteBackend> {
    const dir = dirname(path)
    // Nobody else may be able to change the store's directory: checked before it is created
    // or opened, and again after creating it, in case someone made it in between.
    const checkDirectory = () => checkPrivateDirectory(dir, {prefix: 'backend', label: 'WID_HOME'})
    const existed = checkDirectory()
    try {
      mkdirSync(dir, {recursive: true, mode: 0o700})
      if (!existed) checkDirectory()
    } catch (error) {
      if (isWidError(error)) throw error
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'EEXIST' || code === 'ENOTDIR') throw new WidError('bad_input', `backend: ${dir} (WID_HOME) is not a directory`)
      throw new WidError('io', `backend: cannot create ${dir}: ${code === 'EACCES' ? 'permission denied' : (error as Error).message}`)
    }
    try {
      await claimOrCheck(path)
      const db = await connect(path)
      migrate(db)
      const backend = new SqliteBackend(path, db, options.writerThread ? await WriterThread.start(path) : undefined, options.observer)
      openBackends.add(backend)
      return backend
    } catch (error) {
      throw storageError(path, error)
    }
  }

  async get(key: string): Promise<Item | undefined> {
    return this.guard(() => {
      const now = performance.now()
      if (now - this.checkedAt > CACHE_CHECK_MS) {
        this.checkedAt = now
        const {data_version: version} = this.statements.dataVersion.get() as {data_version: number}
        if (version !== this.cachedDataVersion || this.readCache.size >= READ_CACHE_LIMIT) {
          this.readCache.clear()
          this.cachedDataVersion = version
        }
      }
      let item = this.readCache.get(key)
      const hit = item !== undefined || this.readCache.has(key)
      if (!hit) {
        item = this.statements.get.get(key) as Item | undefined
        this.readCache.set(key, item && {key: item.key, value: item.value, revision: item.revision})
      }
      this.observer?.cacheRead(hit)
      return item && {...item}
    })
  }

  async list(prefix: string): Promise<Item[]> {
    const chars = [...prefix]
    return this.guard(() => this.statements.list.all(prefix, upperBound(chars), chars.length) as unknown as Item[])
  }

  async ping(): Promise<void> {
    this.guard(() => this.statements.dataVersion.get())
  }

  private guard<T>(body: () => T): T {
    try {
      return body()
    } catch (error) {
      throw storageError(this.location, error)
    }
  }

  async listAfter(prefix: string, after: Position, limit: number): Promise<Item[]> {
    const chars = [...prefix]
    return this.guard(() =>
      after.key === undefined
        ? (this.statements.listAfter.all(prefix, upperBound(chars), chars.length, after.revision, limit) as unknown as Item[])
        : (this.statements.listAfterKey.all(prefix, upperBound(chars), chars.length, after.revision, limit, after.key) as unknown as Item[]),
    )
  }

  atomicWrite(conditions: Condition[], operations: Operation[]): Promise<number> {
    return this.run({type: 'write', conditions, operations}, operations.map((op) => op.key))
  }

  deleteRange(from: string, before: string, limit: number): Promise<number> {
    return this.run({type: 'deleteRange', from, before, limit})
  }

  /** A task on the writer thread, or here; then what this process has read of the keys it touched (all: undefined) is forgotten. */
  private async run(task: WriteTask, keys?: string[]): Promise<number> {
    const started = performance.now()
    try {
      if (this.writer) return await this.writer.run(task)
      return runTask(this.db, this.statements, task)
    } catch (error) {
      throw storageError(this.location, error)
    } finally {
      this.observer?.wrote((performance.now() - started) / 1000)
      if (keys) for (const key of keys) this.readCache.delete(key)
      else this.readCache.clear()
      for (const other of openBackends) if (other !== this || this.writer) other.checkedAt = -Infinity
    }
  }

  /**
   * A read transaction on a connection of its own: in WAL mode it sees the store as of its
   * first read, whatever commits meanwhile, and holds no lock that writers wait for.
   */
  async readSnapshot<T>(read: SnapshotReader<T>): Promise<T> {
    let db: DatabaseSync
    try {
      db = await connect(this.location, {readOnly: true})
      db.exec('BEGIN')
    } catch (error) {
      throw storageError(this.location, error)
    }
    try {
      const {value: revision} = this.guard(() => db.prepare("SELECT value FROM meta WHERE name = 'revision'").get() as {value: number})
      const rows = db.prepare('SELECT key, value, revision FROM kv ORDER BY key').iterate() as IterableIterator<Item>
      const location = this.location
      async function* pages(): AsyncGenerator<Item[]> {
        try {
          for (let page = nextPage(rows); page.length > 0; page = nextPage(rows)) yield page
        } catch (error) {
          throw storageError(location, error)
        }
      }
      return await read(revision, pages())
    } finally {
      db.close()
    }
  }

  /** One transaction on this connection, held across the pages as they arrive (a restore has the store to itself). */
  async load(revision: number, pages: AsyncIterable<Item[]>): Promise<{items: number}> {
    let items = 0
    this.guard(() => this.db.exec('BEGIN IMMEDIATE'))
    try {
      const held = this.guard(() => (this.db.prepare('SELECT count(*) AS n FROM kv').get() as {n: number}).n)
      if (held > 0) throw new StoreNotEmpty(this.location, held)
      const insert = this.db.prepare('INSERT INTO kv (key, value, revision) VALUES (?, ?, ?)')
      for await (const page of pages) {
        this.guard(() => {
          for (const item of page) insert.run(item.key, item.value, item.revision)
        })
        items += page.length
      }
      this.guard(() => this.db.prepare("UPDATE meta SET value = max(value, ?) WHERE name = 'revision'").run(revision))
      this.guard(() => this.db.exec('COMMIT'))
    } catch (error) {
      if (this.db.isTransaction) this.db.exec('ROLLBACK')
      throw error
    } finally {
      this.readCache.clear()
    }
    return {items}
  }

  async close(): Promise<void> {
    openBackends.delete(this)
    await this.writer?.close()
    if (this.db.isOpen) this.db.close()
  }
}

/**
 * The smallest string above every string that starts with the prefix (SQLite compares
 * TEXT as UTF-8 bytes, i.e. by code point), so that the index bounds the scan; null when
 * no such string is cheap to name, and the substr() test alone decides.
 */
function upperBound(chars: string[]): string | null {
  const last = chars.at(-1)?.codePointAt(0)
  if (last === undefined || last === 0x10ffff || last === 0xd7ff) return null
  return chars.slice(0, -1).join('') + String.fromCodePoint(last + 1)
}

function nextPage(rows: IterableIterator<Item>): Item[] {
  const page: Item[] = []
  for (let next = rows.next(); !next.done; next = page.length < SNAPSHOT_PAGE ? rows.next() : {done: true, value: undefined}) {
    const {key, value, revision} = next.value
    page.push({key, value, revision})
  }
  return page
}

/**
 * Creates the database file (0600) if it does not exist. An existing file that stays empty
 * is not a store being created by a concurrent first use (that one gains its header within
 * milliseconds) but a truncated one: refuse it rather than start a new cluster over it.
 */
async function claimOrCheck(path: string): Promise<void> {
  try {
    closeSync(openSync(path, 'wx', 0o600))
    return
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
  }
  for (let waited = 0; statSync(path).size === 0 && !existsSync(`${path}-wal`); waited += 50) {
    if (waited >= 3000) {
      throw new WidError('state', `backend: ${path} is empty (truncated?); restore it from a backup, or move it away to start a new cluster`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** SQLite and file-system failures as WidErrors: a damaged store is `state`, a busy one `unavailable`. */
function storageError(path: string, error: unknown): WidError {
  if (error instanceof WidError) return error
  const {code, errcode, message} = error as {code?: string; errcode?: number; message?: string}
  if (code === 'EACCES' || code === 'EPERM') return new WidError('io', `backend: cannot open ${path}: permission denied`)
  if (code === 'EROFS') return new WidError('io', `backend: cannot open ${path}: read-only file system`)
  if (code === 'ENOSPC') return new WidError('io', `backend: cannot write ${path}: no space left on device`)
  // SQLITE_BUSY (5) and SQLITE_LOCKED (6): another process holds the database for too long
  if (errcode !== undefined && (errcode & 0xff) === 5) return new WidError('unavailable', `backend: ${path} is busy (another wid holds it); try again`)
  const detail = (message ?? String(error)).replace(/\.$/, '')
  return new WidError('state', `backend: ${path}: ${detail}; the store may be damaged (restore it from a backup, or move it away to start a new cluster)`, {cause: error})
}

function migrate(db: DatabaseSync): void {
  const current = () => (db.prepare('PRAGMA user_version').get() as {user_version: number}).user_version
  const autoVacuum = () => (db.prepare('PRAGMA auto_vacuum').get() as {auto_vacuum: number}).auto_vacuum
  if (current() === MIGRATIONS.length && autoVacuum() === INCREMENTAL_VACUUM) return
  // Takes effect at once on a new file (no table yet); an older one needs the VACUUM below.
  if (current() === 0) db.exec(`PRAGMA auto_vacuum = ${INCREMENTAL_VACUUM}`)
  transaction(db, () => {
    const version = current()
    if (version > MIGRATIONS.length) {
      throw new WidError('state', `backend: the database was written by a newer wid (schema ${version}); upgrade wid`)
    }
    for (let i = version; i < MIGRATIONS.length; i++) db.exec(MIGRATIONS[i]!)
    db.exec(`PRAGMA user_version = ${MIGRATIONS.length}`)
  })
  // A store made before wid gave space back (deleteRange): rewritten once so that it can.
  if (autoVacuum() !== INCREMENTAL_VACUUM) db.exec(`PRAGMA auto_vacuum = ${INCREMENTAL_VACUUM}; VACUUM`)
}
