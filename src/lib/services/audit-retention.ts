/**
 * How long the audit log is kept, and the pruning that enforces it. The retention is a
 * cluster setting (AUDIT_CONFIG_KEY; 90 days when absent). Pruning deletes the events whose
 * key time is older than now − retention with Backend.deleteRange, in batches: no revision,
 * no change feed, so several servers pruning the same store at once only race to delete the
 * same keys, which is harmless. A run that deleted anything leaves a note (AUDIT_PRUNED_KEY)
 * of when and how many, for `wid audit retention`.
 */
import type {Backend} from '../backend/backend.js'
import {badInput, WidError} from '../errors.js'
import {formatDuration} from '../duration.js'
import {isoString} from '../time.js'
import {AUDIT_PREFIX, auditKeyTime} from './audit.js'
import {parseStored} from './cluster-config.js'

export const AUDIT_CONFIG_KEY = '/cluster/audit'
export const AUDIT_PRUNED_KEY = '/cluster/audit_pruned'

const DAY = 86_400
export const DEFAULT_RETENTION_SECONDS = 90 * DAY
export const MIN_RETENTION_SECONDS = 3600
/** Ten years of 365 days: 87600h. */
export const MAX_RETENTION_SECONDS = 3650 * DAY

/** Events deleted per transaction by the server's sweeper and `wid audit prune`. */
export const PRUNE_BATCH = 10_000
/** What a local command prunes at most when it opens the store: one small batch, so that no run stalls. */
export const LOCAL_PRUNE_BATCH = 1000

interface StoredAuditConfig {
  retention_seconds: number
}

export interface LastPrune {
  /** When the run was. */
  time: string
  /** It deleted the events older than this. */
  before: string
  events: number
}

export interface AuditRetention {
  retention: string
  retentionSeconds: number
  /** No retention was ever set: the default holds. */
  default: boolean
  /** The time of the oldest event kept (in commit order), if any. */
  oldestEvent?: string
  lastPruned?: LastPrune
}

export async function getRetentionSeconds(backend: Backend): Promise<{seconds: number; stored: boolean; revision?: number}> {
  const item = await backend.get(AUDIT_CONFIG_KEY)
  if (!item) return {seconds: DEFAULT_RETENTION_SECONDS, stored: false}
  const seconds = parseStored<StoredAuditConfig>(item.value, AUDIT_CONFIG_KEY)?.retention_seconds
  if (!Number.isSafeInteger(seconds) || seconds < MIN_RETENTION_SECONDS || seconds > MAX_RETENTION_SECONDS) {
    throw new WidError('state', `backend: stored audit retention at ${AUDIT_CONFIG_KEY} is damaged (set it again with wid audit retention --set)`)
  }
  return {seconds, stored: true, revision: item.revision}
}

/** Refuses a retention out of bounds, naming them. */
export function checkRetention(seconds: number, shown = formatDuration(seconds)): void {
  if (seconds < MIN_RETENTION_SECONDS) throw badInput(`audit retention: ${shown} is too short (at least ${formatDuration(MIN_RETENTION_SECONDS)})`)
  if (seconds > MAX_RETENTION_SECONDS) throw badInput(`audit retention: ${shown} is too long (at most ${formatDuration(MAX_RETENTION_SECONDS)}, ten years)`)
}

/** The value stored for a retention of `seconds`. */
export const retentionValue = (seconds: number): string => JSON.stringify({retention_seconds: seconds} satisfies StoredAuditConfig)

/** The oldest event kept, by commit order: one indexed read, however long the log. */
export async function oldestAuditTime(backend: Backend): Promise<string | undefined> {
  const [first] = await backend.listAfter(AUDIT_PREFIX, {revision: 0}, 1)
  return first && auditKeyTime(first.key)
}

export async function auditRetention(backend: Backend): Promise<AuditRetention> {
  const {seconds, stored} = await getRetentionSeconds(backend)
  const pruned = await backend.get(AUDIT_PRUNED_KEY)
  const oldestEvent = await oldestAuditTime(backend)
  return {
    retention: formatDuration(seconds),
    retentionSeconds: seconds,
    default: !stored,
    ...(oldestEvent === undefined ? {} : {oldestEvent}),
    ...(pruned ? {lastPruned: parseStored<LastPrune>(pruned.value, AUDIT_PRUNED_KEY)} : {}),
  }
}

export interface PruneOptions {
  /** Events deleted per transaction (default PRUNE_BATCH). */
  batch?: number
  maxBatches?: number
  /** Stops between batches (a server that is stopping). */
  signal?: AbortSignal
}

/** The first key pruning keeps: events of exactly `before` stay (their keys sort after it). */
const boundary = (before: Date): string => `${AUDIT_PREFIX}${isoString(before)}`

/**
 * Deletes the events older than `before`, `batch` per transaction, until none is left or
 * `maxBatches` ran; notes the run when it deleted any. Returns how many it deleted.
 */
export async function deleteAuditBefore(backend: Backend, before: Date, now: Date, options: PruneOptions = {}): Promise<number> {
  const batch = options.batch ?? PRUNE_BATCH
  let deleted = 0
  for (let run = 0; run < (options.maxBatches ?? Infinity) && !options.signal?.aborted; run++) {
    const count = await backend.deleteRange(AUDIT_PREFIX, boundary(before), batch)
    deleted += count
    if (count < batch) break
  }
  if (deleted > 0) {
    const note: LastPrune = {time: isoString(now), before: isoString(before), events: deleted}
    await backend.atomicWrite([], [{key: AUDIT_PRUNED_KEY, type: 'put', value: JSON.stringify(note)}])
  }
  return deleted
}

/** The time before which events are pruned at `now`. */
export async function pruneBoundary(backend: Backend, now: Date): Promise<Date> {
  return new Date(now.getTime() - (await getRetentionSeconds(backend)).seconds * 1000)
}

/** What the server's sweeper runs: every event past the retention, in batches of PRUNE_BATCH. */
export async function pruneAudit(backend: Backend, now: Date, options: PruneOptions = {}): Promise<number> {
  return deleteAuditBefore(backend, await pruneBoundary(backend, now), now, options)
}

/**
 * What a local command runs when it opens the store: two reads when nothing is due (the
 * retention, and the first event committed, which is the oldest but for the milliseconds
 * between an event's time and its commit), else one batch of LOCAL_PRUNE_BATCH. A store with
 * a long backlog is worked down a batch per command; a server prunes it all.
 */
export async function pruneAuditIfDue(backend: Backend, now: Date): Promise<number> {
  const before = await pruneBoundary(backend, now)
  const oldest = await oldestAuditTime(backend)
  if (oldest === undefined || oldest >= isoString(before)) return 0
  return deleteAuditBefore(backend, before, now, {batch: LOCAL_PRUNE_BATCH, maxBatches: 1})
}
