/**
 * The audit log's administration, with its rules: reading it (`list` on `audit`, as
 * `wid audit ls`), and its retention and pruning (`read` and `update` on
 * `cluster_audit_config`, Teleport's name for the audit configuration). A change of the
 * retention and a prune by hand are themselves audited (audit.retention, audit.pruned).
 */
import type {Backend} from '../backend/backend.js'
import {badInput} from '../errors.js'
import {auditOperation, readAuditPage, AUDIT_PAGE_LIMIT, type AuditCursor, type AuditEvent, type AuditPage} from '../services/audit.js'
import {
  AUDIT_CONFIG_KEY,
  auditRetention,
  checkRetention,
  deleteAuditBefore,
  getRetentionSeconds,
  MIN_RETENTION_SECONDS,
  PRUNE_BATCH,
  retentionValue,
  type AuditRetention,
} from '../services/audit-retention.js'
import {formatDuration} from '../duration.js'
import {isoString} from '../time.js'
import {auditActor, type Principal} from './principal.js'

export interface AuditPageRequest {
  after?: AuditCursor
  since?: Date
  limit?: number
}

/** A page of the log for `wid audit export`: who may list it may export it. */
export function auditEvents(backend: Backend, principal: Principal, request: AuditPageRequest): Promise<AuditPage> {
  principal.access?.checkVerbs('audit', ['list'])
  const limit = Math.min(request.limit ?? AUDIT_PAGE_LIMIT, AUDIT_PAGE_LIMIT)
  return readAuditPage(backend, request.after ?? {revision: 0}, {since: request.since, limit})
}

export function readAuditRetention(backend: Backend, principal: Principal): Promise<AuditRetention> {
  principal.access?.checkVerbs('cluster_audit_config', ['read'])
  return auditRetention(backend)
}

/** Sets the retention (checked against its bounds), with its audit event, in one write; the same value again changes nothing. */
export async function setAuditRetention(backend: Backend, principal: Principal, seconds: number, now: Date): Promise<AuditRetention> {
  principal.access?.checkVerbs('cluster_audit_config', ['update'])
  checkRetention(seconds)
  // A damaged setting is what --set is for: it is overwritten (guarded by its revision), its value unknown
  const current = await getRetentionSeconds(backend).catch(async (error: unknown) => {
    const item = await backend.get(AUDIT_CONFIG_KEY)
    if (!item) throw error
    return {seconds: undefined, stored: true, revision: item.revision}
  })
  if (!current.stored || current.seconds !== seconds) {
    const event: AuditEvent = {
      time: isoString(now),
      type: 'audit.retention',
      ...auditActor(principal),
      retention_seconds: seconds,
      ...(current.seconds === undefined ? {} : {previous_retention_seconds: current.seconds}),
    }
    await backend.atomicWrite(
      [current.revision === undefined ? {key: AUDIT_CONFIG_KEY, type: 'absent'} : {key: AUDIT_CONFIG_KEY, type: 'revision', revision: current.revision}],
      [{key: AUDIT_CONFIG_KEY, type: 'put', value: retentionValue(seconds)}, auditOperation(event)],
    )
  }
  return auditRetention(backend)
}

/**
 * `wid audit prune --before`: every event older than `before`, which must be at least the
 * shortest retention ago (no prune by hand erases what a retention would keep). Its event is
 * written first, naming `before`, so that a prune cut short (a server killed) is on record
 * too; how many went is in the prune note (`wid audit retention`).
 */
export interface PruneResult {
  deleted: number
  before: string
  /** Stopped at `maxBatches` with events older than `before` left (ask again). */
  more: boolean
}

export async function pruneAuditBefore(backend: Backend, principal: Principal, before: Date, now: Date, maxBatches = Infinity): Promise<PruneResult> {
  principal.access?.checkVerbs('cluster_audit_config', ['update'])
  if (before.getTime() > now.getTime() - MIN_RETENTION_SECONDS * 1000) {
    throw badInput(`audit prune: ${isoString(before)} is less than ${formatDuration(MIN_RETENTION_SECONDS)} ago; events are pruned up to the shortest retention (${formatDuration(MIN_RETENTION_SECONDS)}) ago at most`)
  }
  await backend.atomicWrite([], [auditOperation({time: isoString(now), type: 'audit.pruned', ...auditActor(principal), before: isoString(before)})])
  const deleted = await deleteAuditBefore(backend, before, now, {maxBatches})
  return {deleted, before: isoString(before), more: deleted >= maxBatches * PRUNE_BATCH}
}
