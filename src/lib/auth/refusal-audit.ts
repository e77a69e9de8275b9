/**
 * How many refusals of unthrottled requests (delegated joins, which anyone may send; failed
 * renewals, which a bot may send as fast as it likes) reach the audit log: at most `limit`
 * a minute per source (a client address group, or a bot instance). The others are counted,
 * and the next event recorded for that source says how many were left out, so a flood of bad
 * tokens cannot fill the log, and still shows.
 */
export class RefusalAudit {
  private readonly sources = new Map<string, {start: number; recorded: number; skipped: number}>()
  private readonly limit: number
  private readonly windowMs: number

  constructor(limit = 30, windowMs = 60_000) {
    this.limit = limit
    this.windowMs = windowMs
  }

  /** Whether this refusal is recorded, and how many from the source were left out before it. */
  admit(source: string, now: number): {record: boolean; skipped: number} {
    let entry = this.sources.get(source)
    if (!entry || now - entry.start >= this.windowMs) {
      if (!entry && this.sources.size >= 10_000) this.forgetOld(now)
      entry = {start: now, recorded: 0, skipped: entry?.skipped ?? 0}
      this.sources.set(source, entry)
    }
    if (entry.recorded >= this.limit) {
      entry.skipped++
      return {record: false, skipped: 0}
    }
    entry.recorded++
    const {skipped} = entry
    entry.skipped = 0
    return {record: true, skipped}
  }

  /** Sources quiet for a window, whose left-out refusals were reported (or none): kept memory is bounded by the busy ones. */
  private forgetOld(now: number): void {
    for (const [source, entry] of this.sources) if (now - entry.start >= this.windowMs && entry.skipped === 0) this.sources.delete(source)
  }
}
