/**
 * A read cache in front of a store that several servers share, kept true by its change feed:
 * `get` answers from memory what the feed has not said changed, so a request costs no round
 * trip to the database for the state it reads again and again (authorities, roles, identities).
 * Own writes drop their keys at once; other servers' writes as soon as the feed reports them.
 * While the feed is lost nothing is cached, and everything is forgotten when it is back.
 * `list` always asks the store.
 */
import type {Backend, ChangeEvent, ChangeListener, Condition, Item, Operation, Position, SnapshotReader, StoreObserver} from './backend.js'

const MAX_ENTRIES = 10_000

export class CachedBackend implements Backend {
  readonly kind: string
  readonly location: string
  private readonly store: Backend
  private readonly entries = new Map<string, Item | undefined>()
  /**
   * Reads from the store in flight, by key: one whose key is invalidated meanwhile may have
   * read what is already stale, and is not kept. (Per key: writes elsewhere, an audit event
   * per issuance, must not keep every read out of the cache.)
   */
  private readonly reading = new Map<string, {stale: boolean; readers: number}>()
  private live = false
  private feed: {close(): Promise<void>} | undefined
  private readonly listeners = new Set<ChangeListener>()
  private readonly observer: StoreObserver | undefined

  private constructor(store: Backend, observer: StoreObserver | undefined) {
    this.store = store
    this.observer = observer
    this.kind = store.kind
    this.location = store.location
  }

  /** The store with a cache when it has a change feed; the store itself when it has none. `observer` is told of hits and misses. */
  static async over(store: Backend, observer?: StoreObserver): Promise<Backend> {
    if (!store.watch) return store
    const cached = new CachedBackend(store, observer)
    cached.feed = await store.watch((event) => cached.onChange(event))
    cached.live = true
    return cached
  }

  async get(key: string): Promise<Item | undefined> {
    if (this.entries.has(key)) {
      this.observer?.cacheRead(true)
      const item = this.entries.get(key)
      return item && {...item}
    }
    this.observer?.cacheRead(false)
    // Reads of one key at once share the mark until the last ends: any of them may have read before a change
    const read = this.reading.get(key) ?? {stale: false, readers: 0}
    read.readers++
    this.reading.set(key, read)
    let item
    try {
      item = await this.store.get(key)
    } finally {
      if (--read.readers === 0) this.reading.delete(key)
    }
    if (this.live && !read.stale) {
      if (this.entries.size >= MAX_ENTRIES) this.entries.clear()
      this.entries.set(key, item && {...item})
    }
    return item
  }

  list(prefix: string): Promise<Item[]> {
    return this.store.list(prefix)
  }

  listAfter(prefix: string, after: Position, limit: number): Promise<Item[]> {
    return this.store.listAfter(prefix, after, limit)
  }

  /** Not heard by the feed, and so not forgotten here: only for what nothing gets by key (Backend.deleteRange). */
  deleteRange(from: string, before: string, limit: number): Promise<number> {
    return this.store.deleteRange(from, before, limit)
  }

  readSnapshot<T>(read: SnapshotReader<T>): Promise<T> {
    return this.store.readSnapshot(read)
  }

  /** Unheard by the feed: everything is forgotten once it is done. */
  async load(revision: number, pages: AsyncIterable<Item[]>): Promise<{items: number}> {
    try {
      return await this.store.load(revision, pages)
    } finally {
      this.entries.clear()
    }
  }

  async atomicWrite(conditions: Condition[], operations: Operation[]): Promise<number> {
    try {
      return await this.store.atomicWrite(conditions, operations)
    } finally {
      // Also when it failed: it may have committed (a lost answer), or a condition met a
      // change the feed has not reported yet, which the caller's next read must not miss
      this.forget([...operations, ...conditions].map((item) => item.key))
    }
  }

  /** Told of every change the feed reports, after the cache has taken it in. */
  async watch(listener: ChangeListener): Promise<{close(): Promise<void>}> {
    this.listeners.add(listener)
    return {close: async () => void this.listeners.delete(listener)}
  }

  ping(): Promise<void> {
    return this.store.ping()
  }

  async close(): Promise<void> {
    await this.feed?.close()
    await this.store.close()
  }

  private onChange(event: ChangeEvent): void {
    if (event.type === 'changed') this.forget(event.keys)
    else {
      for (const read of this.reading.values()) read.stale = true
      this.entries.clear()
      this.live = event.type === 'resync'
    }
    for (const listener of this.listeners) listener(event)
  }

  private forget(keys: string[]): void {
    for (const key of keys) {
      this.entries.delete(key)
      const read = this.reading.get(key)
      if (read) read.stale = true
    }
  }
}
