/** An in-memory backend for unit tests: same contract as the SQLite one (keys in UTF-8 byte order), no persistence. */
import {conditionFailed, conditionHolds, type Backend, type Condition, type Item, type Operation} from './backend.js'

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
      .sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)))
      .map((i) => ({...i}))
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

  async ping(): Promise<void> {}

  async close(): Promise<void> {}
}
