/** Exponential backoff with jitter, for everything that retries: the bot agent's loops, a server waiting for its database. */

/** The delay before retry `attempt` (1-based): base·2^(attempt-1), jittered to between half and all of it, capped by `capMs`. */
export function backoffDelay(attempt: number, baseMs: number, capMs: number, random: () => number): number {
  const full = Math.min(baseMs * 2 ** (attempt - 1), capMs)
  return Math.round(full / 2 + (full / 2) * random())
}
