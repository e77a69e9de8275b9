/**
 * The change feed of the PostgreSQL backend: one connection of its own that LISTENs on
 * `wid_changes`. Each write sends its revision there when it commits; the feed then reads
 * the changes log from the last revision it reported, so that it reports every write once,
 * in commit order, however notifications bunch up. LISTEN/NOTIFY rather than logical
 * decoding: it needs no replication privilege nor `wal_level = logical`, works through any
 * PostgreSQL that wid works with (not through PgBouncer in transaction mode, which does not
 * keep a session's LISTEN), and the log it reads makes a missed notification harmless. A
 * lost connection is reported (`lost`), reopened with backoff, and followed by `resync`.
 * Every feed prunes the log up to the revision it had reported a minute before: a server
 * whose feed lags further than that reads everything afresh (`resync`).
 */
import type {Client} from 'pg'
import type {ChangeListener} from './backend.js'
import {CHANGES_CHANNEL, type Change} from './postgres.js'

export interface FeedSource {
  pg: typeof import('pg')
  connString: string
  changesSince(revision: number): Promise<Change[] | undefined>
  pruneChanges(revision: number): Promise<number>
  /** How often the log is pruned (default a minute). */
  pruneIntervalMs?: number
}

const PRUNE_INTERVAL_MS = 60_000

const RETRY_MIN_MS = 250
const RETRY_MAX_MS = 10_000

export class ChangeFeed {
  private readonly source: FeedSource
  private readonly listener: ChangeListener
  private client: Client | undefined
  /** The revision up to which changes were reported. */
  private reported = 0
  private reading: Promise<void> | undefined
  private again = false
  private retryMs = RETRY_MIN_MS
  private timer: NodeJS.Timeout | undefined
  private readonly pruner: NodeJS.Timeout
  /** What was reported at the last prune: the next prunes up to there. */
  private pruneMark = 0
  private closed = false

  private constructor(source: FeedSource, listener: ChangeListener) {
    this.source = source
    this.listener = listener
    this.pruner = setInterval(() => {
      const mark = this.pruneMark
      this.pruneMark = this.reported
      // A failure is the store's outage, which the feed reports itself; the next minute tries again
      if (mark > 0) void this.source.pruneChanges(mark).catch(() => {})
    }, source.pruneIntervalMs ?? PRUNE_INTERVAL_MS)
    this.pruner.unref()
  }

  /** Listening once this resolves: every write that commits afterwards is reported. */
  static async start(source: FeedSource, listener: ChangeListener): Promise<ChangeFeed> {
    const feed = new ChangeFeed(source, listener)
    await feed.connect()
    return feed
  }

  private async connect(): Promise<void> {
    const client = new this.source.pg.Client({connectionString: this.source.connString, keepAlive: true, application_name: 'wid-feed'})
    client.on('error', () => this.lost(client))
    client.on('end', () => this.lost(client))
    client.on('notification', () => this.read())
    try {
      await client.connect()
      await client.query(`LISTEN ${CHANGES_CHANNEL}`)
      // After LISTEN, so that no write falls between the revision read and the first notification
      const {rows} = await client.query<{value: string}>("SELECT value FROM wid_meta WHERE name = 'revision'")
      this.reported = Number(rows[0]!.value)
    } catch (error) {
      await client.end().catch(() => {})
      throw error
    }
    this.client = client
    this.retryMs = RETRY_MIN_MS
  }

  /** Reads the log from the last revision reported; a notification meanwhile reads again after. */
  private read(): void {
    if (this.reading) {
      this.again = true
      return
    }
    this.reading = this.readOnce().finally(() => {
      this.reading = undefined
      if (this.again && !this.closed) {
        this.again = false
        this.read()
      }
    })
  }

  private async readOnce(): Promise<void> {
    let changes: Change[] | undefined
    try {
      changes = await this.source.changesSince(this.reported)
    } catch {
      // The store did not answer: whatever changed meanwhile is unknown until the feed is sure again
      if (this.client) this.lost(this.client)
      return
    }
    if (this.closed) return
    if (changes === undefined) {
      // The log was pruned past what this feed reported: anything may have changed
      this.listener({type: 'resync'})
      return
    }
    if (changes.length === 0) return
    this.reported = changes.at(-1)!.revision
    this.listener({type: 'changed', keys: [...new Set(changes.map((change) => change.key))]})
  }

  private lost(client: Client): void {
    if (this.client !== client || this.closed) return
    this.client = undefined
    client.removeAllListeners('notification')
    void client.end().catch(() => {})
    this.listener({type: 'lost'})
    this.retry()
  }

  private retry(): void {
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.connect().then(
        () => this.listener({type: 'resync'}),
        () => {
          this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS)
          if (!this.closed) this.retry()
        },
      )
    }, this.retryMs)
    this.timer.unref()
  }

  async close(): Promise<void> {
    this.closed = true
    clearTimeout(this.timer)
    clearInterval(this.pruner)
    const client = this.client
    this.client = undefined
    await this.reading
    await client?.end().catch(() => {})
  }
}
