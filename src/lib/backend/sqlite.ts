/**
 * The embedded backend: one SQLite file in WAL mode, opened through Node's built-in
 * `node:sqlite` (no native add-on to compile, no install script; better-sqlite3 would need
 * both). Several processes (CLI runs, a server) may use the same file at once: every write
 * is a `BEGIN IMMEDIATE` transaction and readers see committed state only.
 */
import {closeSync, existsSync, mkdirSync, openSync, statSync} from 'node:fs'
import {dirname} from 'node:path'
import type {DatabaseSync, StatementSync} from 'node:sqlite'
import {WidError} from '../errors.js'
import {conditionFailed, conditionHolds, type Backend, type Condition, type Item, type Operation} from './backend.js'

/** Ordered schema migrations; `PRAGMA user_version` records how many have run. */
const MIGRATIONS = [
  `CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, revision INTEGER NOT NULL) WITHOUT ROWID;
   CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
   INSERT INTO meta (name, value) VALUES ('revision', 0);`,
]

const BUSY_TIMEOUT_MS = 30_000

export class SqliteBackend implements Backend {
  readonly kind = 'sqlite'
  readonly location: string
  private readonly db: DatabaseSync
  private readonly statements: {
    get: StatementSync
    list: StatementSync
    revisionOf: StatementSync
    put: StatementSync
    remove: StatementSync
    bump: StatementSync
  }

  private constructor(location: string, db: DatabaseSync) {
    this.location = location
    this.db = db
    this.statements = {
      get: db.prepare('SELECT key, value, revision FROM kv WHERE key = ?'),
      list: db.prepare(
        'SELECT key, value, revision FROM kv WHERE key >= ?1 AND (?2 IS NULL OR key < ?2) AND substr(key, 1, ?3) = ?1 ORDER BY key',
      ),
      revisionOf: db.prepare('SELECT revision FROM kv WHERE key = ?'),
      put: db.prepare(
        'INSERT INTO kv (key, value, revision) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, revision = excluded.revision',
      ),
      remove: db.prepare('DELETE FROM kv WHERE key = ?'),
      bump: db.prepare("UPDATE meta SET value = value + 1 WHERE name = 'revision' RETURNING value"),
    }
  }

  /** Opens (creating if needed, mode 0600 in a 0700 directory) and migrates the database. */
  static async open(path: string): Promise<SqliteBackend> {
    const {DatabaseSync} = await import('node:sqlite')
    const dir = dirname(path)
    try {
      mkdirSync(dir, {recursive: true, mode: 0o700})
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'EEXIST' || code === 'ENOTDIR') throw new WidError('bad_input', `backend: ${dir} (WID_HOME) is not a directory`)
      throw new WidError('io', `backend: cannot create ${dir}: ${code === 'EACCES' ? 'permission denied' : (error as Error).message}`)
    }
    try {
      await claimOrCheck(path)
      const db = new DatabaseSync(path, {timeout: BUSY_TIMEOUT_MS})
      db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;')
      migrate(db)
      return new SqliteBackend(path, db)
    } catch (error) {
      throw storageError(path, error)
    }
  }

  async get(key: string): Promise<Item | undefined> {
    return this.guard(() => this.statements.get.get(key) as Item | undefined)
  }

  async list(prefix: string): Promise<Item[]> {
    const chars = [...prefix]
    return this.guard(() => this.statements.list.all(prefix, upperBound(chars), chars.length) as unknown as Item[])
  }

  private guard<T>(body: () => T): T {
    try {
      return body()
    } catch (error) {
      throw storageError(this.location, error)
    }
  }

  async atomicWrite(conditions: Condition[], operations: Operation[]): Promise<number> {
    return this.guard(() => this.write(conditions, operations))
  }

  private write(conditions: Condition[], operations: Operation[]): number {
    return transaction(this.db, () => {
      for (const condition of conditions) {
        const row = this.statements.revisionOf.get(condition.key) as {revision: number} | undefined
        if (!conditionHolds(condition, row?.revision)) throw conditionFailed(condition)
      }
      const {value: revision} = this.statements.bump.get() as {value: number}
      for (const op of operations) {
        if (op.type === 'put') this.statements.put.run(op.key, op.value, revision)
        else this.statements.remove.run(op.key)
      }
      return revision
    })
  }

  async close(): Promise<void> {
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
