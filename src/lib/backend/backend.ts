/**
 * The storage contract: a key/value store with revisions. Every write is one atomic
 * batch guarded by conditions, which is all that create-if-absent, compare-and-swap and
 * multi-key initialisation need. A new backend implements get, list, listAfter, atomicWrite,
 * deleteRange, readSnapshot, load, ping, close.
 */
import {WidError} from '../errors.js'

export interface Item {
  key: string
  value: string
  /** The store-wide revision of the write that last changed this key. */
  revision: number
}

export type Condition =
  | {key: string; type: 'absent'}
  | {key: string; type: 'exists'}
  | {key: string; type: 'revision'; revision: number}

export type Operation = {key: string; type: 'put'; value: string} | {key: string; type: 'delete'}

export interface Backend {
  /** e.g. `sqlite` */
  readonly kind: string
  /** Where the data lives, for `wid status`. */
  readonly location: string
  get(key: string): Promise<Item | undefined>
  /** Every item whose key starts with `prefix`, in key order. */
  list(prefix: string): Promise<Item[]>
  /**
   * At most `limit` items whose key starts with `prefix` and that come after `after` in
   * (revision, key) order: since revisions rise in commit order, a reader that pages on from
   * the last item it saw misses no write that commits later, and one write of many keys may
   * span pages. How `wid audit export --follow` follows the audit log.
   */
  listAfter(prefix: string, after: Position, limit: number): Promise<Item[]>
  /**
   * Applies every operation if and only if every condition holds, in one transaction.
   * Returns the new revision; throws `compare_failed` naming the first failed condition.
   */
  atomicWrite(conditions: Condition[], operations: Operation[]): Promise<number>
  /**
   * Deletes at most `limit` of the keys in [from, before), lowest first, in one transaction,
   * and returns how many it deleted; frees their space where the store can. Not a revisioned
   * write: no revision is used and no change feed hears of it, so it is only for items that
   * nothing reads by key or watches (expired audit events).
   */
  deleteRange(from: string, before: string, limit: number): Promise<number>
  /**
   * Reads every item in one consistent snapshot, page by page in key order, while others
   * keep writing: `read` gets the store's revision counter as of the snapshot and the pages.
   * The snapshot ends when `read` settles. How backups and `wid storage migrate` copy a store.
   */
  readSnapshot<T>(read: SnapshotReader<T>): Promise<T>
  /**
   * Fills an empty store with the pages of a snapshot, each item keeping its revision, and
   * sets the revision counter to `revision`, all in one transaction: a store that holds
   * anything is refused (StoreNotEmpty), and a failure leaves the store as it was.
   */
  load(revision: number, pages: AsyncIterable<Item[]>): Promise<{items: number}>
  /**
   * A change feed, for a store that other processes write to: told of the keys every write
   * (by anyone) changed, in commit order, soon after it commits. Optional: a store that one
   * host writes to needs none.
   */
  watch?(listener: ChangeListener): Promise<{close(): Promise<void>}>
  /**
   * Resolves once the store itself has answered a trivial query, past every cache: what
   * `/readyz` reports. Throws `unavailable` (or the store's error) when it cannot.
   */
  ping(): Promise<void>
  close(): Promise<void>
}

/**
 * What a server measures of its store (server/metrics.ts), told by the backend as it works.
 * Calls are synchronous and cheap: they sit on every read and write.
 */
export interface StoreObserver {
  /** A write ended (committed or not) `seconds` after it was asked for: SQLite's through its writer thread, PostgreSQL's transaction. */
  wrote(seconds: number): void
  /** A get answered from a read cache (`hit`) or from the store. */
  cacheRead(hit: boolean): void
}

/**
 * What a change feed says: keys that changed; `lost` when it stopped hearing (until `resync`,
 * anything may change unheard); `resync` once it hears again (anything may have changed).
 */
export type ChangeEvent = {type: 'changed'; keys: string[]} | {type: 'lost'} | {type: 'resync'}
export type ChangeListener = (event: ChangeEvent) => void

/** A place in (revision, key) order: after `key` of `revision`, or without `key` after every key of it. */
export interface Position {
  revision: number
  key?: string
}

export type SnapshotReader<T> = (revision: number, pages: AsyncIterable<Item[]>) => Promise<T>

/** Why `load` refused a store: it is not empty. Callers add what to do instead. */
export class StoreNotEmpty extends WidError {
  readonly items: number
  constructor(location: string, items: number) {
    super('already_exists', `${location} is not empty (it holds ${items} item${items === 1 ? '' : 's'})`)
    this.items = items
  }
}

export function conditionFailed(condition: Condition): WidError {
  const reason =
    condition.type === 'absent' ? 'already exists' : condition.type === 'exists' ? 'does not exist' : 'was changed concurrently'
  return new WidError('compare_failed', `backend: ${condition.key} ${reason}`)
}

/** Whether `condition` holds for the current revision of its key (undefined = absent). */
export function conditionHolds(condition: Condition, current: number | undefined): boolean {
  if (condition.type === 'absent') return current === undefined
  if (condition.type === 'exists') return current !== undefined
  return current === condition.revision
}

export async function createItem(backend: Backend, key: string, value: string): Promise<number> {
  return backend.atomicWrite([{key, type: 'absent'}], [{key, type: 'put', value}])
}

export async function updateItem(backend: Backend, key: string, value: string, revision: number): Promise<number> {
  return backend.atomicWrite([{key, type: 'revision', revision}], [{key, type: 'put', value}])
}

export async function putItem(backend: Backend, key: string, value: string): Promise<number> {
  return backend.atomicWrite([], [{key, type: 'put', value}])
}

export async function deleteItem(backend: Backend, key: string, revision?: number): Promise<number> {
  const condition: Condition = revision === undefined ? {key, type: 'exists'} : {key, type: 'revision', revision}
  return backend.atomicWrite([condition], [{key, type: 'delete'}])
}
