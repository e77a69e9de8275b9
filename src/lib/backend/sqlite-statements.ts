/**
 * The SQL of the embedded backend, shared by its main connection and its writer thread
 * (sqlite-writer.ts): the prepared statements, one atomic write, and a range deletion.
 */
import type {DatabaseSync, StatementSync} from 'node:sqlite'
import {conditionFailed, conditionHolds, type Condition, type Operation} from './backend.js'

const BUSY_TIMEOUT_MS = 30_000
/**
 * A WAL file that one large transaction (a restore, a big prune) grew is cut back to this
 * size at the next checkpoint, instead of keeping its largest size for ever.
 */
const WAL_SIZE_LIMIT = 16 * 1024 * 1024

export interface Statements {
  get: StatementSync
  list: StatementSync
  listAfter: StatementSync
  listAfterKey: StatementSync
  revisionOf: StatementSync
  put: StatementSync
  remove: StatementSync
  removeRange: StatementSync
  bump: StatementSync
  dataVersion: StatementSync
  freePages: StatementSync
  pageCount: StatementSync
}

export function prepareStatements(db: DatabaseSync): Statements {
  return {
    get: db.prepare('SELECT key, value, revision FROM kv WHERE key = ?'),
    list: db.prepare('SELECT key, value, revision FROM kv WHERE key >= ?1 AND (?2 IS NULL OR key < ?2) AND substr(key, 1, ?3) = ?1 ORDER BY key'),
    listAfter: db.prepare(
      'SELECT key, value, revision FROM kv INDEXED BY kv_revision WHERE revision > ?4 AND key >= ?1 AND (?2 IS NULL OR key < ?2) AND substr(key, 1, ?3) = ?1 ORDER BY revision, key LIMIT ?5',
    ),
    // A range of the (revision, key) index from the position on: one seek, however many keys its revision has
    listAfterKey: db.prepare(
      'SELECT key, value, revision FROM kv INDEXED BY kv_revision WHERE (revision, key) > (?4, ?6) AND key >= ?1 AND (?2 IS NULL OR key < ?2) AND substr(key, 1, ?3) = ?1 ORDER BY revision, key LIMIT ?5',
    ),
    revisionOf: db.prepare('SELECT revision FROM kv WHERE key = ?'),
    put: db.prepare(
      'INSERT INTO kv (key, value, revision) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, revision = excluded.revision',
    ),
    remove: db.prepare('DELETE FROM kv WHERE key = ?'),
    removeRange: db.prepare('DELETE FROM kv WHERE key IN (SELECT key FROM kv WHERE key >= ? AND key < ? ORDER BY key LIMIT ?)'),
    bump: db.prepare("UPDATE meta SET value = value + 1 WHERE name = 'revision' RETURNING value"),
    dataVersion: db.prepare('PRAGMA data_version'),
    freePages: db.prepare('PRAGMA freelist_count'),
    pageCount: db.prepare('PRAGMA page_count'),
  }
}

export async function connect(path: string, options: {readOnly?: boolean} = {}): Promise<DatabaseSync> {
  const {DatabaseSync} = await import('node:sqlite')
  const db = new DatabaseSync(path, {timeout: BUSY_TIMEOUT_MS, readOnly: options.readOnly ?? false})
  if (!options.readOnly) db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA journal_size_limit = ${WAL_SIZE_LIMIT};`)
  return db
}

/** One atomic write: the conditions checked and the operations applied in one transaction. */
export function applyWrite(db: DatabaseSync, statements: Statements, conditions: Condition[], operations: Operation[]): number {
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

/**
 * Deletes at most `limit` keys in [from, before), lowest first, and gives the file back the
 * space once a quarter of it is free: below that, the free pages are left for the next
 * writes to reuse (at steady state, what a prune frees is what the next hour of audit
 * events fills), rather than shrinking the file only to grow it again.
 */
export function applyDeleteRange(db: DatabaseSync, statements: Statements, from: string, before: string, limit: number): number {
  const deleted = Number(transaction(db, () => statements.removeRange.run(from, before, limit)).changes)
  const {freelist_count: free} = statements.freePages.get() as {freelist_count: number}
  const {page_count: pages} = statements.pageCount.get() as {page_count: number}
  if (free > 0 && free * 4 >= pages) db.exec('PRAGMA incremental_vacuum')
  return deleted
}

export function transaction<T>(db: DatabaseSync, body: () => T): T {
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
