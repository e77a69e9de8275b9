/** An in-memory backend for unit tests: same contract as the SQLite one (keys in UTF-8 byte order), no persistence. */
import {conditionFailed, conditionHolds, StoreNotEmpty, type Backend, type Condition, type Item, type Operation, type Position, type SnapshotReader} from './backend.js'

const byKey = (a: Item, b: Item) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key))

export class MemoryBackend implements Backend {
  readonly kind = 'memory'
  readonly location = 'memory'
  private readonly items = new Map<string, Item>()
  private revision = 0

  async get(key: string): Promise<Item | undefined> {
    const item = this.items.get(key)
    return item && {...item}
  }

  async list(prefix: string): Promise<Item[]> {
    return [...this.items.values()]
      .filter((i) => i.key.startsWith(prefix))
      .sort(byKey)
      .map((i) => ({...i}))
  }

  async listAfter(prefix: string, after: Position, limit: number): Promise<Item[]> {
    const key = after.key === undefined ? undefined : Buffer.from(after.key)
    return (await this.list(prefix))
      .filter((i) => i.revision > after.revision || (i.revision === after.revision && key !== undefined && Buffer.compare(Buffer.from(i.key), key) > 0))
      .sort((a, b) => a.revision - b.revision || byKey(a, b))
      .slice(0, limit)
  }

  async atomicWrite(conditions: Condition[], operations: Operation[]): Promise<number> {
    for (const condition of conditions) {
      if (!conditionHolds(condition, this.items.get(condition.key)?.revision)) throw conditionFailed(condition)
    }
    const revision = ++this.revision
    for (const op of operations) {
      if (op.type === 'put') this.items.set(op.key, {key: op.key, value: op.value, revision})
      else this.items.delete(op.key)
    }
    return revision
  }

  async deleteRange(from: string, before: string, limit: number): Promise<number> {
    const doomed = (await this.list('')).filter((i) => Buffer.compare(Buffer.from(i.key), Buffer.from(from)) >= 0 && Buffer.compare(Buffer.from(i.key), Buffer.from(before)) < 0)
    for (const item of doomed.slice(0, limit)) this.items.delete(item.key)
    return Math.min(doomed.length, limit)
  }

  /** The items as they are now, copied before `read` starts, so later writes do not show. */
  async readSnapshot<T>(read: SnapshotReader<T>): Promise<T> {
    const items = await this.list('')
    async function* pages(): AsyncGenerator<Item[]> {
      if (items.length > 0) yield items
    }
    return read(this.revision, pages())
  }

  async load(revision: number, pages: AsyncIterable<Item[]>): Promise<{items: number}> {
    if (this.items.size > 0) throw new StoreNotEmpty(this.location, this.items.size)
    const loaded = new Map<string, Item>()
    for await (const page of pages) for (const item of page) loaded.set(item.key, {...item})
    for (const item of loaded.values()) this.items.set(item.key, item)
    this.revision = Math.max(this.revision, revision)
    return {items: loaded.size}
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {}
}
