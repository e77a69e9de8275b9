/**
 * Waiting for a store that does not answer yet. A server and its database often start
 * together (a host booting, a deployment), or the database is restarting: the server
 * retries while the store is `unavailable` instead of failing. Any other failure (a refused
 * login, a missing database, a schema from a newer wid) needs a person, and ends the wait.
 */
import {backoffDelay} from '../backoff.js'
import {isWidError, type WidError} from '../errors.js'

/** The first retry comes after 0.5–1 s; each next delay doubles, up to 5–10 s (jittered, so that servers waiting on one database do not knock together). */
const FIRST_DELAY_MS = 1000
const MAX_DELAY_MS = 10_000

export interface RetryOptions {
  /** Told of each failure that will be retried: the error, the attempt that failed (from 1), and the wait before the next. */
  onRetry(error: WidError, attempt: number, delayMs: number): void
  /**
   * Ends the wait between attempts: the result is then undefined. An attempt in progress is
   * not interrupted; if it succeeds, its result is returned and the caller, seeing the
   * signal aborted, closes what it opened.
   */
  signal?: AbortSignal
  /** In [0, 1): jitter draws. */
  random?: () => number
}

/** What `attempt` returns once it succeeds; it throws what it throws unless that is `unavailable`. */
export async function retryWhileUnavailable<T>(attempt: () => Promise<T>, options: RetryOptions): Promise<T | undefined> {
  const random = options.random ?? Math.random
  for (let n = 1; !options.signal?.aborted; n++) {
    try {
      return await attempt()
    } catch (error) {
      if (!isWidError(error) || error.code !== 'unavailable') throw error
      const delayMs = backoffDelay(n, FIRST_DELAY_MS, MAX_DELAY_MS, random)
      options.onRetry(error, n, delayMs)
      await wait(delayMs, options.signal)
    }
  }
  return undefined
}

/** Resolves after `ms`, or as soon as `signal` aborts (at once if it has). */
function wait(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) return Promise.resolve()
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, {once: true})
  })
}
