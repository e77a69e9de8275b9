/**
 * `wid audit export`: the audit log as JSON lines, one event per line, read a page at a time
 * in commit order (so a reader that follows misses no event that commits late), in local
 * and remote mode alike. A page is written before the next is asked for: a slow reader
 * pauses the paging, and holds nothing of the store meanwhile.
 */
import {setTimeout as sleep} from 'node:timers/promises'
import {escapeC1InJson} from '../output/printable.js'
import {AUDIT_PAGE_LIMIT, type AuditCursor, type AuditEvent} from '../services/audit.js'
import type {Cluster} from './cluster.js'

export interface AuditExportOptions {
  /** Only events whose time is at or after this. */
  since?: Date
  /** Once the log is read to its end, wait for new events instead of returning. */
  follow: boolean
  /** How long to wait before asking again at the end of the log. */
  idleMs: number
  /** Ends the export (between pages, or while waiting): a follower's way out. */
  signal: AbortSignal
  /** Writes the lines of a page; resolves once they are taken. */
  write(lines: string): Promise<void>
}

/** One event as its export line: its id, then the stored fields, C1 controls escaped as --json does (see escapeC1InJson). */
export const auditLine = (event: AuditEvent, id: string): string => `${escapeC1InJson(JSON.stringify({id, ...event}))}\n`

/** Writes the log (from `since`) and, with `follow`, every event after it; returns how many events it wrote. */
export async function exportAudit(cluster: Pick<Cluster, 'auditEvents'>, options: AuditExportOptions): Promise<number> {
  let after: AuditCursor = {revision: 0}
  let written = 0
  while (!options.signal.aborted) {
    const page = await cluster.auditEvents({after, since: options.since, limit: AUDIT_PAGE_LIMIT})
    if (page.events.length > 0) {
      await options.write(page.events.map((event, i) => auditLine(event, page.ids[i]!)).join(''))
      written += page.events.length
    }
    after = page.next
    if (page.more) continue
    if (!options.follow) break
    await sleep(options.idleMs, undefined, {signal: options.signal}).catch(() => undefined)
  }
  return written
}
