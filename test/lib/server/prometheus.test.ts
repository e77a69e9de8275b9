import {describe, expect, it} from 'vitest'
import {LoginLocked, LoginRefused} from '../../../src/lib/auth/login.js'
import {WidError} from '../../../src/lib/errors.js'
import {JoinRefused} from '../../../src/lib/join/refused.js'
import {refusalOutcome} from '../../../src/lib/server/metrics.js'
import {prometheusMetrics} from '../../../src/lib/server/prometheus.js'
import {promtoolProblems, sample} from '../../helpers/prometheus.js'

describe('prometheusMetrics', () => {
  it('counts requests by route and code, with a latency histogram by route', async () => {
    const {metrics, render} = prometheusMetrics()
    metrics.request('/v1/issueX509Svid', 200, 0.004)
    metrics.request('/v1/issueX509Svid', 200, 0.02)
    metrics.request('/v1/issueX509Svid', 403, 0.002)
    metrics.request('other', 404, 0.0001)
    const text = await render()
    expect(sample(text, 'wid_server_requests_total', {route: '/v1/issueX509Svid', code: '200'})).toBe(2)
    expect(sample(text, 'wid_server_requests_total', {route: '/v1/issueX509Svid', code: '403'})).toBe(1)
    expect(sample(text, 'wid_server_requests_total', {route: 'other', code: '404'})).toBe(1)
    // cumulative buckets, in seconds
    expect(sample(text, 'wid_server_request_duration_seconds_bucket', {route: '/v1/issueX509Svid', le: '0.0025'})).toBe(1)
    expect(sample(text, 'wid_server_request_duration_seconds_bucket', {route: '/v1/issueX509Svid', le: '0.005'})).toBe(2)
    expect(sample(text, 'wid_server_request_duration_seconds_bucket', {route: '/v1/issueX509Svid', le: '+Inf'})).toBe(3)
    expect(sample(text, 'wid_server_request_duration_seconds_count', {route: '/v1/issueX509Svid'})).toBe(3)
    expect(sample(text, 'wid_server_request_duration_seconds_sum', {route: '/v1/issueX509Svid'})).toBeCloseTo(0.026, 6)
  })

  it('counts SVIDs by type, logins and joins by result, cache reads and store writes, from zero', async () => {
    const {metrics, render} = prometheusMetrics()
    const before = await render()
    for (const type of ['x509', 'jwt']) expect(sample(before, 'wid_server_svids_issued_total', {type})).toBe(0)
    for (const result of ['ok', 'failed', 'locked', 'error']) expect(sample(before, 'wid_server_logins_total', {result})).toBe(0)
    metrics.issued('x509', 10)
    metrics.issued('jwt', 1)
    metrics.login('failed')
    metrics.login('failed')
    metrics.login('locked')
    metrics.join('ok')
    metrics.cacheRead(true)
    metrics.cacheRead(true)
    metrics.cacheRead(false)
    metrics.wrote(0.003)
    const text = await render()
    expect(sample(text, 'wid_server_svids_issued_total', {type: 'x509'})).toBe(10)
    expect(sample(text, 'wid_server_svids_issued_total', {type: 'jwt'})).toBe(1)
    expect(sample(text, 'wid_server_logins_total', {result: 'failed'})).toBe(2)
    expect(sample(text, 'wid_server_logins_total', {result: 'locked'})).toBe(1)
    expect(sample(text, 'wid_server_logins_total', {result: 'ok'})).toBe(0)
    expect(sample(text, 'wid_server_bot_joins_total', {result: 'ok'})).toBe(1)
    expect(sample(text, 'wid_server_read_cache_hits_total')).toBe(2)
    expect(sample(text, 'wid_server_read_cache_misses_total')).toBe(1)
    expect(sample(text, 'wid_server_store_write_seconds_bucket', {le: '0.0025'})).toBe(0)
    expect(sample(text, 'wid_server_store_write_seconds_bucket', {le: '0.005'})).toBe(1)
  })

  it('reads the gauges when scraped, zero until the server runs', async () => {
    const {metrics, render} = prometheusMetrics()
    expect(sample(await render(), 'wid_server_trust_watches_waiting')).toBe(0)
    let waiting = 3
    metrics.watch({requestsInFlight: () => 7, trustWatchesWaiting: () => waiting})
    expect(sample(await render(), 'wid_server_trust_watches_waiting')).toBe(3)
    waiting = 1
    const text = await render()
    expect(sample(text, 'wid_server_trust_watches_waiting')).toBe(1)
    expect(sample(text, 'wid_server_requests_in_flight')).toBe(7)
  })

  it("has the process' metrics, and nothing promtool refuses", async () => {
    const {metrics, render} = prometheusMetrics()
    metrics.request('/healthz', 200, 0.001)
    metrics.wrote(0.002)
    const text = await render()
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_open_fds', 'nodejs_eventloop_lag_seconds']) {
      expect(sample(text, name), name).toBeGreaterThanOrEqual(0)
    }
    expect(promtoolProblems(text)).toBe('')
  })
})

describe('refusalOutcome', () => {
  it('tells a lockout from wrong credentials from other errors', () => {
    expect(refusalOutcome(new LoginLocked('auth: too many failed logins; try again in 15 min'))).toBe('locked')
    expect(refusalOutcome(new LoginRefused('auth: invalid user name or password'))).toBe('failed')
    expect(refusalOutcome(new JoinRefused('join: the cluster has no token "x"'))).toBe('failed')
    expect(refusalOutcome(new WidError('access_denied', 'auth: invalid user name or password'))).toBe('failed')
    expect(refusalOutcome(new WidError('unavailable', 'auth: too many logins at once; try again in a moment'))).toBe('error')
    expect(refusalOutcome(new Error('boom'))).toBe('error')
  })
})
