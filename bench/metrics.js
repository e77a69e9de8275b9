#!/usr/bin/env node
// What `wid server --diag-addr` pays per request for its metrics: the calls one X.509-SVID
// request makes (a request with its route, code and latency; an SVID issued; a store write;
// the store reads of one issuance, all cache hits), timed in a loop, beside the no-op calls of
// a server without --diag-addr. Run with `npm run bench:metrics` (which builds first).
// Figures only: nothing here fails on a number.
import {NO_METRICS} from '../dist/lib/server/metrics.js'
import {prometheusMetrics} from '../dist/lib/server/prometheus.js'

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 1_000_000)
/** Store reads of one X.509-SVID request (the caller, its roles, the identities, the CA, ...), as /metrics counted them. */
const READS = 20
const ROUTES = ['/v1/issueX509Svid', '/v1/issueJwtSvid', '/v1/issueSvids', '/v1/whoami']

/** A loop of its own for each implementation: one call site seeing both would measure V8's polymorphic calls instead. */
const loop = () => (metrics) => {
  const start = process.hrtime.bigint()
  for (let i = 0; i < REQUESTS; i++) {
    for (let r = 0; r < READS; r++) metrics.cacheRead(true)
    metrics.wrote(0.0012)
    metrics.issued('x509', 1)
    metrics.request(ROUTES[i & 3], 200, 0.004 + (i & 15) / 1000)
  }
  return Number(process.hrtime.bigint() - start) / REQUESTS
}

const {metrics, render} = prometheusMetrics()
const [offLoop, onLoop] = [loop(), loop()]
// once each first, so that both loops are measured optimised
offLoop(NO_METRICS)
onLoop(metrics)
const off = offLoop(NO_METRICS)
const on = onLoop(metrics)
const scrapeStart = process.hrtime.bigint()
const text = await render()
const scrapeMs = Number(process.hrtime.bigint() - scrapeStart) / 1e6
console.log(`metrics per request (${READS} cache reads, a write, an SVID, the request; ${REQUESTS} requests, ${process.version})`)
console.log(`  without --diag-addr (no-op calls)  ${off.toFixed(0).padStart(6)} ns`)
console.log(`  with --diag-addr (counting)        ${on.toFixed(0).padStart(6)} ns`)
console.log(`  a scrape of /metrics               ${scrapeMs.toFixed(1).padStart(6)} ms (${text.length} bytes)`)
