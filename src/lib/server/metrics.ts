/**
 * What `wid server` counts for /metrics. The server always calls these; without
 * `--diag-addr` they are NO_METRICS, which do nothing, and prom-client is never loaded
 * (server/prometheus.ts is, on demand). With it, each call is a few increments: they sit on
 * every request.
 */
import type {StoreObserver} from '../backend/backend.js'
import {LoginLocked, LoginRefused} from '../auth/login.js'
import {JoinRefused} from '../join/refused.js'
import {isWidError} from '../errors.js'

/** How a login (or a bot's join) ended: `failed`, refused after its credentials were checked; `locked`, refused unchecked, over its failure limit. */
export type LoginOutcome = 'ok' | 'failed' | 'locked' | 'error'

/** What the metrics read when scraped, rather than being told of each change. */
export interface ServerGauges {
  requestsInFlight(): number
  trustWatchesWaiting(): number
}

export interface ServerMetrics extends StoreObserver {
  /** A request answered: `route` is a known path (never the client's own path: it would grow without bound) or "other". */
  request(route: string, code: number, seconds: number): void
  /** SVIDs issued (a batch counts each). */
  issued(type: 'x509' | 'jwt', count: number): void
  login(outcome: LoginOutcome): void
  join(outcome: LoginOutcome): void
  /** Called once the server runs. */
  watch(gauges: ServerGauges): void
}

const nothing = () => {}

export const NO_METRICS: ServerMetrics = {request: nothing, issued: nothing, login: nothing, join: nothing, watch: nothing, wrote: nothing, cacheRead: nothing}

/** The outcome of a login or join that threw `error`. */
export function refusalOutcome(error: unknown): LoginOutcome {
  if (error instanceof LoginLocked) return 'locked'
  if (error instanceof LoginRefused || error instanceof JoinRefused || (isWidError(error) && error.code === 'access_denied')) return 'failed'
  return 'error'
}
