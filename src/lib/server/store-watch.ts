/**
 * Whether this server can use its store, for clients that know several servers of one
 * cluster (see cluster/failover.ts). A request that meets an `unavailable` failure of the
 * store gets that failure as its answer (503): it may have written before, or its write may
 * have committed unseen, so it is no proof that nothing happened. The failure starts a
 * ping of the store, again once a second until one succeeds; while they fail, every API
 * request is refused before it is read, as StoreDown, which the server answers with 503
 * `unavailable` and `processed: false`: a client may then send it to another server. A
 * busy SQLite store, which still answers a ping, never counts as down.
 */
import {setTimeout as sleep} from 'node:timers/promises'
import type {Backend, ChangeListener, Condition, Item, Operation, Position, SnapshotReader} from '../backend/backend.js'
import {isWidError, WidError} from '../errors.js'

const PROBE_INTERVAL_MS = 1_000

/** A request refused unread because the store is down: certainly not processed. */
export class StoreDown extends WidError {
  constructor() {
    super('unavailable', 'api: this server cannot reach its store; the request was not processed (another server of the cluster may answer it)')
  }
}

export class StoreWatch implements Backend {
  readonly kind: string
  readonly location: string
  /** The store's change feed, if it has one, passed on as it is. */
  readonly watch?: (listener: ChangeListener) => Promise<{close(): Promise<void>}>
  private readonly backend: Backend
  private down = false
  private probing = false
  private closed = false

  constructor(backend: Backend) {
    this.backend = backend
    this.kind = backend.kind
    this.location = backend.location
    if (backend.watch) this.watch = (listener) => backend.watch!(listener)
  }

  /** Throws StoreDown while the last ping of the store failed. */
  check(): void {
    if (this.down) throw new StoreDown()
  }

  get(key: string): Promise<Item | undefined> {
    return this.observe(this.backend.get(key))
  }

  list(prefix: string): Promise<Item[]> {
    return this.observe(this.backend.list(prefix))
  }

  listAfter(prefix: string, after: Position, limit: number): Promise<Item[]> {
    return this.observe(this.backend.listAfter(prefix, after, limit))
  }

  atomicWrite(conditions: Condition[], operations: Operation[]): Promise<number> {
    return this.observe(this.backend.atomicWrite(conditions, operations))
  }

  deleteRange(from: string, before: string, limit: number): Promise<number> {
    return this.observe(this.backend.deleteRange(from, before, limit))
  }

  readSnapshot<T>(read: SnapshotReader<T>): Promise<T> {
    return this.observe(this.backend.readSnapshot(read))
  }

  load(revision: number, pages: AsyncIterable<Item[]>): Promise<{items: number}> {
    return this.observe(this.backend.load(revision, pages))
  }

  ping(): Promise<void> {
    return this.backend.ping()
  }

  /** Stops the pings; the store itself is closed by whoever opened it. */
  async close(): Promise<void> {
    this.closed = true
  }

  private async observe<T>(operation: Promise<T>): Promise<T> {
    try {
      return await operation
    } catch (error) {
      if (isWidError(error) && error.code === 'unavailable' && !this.probing) void this.probe()
      throw error
    }
  }

  private async probe(): Promise<void> {
    this.probing = true
    while (!this.closed) {
      try {
        // the store itself, never a read cache's memory (see Backend.ping)
        await this.backend.ping()
        this.down = false
        break
      } catch {
        this.down = true
      }
      await sleep(PROBE_INTERVAL_MS, undefined, {ref: false})
    }
    this.probing = false
  }
}
