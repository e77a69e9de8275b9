/**
 * The multi-server backend: several wid servers share one PostgreSQL database, through
 * node-postgres (`pg`), imported only when this backend is opened so that SQLite users do
 * not pay for loading it at start-up.
 *
 * Every write takes the row lock of one store-wide revision counter first and holds it
 * until it commits, so writers from every process run one at a time and revisions
 * increase in commit order: a reader that sees revision N+1 also sees N, which is what
 * lets a change feed resume "after revision N". Conditions are checked after the lock is
 * taken, in READ COMMITTED, so they see every write committed before (no retry loop, as
 * SERIALIZABLE would need). Each write also logs the keys it changed in `wid_changes` and
 * sends `NOTIFY wid_changes, '<revision>'`, both in its own transaction.
 */
import type {Pool, PoolClient, QueryResultRow} from 'pg'
import {WidError} from '../errors.js'
import {conditionFailed, conditionHolds, StoreNotEmpty, type Backend, type ChangeListener, type Condition, type Item, type Operation, type Position, type SnapshotReader, type StoreObserver} from './backend.js'
import {describe, NO_ANSWER, storageError, type PgModule, type Target} from './postgres-connection.js'

/** The NOTIFY channel of committed writes; the payload is the write's revision. */
export const CHANGES_CHANNEL = 'wid_changes'

/**
 * Ordered schema migrations; `wid_schema.version` records how many have run. Keys compare
 * as bytes (COLLATE "C" in a UTF8 database, i.e. UTF-8 byte order, as the other backends
 * do) whatever the database's default collation. Values are bytea because text cannot
 * hold NUL, which a value may contain.
 */
const MIGRATIONS = [
  `CREATE TABLE wid_kv (key text COLLATE "C" PRIMARY KEY, value bytea NOT NULL, revision bigint NOT NULL);
   CREATE TABLE wid_meta (name text PRIMARY KEY, value bigint NOT NULL);
   INSERT INTO wid_meta (name, value) VALUES ('revision', 0), ('pruned_through', 0);
   CREATE TABLE wid_changes (revision bigint NOT NULL, key text COLLATE "C" NOT NULL, deleted boolean NOT NULL, PRIMARY KEY (revision, key));`,
  'CREATE INDEX wid_kv_revision ON wid_kv (revision, key);',
]

/** Rows per page of a snapshot, and per statement of a load. */
const PAGE_ROWS = 1000

/** The advisory lock that servers starting together take around migrations ("wid" in ASCII, then 1). */
const MIGRATION_LOCK = '7821668001'

/** How long a write waits for another's lock before reporting the store busy, like SQLite's busy timeout. */
const LOCK_TIMEOUT_MS = 30_000
/**
 * A session that stalls inside a transaction (its process stopped or hung) is ended by the
 * server after this long, so that it does not hold the revision counter and block every
 * other server's writes.
 */
const IDLE_IN_TRANSACTION_MS = 60_000
/**
 * How long a statement's answer is waited for before its connection is given up, rather than
 * until TCP gives up on a hung host or a cut network, many minutes later. Longer than the
 * lock timeout, the longest that a database that answers makes a statement wait.
 */
const QUERY_TIMEOUT_MS = LOCK_TIMEOUT_MS + 10_000

const WRITE_SQL = `WITH ops AS (SELECT * FROM unnest($2::text[], $3::bytea[]) AS op (key, value)),
  put AS (INSERT INTO wid_kv (key, value, revision) SELECT key, value, $1::bigint FROM ops WHERE value IS NOT NULL
          ON CONFLICT (key) DO UPDATE SET value = excluded.value, revision = excluded.revision),
  removed AS (DELETE FROM wid_kv WHERE key IN (SELECT key FROM ops WHERE value IS NULL)),
  logged AS (INSERT INTO wid_changes (revision, key, deleted) SELECT $1::bigint, key, value IS NULL FROM ops)
  SELECT pg_notify('${CHANGES_CHANNEL}', $1::bigint::text)`

export interface PostgresOptions {
  /** Connections kept by this process (default 4): writes run one at a time anyway. */
  poolSize?: number
  /** How long to wait for a connection before reporting PostgreSQL unavailable (default 10 s). */
  connectTimeoutMs?: number
  /** How long to wait for a statement's answer before giving its connection up (default 40 s). */
  queryTimeoutMs?: number
  /** Told of every write transaction's time (a server with --diag-addr). */
  observer?: StoreObserver
}

/** One entry of the changes log: a key that the write of `revision` put or deleted. */
export interface Change {
  revision: number
  key: string
  deleted: boolean
}

interface Row {
  key: string
  value: Buffer
  revision: string
}

const toItem = (row: Row): Item => ({key: row.key, value: row.value.toString('utf8'), revision: Number(row.revision)})

export class PostgresBackend implements Backend {
  readonly kind = 'postgresql'
  readonly location: string
  private readonly pg: PgModule
  private readonly pool: Pool
  private readonly address: string
  private readonly connString: string
  private readonly queryTimeoutMs: number
  private readonly observer: StoreObserver | undefined
  private closed = false

  private constructor(pg: PgModule, pool: Pool, target: Target, connString: string, queryTimeoutMs: number, observer: StoreObserver | undefined) {
    this.pg = pg
    this.observer = observer
    this.pool = pool
    this.connString = connString
    this.location = target.location
    this.address = target.address
    this.queryTimeoutMs = queryTimeoutMs
  }

  /** Connects and migrates the schema; the connection string is a postgresql:// URL and may carry a password. */
  static async open(connString: string, options: PostgresOptions = {}): Promise<PostgresBackend> {
    const pg = await import('pg')
    const target = describe(pg, connString)
    const queryTimeoutMs = options.queryTimeoutMs ?? QUERY_TIMEOUT_MS
    const pool = new pg.Pool({
      connectionString: connString,
      max: options.poolSize ?? 4,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
      query_timeout: queryTimeoutMs,
      keepAlive: true,
      application_name: 'wid',
      lock_timeout: LOCK_TIMEOUT_MS,
      idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_MS,
    })
    // An idle connection that breaks (PostgreSQL restarted) is dropped by the pool, which
    // reports it here; the next query opens another and reports any failure itself.
    pool.on('error', () => {})
    const backend = new PostgresBackend(pg, pool, target, connString, queryTimeoutMs, options.observer)
    try {
      await backend.migrate()
    } catch (error) {
      await pool.end()
      throw backend.storageError(error)
    }
    return backend
  }

  /** Where a connection string leads, as `location` names it (no password); bad input when it is not a postgresql:// URL. */
  static async locate(connString: string): Promise<string> {
    return describe(await import('pg'), connString).location
  }

  async get(key: string): Promise<Item | undefined> {
    const {rows} = await this.query<Row>({name: 'wid_get', text: 'SELECT key, value, revision FROM wid_kv WHERE key = $1', values: [key]})
    return rows[0] && toItem(rows[0])
  }

  async list(prefix: string): Promise<Item[]> {
    const {rows} = await this.query<Row>(listQuery(prefix))
    return rows.map(toItem)
  }

  /** A range of the (revision, key) index from the position on: one seek, however many keys its revision has. */
  async listAfter(prefix: string, after: Position, limit: number): Promise<Item[]> {
    const {name, text, values} = listQuery(prefix)
    const n = values.length
    const position = after.key === undefined ? `revision > $${n + 1}` : `(revision, key) > ($${n + 1}, $${n + 3})`
    const {rows} = await this.query<Row>({
      name: `${name}_after${after.key === undefined ? '' : '_key'}`,
      text: text.replace(' ORDER BY key', ` AND ${position} ORDER BY revision, key LIMIT $${n + 2}`),
      values: [...values, String(after.revision), String(limit), ...(after.key === undefined ? [] : [after.key])],
    })
    return rows.map(toItem)
  }

  async atomicWrite(conditions: Condition[], operations: Operation[]): Promise<number> {
    // Each key once, with its last operation, so that one statement can apply them all.
    const latest = new Map<string, Buffer | null>()
    for (const op of operations) latest.set(op.key, op.type === 'put' ? Buffer.from(op.value, 'utf8') : null)
    const started = performance.now()
    const written = this.transaction(async (client) => {
      // First statement: waits for the counter's row lock, so the reads below see every earlier write.
      const bumped = await client.query<{value: string}>({
        name: 'wid_bump',
        text: "UPDATE wid_meta SET value = value + 1 WHERE name = 'revision' RETURNING value",
      })
      const revision = Number(bumped.rows[0]!.value)
      if (conditions.length > 0) {
        const {rows} = await client.query<{key: string; revision: string}>({
          name: 'wid_revisions',
          text: 'SELECT key, revision FROM wid_kv WHERE key = ANY($1::text[])',
          values: [[...new Set(conditions.map((c) => c.key))]],
        })
        const current = new Map(rows.map((row) => [row.key, Number(row.revision)]))
        for (const condition of conditions) {
          if (!conditionHolds(condition, current.get(condition.key))) throw conditionFailed(condition)
        }
      }
      await client.query({name: 'wid_write', text: WRITE_SQL, values: [revision, [...latest.keys()], [...latest.values()]]})
      return revision
    })
    const observer = this.observer
    return observer ? written.finally(() => observer.wrote((performance.now() - started) / 1000)) : written
  }

  /**
   * The logged changes after `revision`, in revision order; undefined when some of them
   * were pruned, so the caller must reload everything instead.
   */
  async changesSince(revision: number): Promise<Change[] | undefined> {
    // One statement, so the pruning mark and the log come from the same snapshot.
    const {rows} = await this.query<{pruned: string; revision: string | null; key: string | null; deleted: boolean | null}>({
      name: 'wid_changes_since',
      text: `SELECT m.value AS pruned, c.revision, c.key, c.deleted FROM wid_meta m
             LEFT JOIN wid_changes c ON c.revision > $1 WHERE m.name = 'pruned_through' ORDER BY c.revision, c.key`,
      values: [revision],
    })
    if (Number(rows[0]!.pruned) > revision) return undefined
    return rows.filter((row) => row.revision !== null).map((row) => ({revision: Number(row.revision), key: row.key!, deleted: row.deleted!}))
  }

  /**
   * Drops the log's entries up to and including `revision` (at most the current one) and
   * returns how many went; changesSince from before that revision then answers undefined.
   */
  async pruneChanges(revision: number): Promise<number> {
    const {rowCount} = await this.query({
      name: 'wid_prune',
      text: `WITH upto AS (SELECT least($1::bigint, value) AS revision FROM wid_meta WHERE name = 'revision'),
                  mark AS (UPDATE wid_meta SET value = greatest(value, (SELECT revision FROM upto)) WHERE name = 'pruned_through')
             DELETE FROM wid_changes WHERE revision <= (SELECT revision FROM upto)`,
      values: [revision],
    })
    return rowCount ?? 0
  }

  /** Every write's changed keys, from a connection of its own (postgres-feed.ts). */
  async watch(listener: ChangeListener): Promise<{close(): Promise<void>}> {
    this.checkOpen()
    const {ChangeFeed} = await import('./postgres-feed.js')
    try {
      return await ChangeFeed.start({pg: this.pg, connString: this.connString, changesSince: (revision) => this.changesSince(revision), pruneChanges: (revision) => this.pruneChanges(revision)}, listener)
    } catch (error) {
      throw this.storageError(error)
    }
  }

  /** Left to autovacuum to reuse the space (PostgreSQL does not give it back to the file system unless VACUUM FULL is run). */
  async deleteRange(from: string, before: string, limit: number): Promise<number> {
    const {rowCount} = await this.query({
      name: 'wid_delete_range',
      text: 'DELETE FROM wid_kv WHERE key IN (SELECT key FROM wid_kv WHERE key >= $1 AND key < $2 ORDER BY key LIMIT $3)',
      values: [from, before, limit],
    })
    return rowCount ?? 0
  }

  /** A REPEATABLE READ transaction: every page, read by key ranges, comes from the snapshot of its first statement. */
  async readSnapshot<T>(read: SnapshotReader<T>): Promise<T> {
    return this.transaction(async (client) => {
      const {rows} = await client.query<{value: string}>("SELECT value FROM wid_meta WHERE name = 'revision'")
      const storageError = (error: unknown) => this.storageError(error)
      async function* pages(): AsyncGenerator<Item[]> {
        for (let after = ''; ; ) {
          let page: Row[]
          try {
            ;({rows: page} = await client.query<Row>({
              name: 'wid_snapshot_page',
              text: 'SELECT key, value, revision FROM wid_kv WHERE key > $1 ORDER BY key LIMIT $2',
              values: [after, PAGE_ROWS],
            }))
          } catch (error) {
            throw storageError(error)
          }
          if (page.length === 0) return
          yield page.map(toItem)
          after = page.at(-1)!.key
        }
      }
      return read(Number(rows[0]!.value), pages())
    }, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
  }

  /**
   * One transaction that holds the revision counter's row lock, as every write does first:
   * nothing else writes between the check that the store is empty and the commit.
   */
  async load(revision: number, pages: AsyncIterable<Item[]>): Promise<{items: number}> {
    return this.transaction(async (client) => {
      await client.query("SELECT value FROM wid_meta WHERE name = 'revision' FOR UPDATE")
      const {rows} = await client.query<{n: string}>('SELECT count(*) AS n FROM wid_kv')
      if (Number(rows[0]!.n) > 0) throw new StoreNotEmpty(this.location, Number(rows[0]!.n))
      let items = 0
      for await (const page of pages) {
        for (let i = 0; i < page.length; i += PAGE_ROWS) {
          const rowsOf = page.slice(i, i + PAGE_ROWS)
          await client.query({
            name: 'wid_load',
            text: 'INSERT INTO wid_kv (key, value, revision) SELECT * FROM unnest($1::text[], $2::bytea[], $3::bigint[])',
            values: [rowsOf.map((item) => item.key), rowsOf.map((item) => Buffer.from(item.value, 'utf8')), rowsOf.map((item) => String(item.revision))],
          })
        }
        items += page.length
      }
      await client.query({name: 'wid_load_revision', text: "UPDATE wid_meta SET value = greatest(value, $1::bigint) WHERE name = 'revision'", values: [revision]})
      return {items}
    })
  }

  async ping(): Promise<void> {
    await this.query({name: 'wid_ping', text: 'SELECT 1'})
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.pool.end()
  }

  private async query<R extends QueryResultRow>(config: {name: string; text: string; values?: unknown[]}): Promise<{rows: R[]; rowCount: number | null}> {
    this.checkOpen()
    try {
      return await this.pool.query<R>(config)
    } catch (error) {
      throw this.storageError(error)
    }
  }

  private async transaction<T>(body: (client: PoolClient) => Promise<T>, begin = 'BEGIN'): Promise<T> {
    this.checkOpen()
    const {client, release} = await this.checkout()
    let usable = true
    let committing = false
    try {
      await client.query(begin)
      const result = await body(client)
      committing = true
      await client.query('COMMIT')
      return result
    } catch (error) {
      await this.rollback(client, error).catch(() => (usable = false))
      throw this.storageError(error, committing ? 'the write may or may not have been applied' : undefined)
    } finally {
      release(usable)
    }
  }

  /**
   * A connection of the pool for several statements. The pool listens for the failures of
   * idle connections only: one that breaks while checked out between two statements would
   * emit an unhandled 'error' and end the process, so this listens meanwhile. A broken
   * connection is closed on release rather than handed to the next caller.
   */
  private async checkout(): Promise<{client: PoolClient; release: (usable: boolean) => void}> {
    let client: PoolClient
    try {
      client = await this.pool.connect()
    } catch (error) {
      throw this.storageError(error)
    }
    let broken = false
    const onError = () => (broken = true)
    client.on('error', onError)
    const release = (usable: boolean) => {
      client.off('error', onError)
      client.release(broken || !usable)
    }
    return {client, release}
  }

  /** Ends a failed transaction; a connection that did not answer would not answer ROLLBACK either: it is given up (which ends it too). */
  private async rollback(client: PoolClient, error: unknown): Promise<void> {
    if ((error as Error | undefined)?.message === NO_ANSWER) throw error
    await client.query('ROLLBACK')
  }

  private checkOpen(): void {
    if (this.closed) throw new WidError('unavailable', `backend: ${this.location} is closed`)
  }

  /**
   * Brings the schema up to date. Servers that start together on an empty database queue on
   * an advisory lock held until the migration commits; the first creates the tables and the
   * others then find them current. A schema that is already current costs one query, no lock.
   */
  private async migrate(): Promise<void> {
    const {client, release} = await this.checkout()
    let usable = true
    try {
      if (this.checkVersion(await schemaVersion(client)) === MIGRATIONS.length) return
      await client.query('BEGIN')
      try {
        await client.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`)
        const version = this.checkVersion(await schemaVersion(client))
        if (version === 0) {
          const {rows} = await client.query<{encoding: string}>("SELECT current_setting('server_encoding') AS encoding")
          if (rows[0]!.encoding !== 'UTF8') {
            throw new WidError('state', `backend: ${this.location} uses the ${rows[0]!.encoding} encoding; wid needs a UTF8 database`)
          }
          await client.query('CREATE TABLE wid_schema (version integer NOT NULL); INSERT INTO wid_schema (version) VALUES (0)')
        }
        for (let i = version; i < MIGRATIONS.length; i++) await client.query(MIGRATIONS[i]!)
        await client.query('UPDATE wid_schema SET version = $1', [MIGRATIONS.length])
        await client.query('COMMIT')
      } catch (error) {
        await this.rollback(client, error).catch(() => (usable = false))
        throw error
      }
    } finally {
      release(usable)
    }
  }

  private checkVersion(version: number): number {
    if (version > MIGRATIONS.length) {
      throw new WidError('state', `backend: the database was written by a newer wid (schema ${version}); upgrade wid`)
    }
    return version
  }

  /** A failure as a one-line WidError that names the server but never the password. */
  private storageError(error: unknown, uncertain?: string): WidError {
    return storageError(this.pg, {address: this.address, location: this.location}, error, {uncertain, queryTimeoutMs: this.queryTimeoutMs})
  }
}

/**
 * How many migrations the database has had (0: none, not even wid_schema). Asked of the
 * catalog table rather than through to_regclass, whose name cache may still hold "absent"
 * after another server created the table while this one waited for the lock.
 */
async function schemaVersion(client: PoolClient): Promise<number> {
  const {rows} = await client.query<{present: boolean}>(
    "SELECT EXISTS (SELECT FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'wid_schema') AS present",
  )
  if (!rows[0]!.present) return 0
  const {rows: versions} = await client.query<{version: number}>('SELECT version FROM wid_schema')
  return versions[0]?.version ?? 0
}

/**
 * The query for `list(prefix)`: a range of the primary key's index. Every key that starts
 * with the prefix is at least the prefix and below the prefix with its last character
 * raised by one (code point order is UTF-8 byte order), so no LIKE, whose `%` and `_` a
 * prefix may contain, is needed.
 */
export function listQuery(prefix: string): {name: string; text: string; values: string[]} {
  const upper = upperBound(prefix)
  if (upper === undefined) return {name: 'wid_list_from', text: 'SELECT key, value, revision FROM wid_kv WHERE key >= $1 ORDER BY key', values: [prefix]}
  return {name: 'wid_list_range', text: 'SELECT key, value, revision FROM wid_kv WHERE key >= $1 AND key < $2 ORDER BY key', values: [prefix, upper]}
}

/**
 * The smallest string above every string that starts with the prefix: trailing U+10FFFF
 * cannot be raised and are dropped; undefined when nothing is left (every key from the
 * prefix on starts with it). Surrogates are skipped: UTF-8 has no encoding for them.
 */
function upperBound(prefix: string): string | undefined {
  const chars = [...prefix]
  while (chars.length > 0) {
    const last = chars.pop()!.codePointAt(0)!
    if (last < 0x10ffff) return chars.join('') + String.fromCodePoint(last === 0xd7ff ? 0xe000 : last + 1)
  }
  return undefined
}
