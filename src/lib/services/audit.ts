/**
 * The audit log: every resource change and every issuance, appended to the backend.
 * Resource changes write their event in the same transaction as the change. Issuances are
 * group-committed: every append that arrives before the event loop comes round (all the
 * requests of one burst, or those that queued while the previous commit was syncing to
 * disk) shares one transaction, and each append resolves only once its event is durable,
 * so a caller that saw success is always in the log.
 */
import type {Backend, Operation} from '../backend/backend.js'
import {randomHex} from '../crypto/random.js'
import {isoString} from '../time.js'
import {parseStored} from './cluster-config.js'

export interface AuditEvent {
  time: string
  type: string
  /** `admin:root`, `user:alice`, `bot:my-bot`, `address:192.0.2.7` (a refused login or join) */
  actor: string
  /** The user or bot the local admin acted as with `--as` (`bot:my-bot`); the actor is then the admin. */
  as?: string
  kind?: string
  name?: string
  spiffe_id?: string
  serial?: string
  svid_type?: 'x509' | 'jwt'
  ttl_seconds?: number
  workload_identity?: string
  /** What the bot agent attested of the workload an SVID was issued for (svid.issued): `{unix: {attested, uid, ...}}`. */
  workload?: {unix?: Record<string, string | number | boolean | undefined>}
  /** The client address a login, an invite, a join or a renewal came from (user.login, user.invite_redeemed, bot.*). */
  address?: string
  /** Why an attempt failed (user.login_failed, bot.join_failed). */
  reason?: string
  /** The bot instance of bot.joined, bot.renewed, bot.instance_locked and bot.instance_removed (the bot is `name`). */
  instance?: string
  /** The join token a bot instance used (bot.joined). */
  token_id?: string
  /** The generation a renewal gave the instance (bot.renewed). */
  generation?: number
  /** A renewal answered again because its first answer was lost (bot.renewed). */
  repeated?: boolean
  /** A delegated join's method, the allow rule that matched (its index) and the claims that decided (bot.joined, bot.renewed, bot.join_failed). */
  method?: string
  rule?: number
  claims?: Record<string, string | boolean>
  /** Refusals from the same address or instance left out since the last one recorded (bot.join_failed, bot.renew_failed). */
  refusals_not_recorded?: number
  /** The generation a locked instance's certificate presented, and the one stored (bot.instance_locked). */
  presented?: number
  expected?: number
  /** ca.rotation: which CA, the phase it entered and the one it left, how it is rotated, and the key that signs from now on. */
  authority?: string
  phase?: string
  previous_phase?: string
  mode?: string
  signing_key?: string
  /** ca.rotation_policy: whether the CA (authority) is now rotated automatically, and each key's life. */
  automatic?: boolean
  ca_ttl?: string
  /** audit.retention: how long events are kept now, and before the change. */
  retention_seconds?: number
  previous_retention_seconds?: number
  /** audit.pruned: events older than `before` are deleted (written before they are; how many is in the prune note, `wid audit retention`). */
  before?: string
}

export const AUDIT_PREFIX = '/audit/'

export function auditOperation(event: AuditEvent): Operation {
  return {key: `${AUDIT_PREFIX}${event.time}.${randomHex(6)}`, type: 'put', value: JSON.stringify(event)}
}

export class AuditWriter {
  private readonly backend: Backend
  private pending: {operation: Operation; resolve: () => void; reject: (error: unknown) => void}[] = []
  private flushing: Promise<void> | undefined

  constructor(backend: Backend) {
    this.backend = backend
  }

  append(event: AuditEvent): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({operation: auditOperation(event), resolve, reject})
      this.flushing ??= this.flush()
    })
  }

  private async flush(): Promise<void> {
    while (this.pending.length > 0) {
      await new Promise((resolve) => setImmediate(resolve))
      const batch = this.pending
      this.pending = []
      try {
        await this.backend.atomicWrite([], batch.map((p) => p.operation))
        for (const p of batch) p.resolve()
      } catch (error) {
        for (const p of batch) p.reject(error)
      }
    }
    this.flushing = undefined
  }
}

export interface AuditFilter {
  since?: Date
  type?: string
}

/** The time in an audit key, `/audit/<time>.<random>`: what retention and --since go by. */
export const auditKeyTime = (key: string): string => key.slice(AUDIT_PREFIX.length, key.lastIndexOf('.'))

/**
 * Where a reader of the log stands: every event committed at a lower revision has been read,
 * and of those at `revision`, every key up to `key` (one group commit shares a revision and
 * may span pages).
 */
export interface AuditCursor {
  revision: number
  key?: string
}

export interface AuditPage {
  /** In commit order. */
  events: AuditEvent[]
  /** Each event's id: its key without the prefix (`<time>.<random>`), unique, the same on every server and after a copy. */
  ids: string[]
  /** Where the next page starts. */
  next: AuditCursor
  /** False once the page reached the end of the log (as of now: later commits come after `next`). */
  more: boolean
}

/** The most events a page holds: a reader that is slow to take them holds no more than this. */
export const AUDIT_PAGE_LIMIT = 1000

/**
 * The next page of the log after `after`, in commit order (Backend.listAfter: one seek of the
 * (revision, key) index, wherever in a large group commit the cursor stands), with `since`
 * keeping only events whose time is at or after it.
 */
export async function readAuditPage(backend: Backend, after: AuditCursor, options: {since?: Date; limit?: number} = {}): Promise<AuditPage> {
  const limit = options.limit ?? AUDIT_PAGE_LIMIT
  const since = options.since === undefined ? undefined : isoString(options.since)
  const items = await backend.listAfter(AUDIT_PREFIX, after, limit)
  const last = items.at(-1)
  const kept = items.filter((item) => since === undefined || auditKeyTime(item.key) >= since)
  return {
    events: kept.map((item) => parseStored<AuditEvent>(item.value, item.key)),
    ids: kept.map((item) => item.key.slice(AUDIT_PREFIX.length)),
    next: last ? {revision: last.revision, key: last.key} : after,
    more: items.length === limit,
  }
}

/** The whole log (or what `filter` keeps), oldest first, read page by page. */
export async function listAuditEvents(backend: Backend, filter: AuditFilter = {}): Promise<AuditEvent[]> {
  const events: AuditEvent[] = []
  for (let cursor: AuditCursor = {revision: 0}; ; ) {
    const page = await readAuditPage(backend, cursor, {since: filter.since})
    for (const event of page.events) if (filter.type === undefined || event.type === filter.type) events.push(event)
    if (!page.more) return events
    cursor = page.next
  }
}
