/**
 * Outputs that renew together ask for their SVIDs in one request: the items asked for in the
 * same turn of the event loop are sent as one batch (at most BATCH_LIMIT items each), and
 * each asker gets its own items' results back.
 */
import type {SvidItem, SvidItemResult} from '../auth/bot-join.js'

export const BATCH_LIMIT = 100

type Send = (items: SvidItem[]) => Promise<SvidItemResult[]>

interface Pending {
  items: SvidItem[]
  resolve: (results: SvidItemResult[]) => void
  reject: (error: unknown) => void
}

export class SvidBatcher {
  private readonly send: Send
  private pending: Pending[] = []
  private scheduled = false

  constructor(send: Send) {
    this.send = send
  }

  issue(items: SvidItem[]): Promise<SvidItemResult[]> {
    return new Promise((resolve, reject) => {
      this.pending.push({items, resolve, reject})
      if (!this.scheduled) {
        this.scheduled = true
        setImmediate(() => void this.flush())
      }
    })
  }

  private async flush(): Promise<void> {
    const waiting = this.pending
    this.pending = []
    this.scheduled = false
    // Askers are packed whole into batches of at most BATCH_LIMIT items.
    const batches: Pending[][] = []
    let current: Pending[] = []
    let size = 0
    for (const asker of waiting) {
      if (size > 0 && size + asker.items.length > BATCH_LIMIT) {
        batches.push(current)
        current = []
        size = 0
      }
      current.push(asker)
      size += asker.items.length
    }
    if (current.length > 0) batches.push(current)
    await Promise.all(batches.map((batch) => this.sendBatch(batch)))
  }

  private async sendBatch(batch: Pending[]): Promise<void> {
    try {
      const results = await this.send(batch.flatMap((asker) => asker.items))
      let offset = 0
      for (const asker of batch) {
        asker.resolve(results.slice(offset, offset + asker.items.length))
        offset += asker.items.length
      }
    } catch (error) {
      for (const asker of batch) asker.reject(error)
    }
  }
}
