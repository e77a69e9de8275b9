/**
 * SvidCache against a real embedded cluster (a WID_HOME made by the built `wid init`, opened
 * as a bot, as `wid bot start --local` does): which workloads share an SVID and a request,
 * JWT-SVID caching, background renewal of held entries, revocation and transient failures.
 * Renewal is driven by a short renewal interval; the tests wait for outcomes, never durations.
 */
import {once} from 'node:events'
import {X509Certificate} from 'node:crypto'
import {join} from 'node:path'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'
import type {SvidItem, SvidItemResult} from '../../../src/lib/auth/bot-join.js'
import {LocalCluster} from '../../../src/lib/cluster/local.js'
import {WidError} from '../../../src/lib/errors.js'
import {SvidCache, type CacheOptions, type WorkloadAttributes, type X509Entry} from '../../../src/lib/workloadapi/cache.js'
import {tempDir, widIn} from '../../helpers/cli.js'
import {DEMO_ROLE as ROLE} from '../../helpers/workload-agent.js'

const tmp = tempDir('wid-cache-')
const home = join(tmp.path, 'home')
const admin = widIn(home)

function identity(name: string, spiffeId: string, uids = [1000]): string {
  const rules = uids.map((uid) => `      - conditions:\n          - attribute: workload.unix.uid\n            eq:\n              value: ${uid}\n`).join('')
  return `kind: workload_identity
version: v1
metadata:
  name: ${name}
  labels:
    app: demo
spec:
  rules:
    allow:
${rules}  spiffe:
    id: ${spiffeId}
`
}
let cluster: LocalCluster
/**
 * Every issue call the caches made; the next `unreachable` calls, and those for workloads of the
 * uid in `unreachableFor`, fail as if the cluster could not be reached.
 */
let calls: SvidItem[][] = []
let unreachable = 0
let unreachableFor: number | undefined
const issue = async (items: SvidItem[]): Promise<SvidItemResult[]> => {
  calls.push(items)
  if (unreachable > 0 || items.some((item) => item.workload?.unix?.uid === unreachableFor)) {
    unreachable -= 1
    throw new WidError('unavailable', 'cluster unreachable')
  }
  return cluster.issueSvids(items)
}

beforeAll(async () => {
  expect((await admin(['init', '--cluster-name', 'example.org'])).code).toBe(0)
  const documents = [
    identity('by-uid', '/svc/uid-{{ workload.unix.uid }}'),
    identity('by-pid', '/svc/pid-{{ workload.unix.pid }}'),
    identity('doomed', '/svc/doomed'),
    identity('narrowed', '/svc/narrowed'),
    identity('two-uids', '/svc/uid-{{ workload.unix.uid }}', [1000, 2000]),
    ROLE,
  ]
  expect((await admin(['create', '-f', '-'], {input: documents.join('---\n')})).code).toBe(0)
  expect((await admin(['bots', 'add', 'cache-bot', '--roles', 'demo-issuer'])).code).toBe(0)
  cluster = await LocalCluster.open({home, as: {kind: 'bot', name: 'cache-bot'}})
}, 60_000)
afterAll(async () => {
  await cluster?.close()
  tmp.cleanup()
})

const caches: SvidCache[] = []
afterEach(() => {
  for (const cache of caches.splice(0)) cache.close()
  calls = []
  unreachable = 0
  unreachableFor = undefined
})

function newCache(name: string, options: Partial<CacheOptions> = {}): SvidCache {
  const cache = new SvidCache({selector: {name}, ttlSeconds: 600, renewalIntervalMs: 20 * 60_000, issue, ...options})
  caches.push(cache)
  return cache
}

const workload = (pid: number, uid = 1000): WorkloadAttributes => ({unix: {attested: true, uid, gid: 1000, pid}})
const serial = (entry: X509Entry) => new X509Certificate(entry.svids[0]!.certificates[0]!).serialNumber
const san = (entry: X509Entry) => new X509Certificate(entry.svids[0]!.certificates[0]!).subjectAltName

/** Resolves once `condition` holds, checking every 100 ms. */
async function within(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 100))
}

/** The next renewal of `key` the cache announces. */
async function nextRenewal(cache: SvidCache, key: string): Promise<X509Entry> {
  for (;;) {
    const [renewedKey, entry] = (await once(cache, 'x509')) as [string, X509Entry]
    if (renewedKey === key) return entry
  }
}

describe('SvidCache', () => {
  it('gives workloads that differ only in their pid one SVID from one request, when the identity does not depend on the pid', async () => {
    const cache = newCache('by-uid')
    const answers = await Promise.all(Array.from({length: 20}, (_, i) => cache.x509(workload(100 + i))))
    expect(calls).toHaveLength(1)
    expect(new Set(answers.map((a) => a.key)).size).toBe(1)
    expect(new Set(answers.map((a) => a.entry)).size).toBe(1)
    expect(san(answers[0]!.entry)).toBe('URI:spiffe://example.org/svc/uid-1000')
    expect((await cache.x509(workload(999))).entry).toBe(answers[0]!.entry)
    expect(calls).toHaveLength(1)
    // another uid matters (the template names it): it is not served from the cache
    await expect(cache.x509(workload(100, 2000))).rejects.toMatchObject({code: 'access_denied'})
    expect(calls).toHaveLength(2)
  })

  it('gives workloads with different pids different SVIDs when the identity depends on the pid', async () => {
    const cache = newCache('by-pid')
    const answers = await Promise.all([cache.x509(workload(101)), cache.x509(workload(102)), cache.x509(workload(103))])
    expect(answers.map((a) => san(a.entry))).toEqual(['URI:spiffe://example.org/svc/pid-101', 'URI:spiffe://example.org/svc/pid-102', 'URI:spiffe://example.org/svc/pid-103'])
    expect(new Set(answers.map((a) => a.key)).size).toBe(3)
    expect(calls).toHaveLength(3)
    expect((await cache.x509(workload(102))).entry).toBe(answers[1]!.entry)
    expect(calls).toHaveLength(3)
  })

  it('caches JWT-SVIDs per set of audiences until half their life', async () => {
    let offset = 0
    const cache = newCache('by-uid', {now: () => Date.now() + offset})
    const first = await cache.jwt(workload(1), ['a', 'b'])
    expect(first.map((svid) => svid.spiffeId)).toEqual(['spiffe://example.org/svc/uid-1000'])
    expect(await cache.jwt(workload(2), ['b', 'a'])).toBe(first)
    expect(calls).toHaveLength(1)
    const other = await cache.jwt(workload(1), ['a'])
    expect(other[0]!.token).not.toBe(first[0]!.token)
    expect(calls).toHaveLength(2)
    offset = 200_000
    expect(await cache.jwt(workload(1), ['a', 'b'])).toBe(first)
    expect(calls).toHaveLength(2)
    offset = 400_000
    const renewed = await cache.jwt(workload(1), ['a', 'b'])
    expect(renewed).not.toBe(first)
    expect(calls).toHaveLength(3)
  })

  it('renews a held entry at its refresh time, announcing the new one, and stops once released', async () => {
    const cache = newCache('by-uid', {renewalIntervalMs: 300})
    const {key, entry} = await cache.x509(workload(1))
    const release = cache.hold(key)
    const renewed = await nextRenewal(cache, key)
    expect(serial(renewed)).not.toBe(serial(entry))
    expect(renewed.svids[0]!.key).not.toEqual(entry.svids[0]!.key)
    expect((await cache.x509(workload(2))).entry).toBe(renewed)
    release()
    const issued = calls.length
    // three renewal intervals and more: a renewal that went on would have been asked for by now
    await new Promise((resolve) => setTimeout(resolve, 1000))
    expect(calls).toHaveLength(issued)
  })

  it('ends held entries as revoked when the identity is deleted', async () => {
    const cache = newCache('doomed', {renewalIntervalMs: 300})
    const {key} = await cache.x509(workload(1))
    cache.hold(key)
    await nextRenewal(cache, key)
    const revoked = once(cache, 'revoked')
    expect((await admin(['rm', 'workload_identity/doomed'])).code).toBe(0)
    const [revokedKey, error] = (await revoked) as [string, WidError]
    expect(revokedKey).toBe(key)
    expect(error.code).toBe('not_found')
  })

  it('ends held entries as revoked when the identity\'s rule no longer allows the workload', async () => {
    const cache = newCache('narrowed', {renewalIntervalMs: 300})
    const {key} = await cache.x509(workload(1))
    cache.hold(key)
    const revoked = once(cache, 'revoked')
    expect((await admin(['create', '--force', '-f', '-'], {input: identity('narrowed', '/svc/narrowed', [2000])})).code).toBe(0)
    const [revokedKey, error] = (await revoked) as [string, WidError]
    expect(revokedKey).toBe(key)
    expect(error.code).toBe('access_denied')
  })

  it('renewNow renews held entries, drops unheld ones and drops cached JWT-SVIDs', async () => {
    const cache = newCache('two-uids')
    const held = await cache.x509(workload(1))
    cache.hold(held.key)
    const unheld = await cache.x509(workload(2, 2000))
    const jwt = await cache.jwt(workload(1), ['a'])
    const issued = calls.length
    const renewal = nextRenewal(cache, held.key)
    cache.renewNow({x509: true, jwt: true})
    expect(serial(await renewal)).not.toBe(serial(held.entry))
    const again = await cache.jwt(workload(1), ['a'])
    expect(again).not.toBe(jwt)
    expect(calls).toHaveLength(issued + 2)
    expect(serial((await cache.x509(workload(2, 2000))).entry)).not.toBe(serial(unheld.entry))
    expect(calls).toHaveLength(issued + 3)
  })

  it('renewNow of one kind leaves the other: a new JWT signing key keeps the X.509-SVIDs, a new X.509 one the JWT-SVIDs', async () => {
    const cache = newCache('by-uid')
    const held = await cache.x509(workload(1))
    cache.hold(held.key)
    const jwt = await cache.jwt(workload(1), ['a'])
    const issued = calls.length
    cache.renewNow({x509: false, jwt: true})
    expect(calls).toHaveLength(issued)
    expect((await cache.x509(workload(1))).entry).toBe(held.entry)
    expect(await cache.jwt(workload(1), ['a'])).not.toBe(jwt)
    const renewal = nextRenewal(cache, held.key)
    const jwtNow = await cache.jwt(workload(1), ['a'])
    cache.renewNow({x509: true, jwt: false})
    expect(serial(await renewal)).not.toBe(serial(held.entry))
    expect(await cache.jwt(workload(1), ['a'])).toBe(jwtNow)
  })

  it('gives the streams that hold an expired entry the one a new workload fetched for the same key', async () => {
    const cache = newCache('by-uid', {ttlSeconds: 2, onRenewalError: () => {}})
    const held = await cache.x509(workload(1))
    cache.hold(held.key)
    unreachable = Infinity
    await within(() => Date.now() > held.entry.svids[0]!.notAfter.getTime())
    unreachable = 0
    const announced = nextRenewal(cache, held.key)
    const fetched = await cache.x509(workload(2))
    expect(fetched.key).toBe(held.key)
    expect(serial(await announced)).toBe(serial(fetched.entry))
  })

  it('renews once for several renewNow calls that come during one renewal', async () => {
    const cache = newCache('by-uid')
    const held = await cache.x509(workload(1))
    cache.hold(held.key)
    const issued = calls.length
    const renewal = nextRenewal(cache, held.key)
    cache.renewNow({x509: true, jwt: true})
    cache.renewNow({x509: true, jwt: true})
    cache.renewNow({x509: true, jwt: true})
    await renewal
    expect(calls).toHaveLength(issued + 1)
  })

  it('retries a renewal that failed for a transient reason, keeping the last good entry meanwhile', async () => {
    const failures: WidError[] = []
    const cache = newCache('by-uid', {renewalIntervalMs: 300, onRenewalError: (error) => failures.push(error)})
    const {key, entry} = await cache.x509(workload(1))
    cache.hold(key)
    unreachable = 2
    let revoked = false
    cache.on('revoked', () => (revoked = true))
    const renewed = await nextRenewal(cache, key)
    expect(failures.map((error) => [error.code, error.message])).toEqual([
      ['unavailable', 'cluster unreachable'],
      ['unavailable', 'cluster unreachable'],
    ])
    expect(serial(renewed)).not.toBe(serial(entry))
    expect(revoked).toBe(false)
    expect(calls).toHaveLength(4)
  })

  it('serves the last good entry while its renewal keeps failing', async () => {
    let failed!: () => void
    const failing = new Promise<void>((resolve) => (failed = resolve))
    const cache = newCache('by-uid', {renewalIntervalMs: 300, onRenewalError: () => failed()})
    const {key, entry} = await cache.x509(workload(1))
    cache.hold(key)
    unreachable = Infinity
    await failing
    expect((await cache.x509(workload(2))).entry).toBe(entry)
  })

  it('keeps retrying a held entry whose renewal fails until it expires, and renews it when the cluster answers again', async () => {
    const failures: WidError[] = []
    const cache = newCache('by-uid', {ttlSeconds: 2, onRenewalError: (error) => failures.push(error)})
    const {key, entry} = await cache.x509(workload(1))
    cache.hold(key)
    unreachable = 2
    const renewed = await nextRenewal(cache, key)
    expect(failures).toHaveLength(2)
    expect(serial(renewed)).not.toBe(serial(entry))
  })

  it('keeps a held entry that expired while other workloads get theirs, and keeps renewing it for the streams that still hold it', async () => {
    const cache = newCache('two-uids', {ttlSeconds: 2, onRenewalError: () => {}})
    const first = await cache.x509(workload(1))
    const releaseFirst = cache.hold(first.key)
    unreachableFor = 1000
    await within(() => Date.now() > first.entry.svids[0]!.notAfter.getTime())
    // another workload's issuance sweeps the cache
    expect(san((await cache.x509(workload(2, 2000))).entry)).toBe('URI:spiffe://example.org/svc/uid-2000')
    unreachableFor = undefined
    const renewed = await nextRenewal(cache, first.key)
    expect(serial(renewed)).not.toBe(serial(first.entry))
    const second = await cache.x509(workload(3))
    expect(second.key).toBe(first.key)
    cache.hold(second.key)
    releaseFirst()
    expect(serial(await nextRenewal(cache, first.key))).not.toBe(serial(second.entry))
  })
})
