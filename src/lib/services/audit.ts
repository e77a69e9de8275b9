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

export async function listAuditEvents(backend: Backend, filter: AuditFilter = {}): Promise<AuditEvent[]> {
  const since = filter.since?.toISOString()
  return (await backend.list(AUDIT_PREFIX))
    .filter((item) => since === undefined || item.key.slice(AUDIT_PREFIX.length) >= since)
    .map((item) => parseStored<AuditEvent>(item.value, item.key))
    .filter((event) => filter.type === undefined || event.type === filter.type)
}
