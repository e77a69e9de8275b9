/**
 * The server's metrics for /metrics, loaded only when `--diag-addr` asks for them. Its own
 * families are counted in plain numbers (a request costs a few increments and one map
 * lookup, where prom-client's labelled counters and histograms took ~4 µs) and written out
 * at a scrape; the process' (CPU, memory, file descriptors, event-loop lag, GC) come from
 * prom-client, the standard Node client. Names follow Prometheus' conventions: a
 * `wid_server_` prefix, base units (seconds), `_total` counters.
 */
import {collectDefaultMetrics, Registry} from 'prom-client'
import {labelValue, metricFamily} from '../diag-server.js'
import type {LoginOutcome, ServerGauges, ServerMetrics} from './metrics.js'

/** Request latencies, from a cached document (sub-millisecond) to a trust watch's long poll (20 s). */
const REQUEST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
/** Store writes, from a SQLite commit on a fast disk to a PostgreSQL that waits for a lock. */
const WRITE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]
const OUTCOMES: LoginOutcome[] = ['ok', 'failed', 'locked', 'error']

class Histogram {
  private readonly bounds: number[]
  /** Per bucket (not cumulative), the last one above every bound. */
  private readonly counts: number[]
  private sum = 0
  private count = 0

  constructor(bounds: number[]) {
    this.bounds = bounds
    this.counts = new Array<number>(bounds.length + 1).fill(0)
  }

  observe(value: number): void {
    let i = 0
    while (i < this.bounds.length && value > this.bounds[i]!) i++
    this.counts[i]!++
    this.sum += value
    this.count++
  }

  /** Sample lines of `name`, with `labels` (`key="value",` each) before `le`. */
  lines(name: string, labels = ''): string[] {
    let cumulative = 0
    const lines = this.bounds.map((bound, i) => `${name}_bucket{${labels}le="${bound}"} ${(cumulative += this.counts[i]!)}`)
    const plain = labels.replace(/,$/, '')
    lines.push(`${name}_bucket{${labels}le="+Inf"} ${this.count}`, `${name}_sum${plain ? `{${plain}}` : ''} ${this.sum}`, `${name}_count${plain ? `{${plain}}` : ''} ${this.count}`)
    return lines
  }
}

interface RouteStats {
  codes: Map<number, number>
  duration: Histogram
}

export interface PrometheusMetrics {
  metrics: ServerMetrics
  /** The text /metrics answers. */
  render(): Promise<string>
}

const byResult = (name: string, counts: Map<string, number>, label: string) => [...counts].map(([value, count]) => `${name}{${label}="${value}"} ${count}`)

export function prometheusMetrics(): PrometheusMetrics {
  const routes = new Map<string, RouteStats>()
  // Every outcome and type from the start: a rate() over a series that appears late misses its first increase
  const issued = new Map([['x509', 0], ['jwt', 0]])
  const logins = new Map(OUTCOMES.map((outcome) => [outcome, 0]))
  const joins = new Map(OUTCOMES.map((outcome) => [outcome, 0]))
  const writes = new Histogram(WRITE_BUCKETS)
  let hits = 0
  let misses = 0
  let gauges: ServerGauges | undefined
  const processMetrics = new Registry()
  // process_* (CPU, memory, open file descriptors) and nodejs_* (event-loop lag, heap, GC), under their usual names
  collectDefaultMetrics({register: processMetrics})
  // Gauges that prom-client names `_total`, a suffix Prometheus keeps for counters (promtool check metrics
  // refuses them); the same counts by type stay, as nodejs_active_handles, _requests and _resources
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) processMetrics.removeSingleMetric(name)

  const own = (): string[] => {
    const requests: string[] = []
    const durations: string[] = []
    for (const [route, stats] of routes) {
      const label = `route="${labelValue(route)}"`
      for (const [code, count] of stats.codes) requests.push(`wid_server_requests_total{${label},code="${code}"} ${count}`)
      durations.push(...stats.duration.lines('wid_server_request_duration_seconds', `${label},`))
    }
    return [
      ...metricFamily('wid_server_requests_total', 'counter', 'Requests answered, by route (the path of a known endpoint; "other" for the rest) and HTTP status code.', requests),
      ...metricFamily('wid_server_request_duration_seconds', 'histogram', 'Time from a request to its answer, by route.', durations),
      ...metricFamily('wid_server_requests_in_flight', 'gauge', 'Requests being answered now.', [`wid_server_requests_in_flight ${gauges?.requestsInFlight() ?? 0}`]),
      ...metricFamily('wid_server_svids_issued_total', 'counter', 'SVIDs issued, by type (x509, jwt); each SVID of a batch counts.', byResult('wid_server_svids_issued_total', issued, 'type')),
      ...metricFamily('wid_server_logins_total', 'counter', 'Password and invite logins, by result: ok, failed (wrong credentials), locked (refused unchecked: too many recent failures), error.', byResult('wid_server_logins_total', logins, 'result')),
      ...metricFamily('wid_server_bot_joins_total', 'counter', 'Bot joins, by result: ok, failed (token or ID token refused), locked (too many recent failures from the address), error.', byResult('wid_server_bot_joins_total', joins, 'result')),
      ...metricFamily('wid_server_read_cache_hits_total', 'counter', "Store reads answered from the server's read cache.", [`wid_server_read_cache_hits_total ${hits}`]),
      ...metricFamily('wid_server_read_cache_misses_total', 'counter', 'Store reads that went to the store.', [`wid_server_read_cache_misses_total ${misses}`]),
      ...metricFamily('wid_server_store_write_seconds', 'histogram', 'Time of a write to the store until it committed or failed (SQLite: through the writer thread, queue included; PostgreSQL: the write transaction).', writes.lines('wid_server_store_write_seconds')),
      ...metricFamily('wid_server_trust_watches_waiting', 'gauge', "Trust watches (bot agents' long polls) waiting for a change of the trust.", [`wid_server_trust_watches_waiting ${gauges?.trustWatchesWaiting() ?? 0}`]),
    ]
  }

  return {
    metrics: {
      request: (route, code, seconds) => {
        let stats = routes.get(route)
        if (!stats) routes.set(route, (stats = {codes: new Map(), duration: new Histogram(REQUEST_BUCKETS)}))
        stats.codes.set(code, (stats.codes.get(code) ?? 0) + 1)
        stats.duration.observe(seconds)
      },
      issued: (type, count) => void issued.set(type, issued.get(type)! + count),
      login: (outcome) => void logins.set(outcome, logins.get(outcome)! + 1),
      join: (outcome) => void joins.set(outcome, joins.get(outcome)! + 1),
      watch: (running) => void (gauges = running),
      wrote: (seconds) => writes.observe(seconds),
      cacheRead: (hit) => void (hit ? hits++ : misses++),
    },
    render: async () => own().join('\n') + '\n' + (await processMetrics.metrics()),
  }
}
