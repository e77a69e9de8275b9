/**
 * The embedded backend: one SQLite file in WAL mode, opened through Node's built-in
 * `node:sqlite` (no native add-on to compile, no install script; better-sqlite3 would need
 * both). Several processes (CLI runs, a server) may use the same file at once: every write
 * is a `BEGIN IMMEDIATE` transaction and readers see committed state only.
 */
import {closeSync, existsSync, mkdirSync, openSync, statSync} from 'node:fs'
import {dirname} from 'node:path'
import type {DatabaseSync, StatementSync} from 'node:sqlite'
import type {MessagePort, Worker} from 'node:worker_threads'
import {isWidError, WidError, type ErrorCode} from '../errors.js'
import {checkPrivateDirectory} from '../output/private-dir.js'
import {conditionFailed, conditionHolds, type Backend, type Condition, type Item, type Operation} from './backend.js'

/** Ordered schema migrations; `PRAGMA user_version` records how many have run. */
const MIGRATIONS = [
  `CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, revision INTEGER NOT NULL) WITHOUT ROWID;
   CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
   INSERT INTO meta (name, value) VALUES ('revision', 0);`,
]

const BUSY_TIMEOUT_MS = 30_000
/** How often get asks whether another connection committed (see SqliteBackend.readCache). */
const CACHE_CHECK_MS = 1
/** Items kept by the read cache before it starts over (get reads resources, authorities and settings). */
const READ_CACHE_LIMIT = 10_000
/**
 * Set in a writer thread's environment to the database path (see SqliteOptions.writerThread).
 * An environment variable rather than workerData so that ordinary runs need not load
 * node:worker_threads (1.5 ms at start-up) to find out that they are not a writer thread.
 */
const WRITER_THREAD_ENV = 'WID_SQLITE_WRITER_THREAD'

/** The open backends of this process: a commit by one makes the others check for changes at once. */
const openBackends = new Set<SqliteBackend>()

export interface SqliteOptions {
  /**
   * Commit writes on a thread of their own, through a second connection, so that the
   * event loop does not wait for fsync (synchronous=FULL) while other requests could run.
   * Worth it for the server; a CLI run would only pay for starting the thread.
   */
  writerThread?: boolean
}

interface Statements {
  get: StatementSync
  list: StatementSync
  revisionOf: StatementSync
  put: StatementSync
  remove: StatementSync
  bump: StatementSync
  dataVersion: StatementSync
}

function prepareStatements(db: DatabaseSync): Statements {
  return {
    get: db.prepare('SELECT key, value, revision FROM kv WHERE key = ?'),
    list: db.prepare('SELECT key, value, revision FROM kv WHERE key >= ?1 AND (?2 IS NULL OR key < ?2) AND substr(key, 1, ?3) = ?1 ORDER BY key'),
    revisionOf: db.prepare('SELECT revision FROM kv WHERE key = ?'),
    put: db.prepare(
      'INSERT INTO kv (key, value, revision) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, revision = excluded.revision',
    ),
    remove: db.prepare('DELETE FROM kv WHERE key = ?'),
    bump: db.prepare("UPDATE meta SET value = value + 1 WHERE name = 'revision' RETURNING value"),
    dataVersion: db.prepare('PRAGMA data_version'),
  }
}

async function connect(path: string): Promise<DatabaseSync> {
  const {DatabaseSync} = await import('node:sqlite')
  const db = new DatabaseSync(path, {timeout: BUSY_TIMEOUT_MS})
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;')
  return db
}

/** One atomic write: the conditions checked and the operations applied in one transaction. */
function applyWrite(db: DatabaseSync, statements: Statements, conditions: Condition[], operations: Operation[]): number {
  return transaction(db, () => {
    for (const condition of conditions) {
      const row = statements.revisionOf.get(condition.key) as {revision: number} | undefined
      if (!conditionHolds(condition, row?.revision)) throw conditionFailed(condition)
    }
    const {value: revision} = statements.bump.get() as {value: number}
    for (const op of operations) {
      if (op.type === 'put') statements.put.run(op.key, op.value, revision)
      else statements.remove.run(op.key)
    }
    return revision
  })
}

interface WriteRequest {
  id: number
  conditions: Condition[]
  operations: Operation[]
}

/** An error as it crosses from the writer thread: a WidError keeps its code, others what storageError needs. */
type WriteReply = {id: number; revision: number} | {id: number; error: {message: string; widCode?: ErrorCode; code?: string; errcode?: number}}

type Waiter = {resolve: (revision: number) => void; reject: (error: unknown) => void}

/**
 * A thread that applies the writes of one backend through its own connection, in order.
 * If the thread dies, the writes it had not answered fail (whether they committed is
 * unknown) and the next write starts a new thread.
 */
class WriterThread {
  private readonly path: string
  private worker: Promise<Worker> | undefined
  private readonly pending = new Map<number, Waiter>()
  private readonly inFlight = new Set<Promise<number>>()
  private nextId = 0
  private closed = false

  private constructor(path: string) {
    this.path = path
  }

  /** Starts the thread and waits until its connection is open, so that a store it cannot open fails here. */
  static async start(path: string): Promise<WriterThread> {
    const writer = new WriterThread(path)
    await writer.ensureWorker()
    return writer
  }

  private ensureWorker(): Promise<Worker> {
    this.worker ??= this.spawn().catch((error: unknown) => {
      this.worker = undefined
      throw error
    })
    return this.worker
  }

  private async spawn(): Promise<Worker> {
    const {Worker} = await import('node:worker_threads')
    const worker = new Worker(new URL(import.meta.url), {name: 'wid-sqlite', env: {...process.env, [WRITER_THREAD_ENV]: this.path}})
    await new Promise<void>((resolve, reject) => {
      const settle = (error?: unknown) => {
        worker.off('message', onReady)
        worker.off('error', settle)
        worker.off('exit', onExit)
        if (error === undefined) resolve()
        else reject(error)
      }
      const onReady = (ready: {ready: true} | {error: string}) =>
        settle('ready' in ready ? undefined : new WidError('state', `backend: the writer thread cannot open ${this.path}: ${ready.error}`))
      const onExit = (code: number) => settle(new WidError('internal', `backend: the writer thread of ${this.path} exited at start (code ${code})`))
      worker.on('message', onReady)
      worker.on('error', settle)
      worker.on('exit', onExit)
    })
    worker.on('message', (reply: WriteReply) => {
      const waiter = this.pending.get(reply.id)
      this.pending.delete(reply.id)
      if ('revision' in reply) return waiter?.resolve(reply.revision)
      const {message, widCode, ...details} = reply.error
      waiter?.reject(widCode ? new WidError(widCode, message) : Object.assign(new Error(message), details))
    })
    worker.on('error', (error) => this.lost(worker, `failed: ${error.message}`))
    worker.on('exit', (code) => this.lost(worker, `exited (code ${code})`))
    return worker
  }

  /** The thread is gone: what it had not answered fails, and the next write starts another. */
  private lost(worker: Worker, why: string): void {
    void this.worker?.then((current) => {
      if (current !== worker) return
      this.worker = undefined
      const error = new WidError('internal', `backend: the writer thread of ${this.path} ${why}; the write may or may not have been applied`)
      for (const waiter of this.pending.values()) waiter.reject(error)
      this.pending.clear()
    })
  }

  write(conditions: Condition[], operations: Operation[]): Promise<number> {
    if (this.closed) return Promise.reject(new WidError('unavailable', `backend: ${this.path} is closed`))
    const id = this.nextId++
    const written = this.ensureWorker().then(
      (worker) =>
        new Promise<number>((resolve, reject) => {
          this.pending.set(id, {resolve, reject})
          worker.postMessage({id, conditions, operations} satisfies WriteRequest)
        }),
    )
    this.inFlight.add(written)
    const settled = () => void this.inFlight.delete(written)
    written.then(settled, settled)
    return written
  }

  /** Refuses new writes, waits for those in flight, then stops the thread. */
  async close(): Promise<void> {
    this.closed = true
    await Promise.allSettled(this.inFlight)
    const worker = await this.worker?.catch(() => undefined)
    this.worker = undefined
    await worker?.terminate()
  }
}

/** The body of a writer thread: applies each request in order and answers with the revision or the error. */
async function runWriterThread(path: string, parentPort: MessagePort): Promise<void> {
  let db: DatabaseSync
  let statements: Statements
  try {
    db = await connect(path)
    statements = prepareStatements(db)
  } catch (error) {
    parentPort.postMessage({error: (error as Error).message})
    return
  }
  parentPort.on('message', (request: WriteRequest) => {
    let reply: WriteReply
    try {
      reply = {id: request.id, revision: applyWrite(db, statements, request.conditions, request.operations)}
    } catch (error) {
      const {message, code, errcode} = error as {message?: string; code?: string; errcode?: number}
      reply = {id: request.id, error: {message: message ?? String(error), code, errcode, ...(isWidError(error) ? {widCode: error.code} : {})}}
    }
    parentPort.postMessage(reply)
  })
  parentPort.postMessage({ready: true})
}

const writerThreadOf = process.env[WRITER_THREAD_ENV]
if (writerThreadOf) {
  const {isMainThread, parentPort} = await import('node:worker_threads')
  if (!isMainThread && parentPort) await runWriterThread(writerThreadOf, parentPort)
}

export class SqliteBackend implements Backend {
  readonly kind = 'sqlite'
  readonly location: string
  private readonly db: DatabaseSync
  private readonly statements: Statements
  private readonly writer: WriterThread | undefined
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

  private constructor(location: string, db: DatabaseSync, writer: WriterThread | undefined) {
    this.location = location
    this.db = db
    this.statements = prepareStatements(db)
    this.writer = writer
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
      const backend = new SqliteBackend(path, db, options.writerThread ? await WriterThread.start(path) : undefined)
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
      if (item === undefined && !this.readCache.has(key)) {
        item = this.statements.get.get(key) as Item | undefined
        this.readCache.set(key, item && {key: item.key, value: item.value, revision: item.revision})
      }
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

  async atomicWrite(conditions: Condition[], operations: Operation[]): Promise<number> {
    try {
      if (this.writer) return await this.writer.write(conditions, operations)
      return applyWrite(this.db, this.statements, conditions, operations)
    } catch (error) {
      throw storageError(this.location, error)
    } finally {
      for (const op of operations) this.readCache.delete(op.key)
      for (const other of openBackends) if (other !== this || this.writer) other.checkedAt = -Infinity
    }
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

function transaction<T>(db: DatabaseSync, body: () => T): T {
  db.exec('BEGIN IMMEDIATE')
  try {
    const result = body()
    db.exec('COMMIT')
    return result
  } catch (error) {
    db.exec('ROLLBACK')
    throw error
  }
}

function migrate(db: DatabaseSync): void {
  const current = () => (db.prepare('PRAGMA user_version').get() as {user_version: number}).user_version
  if (current() === MIGRATIONS.length) return
  transaction(db, () => {
    const version = current()
    if (version > MIGRATIONS.length) {
      throw new WidError('state', `backend: the database was written by a newer wid (schema ${version}); upgrade wid`)
    }
    for (let i = version; i < MIGRATIONS.length; i++) db.exec(MIGRATIONS[i]!)
    db.exec(`PRAGMA user_version = ${MIGRATIONS.length}`)
  })
}
