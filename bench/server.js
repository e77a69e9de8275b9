#!/usr/bin/env node
// Load figures for `wid server` over mutual TLS: X.509- and JWT-SVID issuance and the public
// JWKS, with 16 concurrent clients, beside openssl speed for the CA key types. Run with
// `npm run bench:server` (which builds first). Figures only: nothing here fails on a number.
// Everything stays on 127.0.0.1 and in temporary directories that are removed afterwards.
import {spawnSync} from 'node:child_process'
import {generateKeyPairSync, sign} from 'node:crypto'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {availableParallelism, tmpdir} from 'node:os'
import {join} from 'node:path'
import {Agent, request} from 'undici'
import {cpuSeconds, percentile, runWid, startServer, stopServer, threadCpuSeconds} from './lib.js'

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const CLIENTS = 16
const BATCH = 10
const OPENSSL_SECONDS = 3
const CORES = availableParallelism()
const PASSWORD = 'bench-password-0123456789'

async function load(name, serverPid, send, items = 1) {
  const latencies = []
  let errors = 0
  let failures = 0
  let firstError
  const cpuBefore = cpuSeconds(serverPid)
  const threadsBefore = threadCpuSeconds(serverPid)
  const ownBefore = process.cpuUsage()
  const start = performance.now()
  const deadline = start + SECONDS * 1000
  const client = async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now()
      try {
        const response = await send()
        const text = await response.body.text()
        latencies.push(performance.now() - t0)
        if (response.statusCode !== 200) {
          errors += items
          firstError ??= `${response.statusCode} ${text.slice(0, 200)}`
        } else if (items > 1) {
          // a batch answers each item on its own: count the items refused
          const refused = JSON.parse(text).result.results.filter((r) => 'error' in r)
          errors += refused.length
          if (refused.length) firstError ??= refused[0].error.message
        }
      } catch (error) {
        failures++
        firstError ??= error.message
      }
    }
  }
  await Promise.all(Array.from({length: CLIENTS}, client))
  const elapsed = (performance.now() - start) / 1000
  const serverCpu = cpuSeconds(serverPid) - cpuBefore
  const threads = Object.entries(threadCpuSeconds(serverPid)).map(([group, seconds]) => [group, (seconds - (threadsBefore[group] ?? 0)) / elapsed])
  const own = process.cpuUsage(ownBefore)
  latencies.sort((a, b) => a - b)
  return {
    name,
    rate: latencies.length / elapsed,
    svids: (latencies.length * items) / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    errors,
    failures,
    firstError,
    serverCpu: serverCpu / elapsed,
    threads,
    clientCpu: (own.user + own.system) / 1e6 / elapsed,
  }
}

/** CPU microseconds per call of a synchronous function, over about a second. */
function cpuMicrosPerCall(fn) {
  for (let i = 0; i < 200; i++) fn()
  const before = process.cpuUsage()
  let calls = 0
  const until = performance.now() + 1000
  while (performance.now() < until) {
    fn()
    calls++
  }
  const used = process.cpuUsage(before)
  return (used.user + used.system) / calls
}

/**
 * CPU microseconds (all threads of this process) per X.509-SVID issued by the cluster logic
 * here, with no HTTP, one at a time: on the memory backend, or on SQLite with the server's
 * writer thread (in `dir`).
 */
async function inProcessIssuanceMicros(publicKey, dir) {
  const {MemoryBackend} = await import('../dist/lib/backend/memory.js')
  const {SqliteBackend} = await import('../dist/lib/backend/sqlite.js')
  const {initializeCluster} = await import('../dist/lib/auth/init.js')
  const {AuthServer} = await import('../dist/lib/auth/auth-server.js')
  const backend = dir ? await SqliteBackend.open(join(dir, 'wid.db'), {writerThread: true}) : new MemoryBackend()
  await initializeCluster(backend, {defaultClusterName: 'bench.example', caKeyType: 'ec-p256', now: new Date()})
  const auth = await AuthServer.open(backend)
  const caller = {kind: 'admin', name: 'bench'}
  const issue = () => auth.issueX509Svid(caller, {path: '/svc/bench', publicKey})
  for (let i = 0; i < 500; i++) await issue()
  const before = process.cpuUsage()
  let calls = 0
  const until = performance.now() + 1500
  while (performance.now() < until) {
    await issue()
    calls++
  }
  const used = process.cpuUsage(before)
  await backend.close()
  return (used.user + used.system) / calls
}

function opensslSignRate(algorithm, multi) {
  const args = ['speed', '-seconds', String(OPENSSL_SECONDS), ...(multi ? ['-multi', String(multi)] : []), '-mr', algorithm]
  const result = spawnSync('openssl', args, {encoding: 'utf8', timeout: 120_000})
  const line = (result.stdout ?? '').split('\n').find((l) => /^\+F[24]:/.test(l))
  return line ? Number(line.split(':')[3]) : NaN
}

const serverHome = mkdtempSync(join(tmpdir(), 'wid-bench-server-'))
const clientHome = mkdtempSync(join(tmpdir(), 'wid-bench-client-'))
let server
let agent
try {
  // 1. a cluster with one role allowing /svc/bench, a user holding it, a server and a login
  runWid(serverHome, ['init', '--cluster-name', 'bench.example'])
  runWid(serverHome, ['create', '-f', '-'], 'kind: role\nversion: v7\nmetadata:\n  name: bench\nspec:\n  allow:\n    spiffe:\n      - path: /svc/bench\n')
  const invite = runWid(serverHome, ['users', 'add', 'bench', '--roles', 'bench,access']).trim().split('\n').pop().trim()
  const started = await startServer(serverHome)
  server = started.child
  const {proxy, url} = started
  const pin = JSON.parse(runWid(serverHome, ['status', '--json'])).hostCaPins?.[0]
  if (!pin) throw new Error('wid status --json shows no hostCaPins')
  // (an invite never goes on a command line: wid login reads it from a file)
  const inviteFile = join(clientHome, 'invite')
  writeFileSync(inviteFile, invite + '\n', {mode: 0o600})
  runWid(clientHome, ['login', '--proxy', proxy, '--user', 'bench', '--invite-file', inviteFile, '--password-stdin', '--ca-pin', pin], PASSWORD + '\n')

  // 2. the client's identity from the profile wid login stored
  const profile = join(clientHome, 'profiles', readFileSync(join(clientHome, 'current-profile'), 'utf8').trim().replace(/[^A-Za-z0-9._-]/g, '_'))
  const [key, cert, ca] = ['key.pem', 'cert.pem', 'host-ca.pem'].map((f) => readFileSync(join(profile, f), 'utf8'))
  agent = new Agent({connect: {ca, cert, key, checkServerIdentity: () => undefined}, connections: CLIENTS, pipelining: 1, keepAliveTimeout: 30_000})
  const publicKey = generateKeyPairSync('ec', {namedCurve: 'P-256'}).publicKey.export({type: 'spki', format: 'pem'})
  const post = (method, body) => {
    const json = JSON.stringify(body)
    return () => request(`${url}/v1/${method}`, {method: 'POST', dispatcher: agent, headers: {'content-type': 'application/json'}, body: json, headersTimeout: 30_000, bodyTimeout: 30_000})
  }
  const runs = [
    ['X.509-SVID (EC P-256 CA)', post('issueX509Svid', {path: '/svc/bench', publicKey})],
    ['JWT-SVID (RS256)', post('issueJwtSvid', {path: '/svc/bench', audiences: ['sts.amazonaws.com']})],
    ['X.509-SVIDs, 10 per request', post('issueSvids', {items: Array.from({length: BATCH}, () => ({type: 'x509', path: '/svc/bench', publicKey}))}), BATCH],
    ['POST whoami (no work)', post('whoami', {})],
    ['GET jwt-jwks.json', () => request(`${url}/workload-identity/jwt-jwks.json`, {dispatcher: agent, headersTimeout: 30_000, bodyTimeout: 30_000})],
  ]
  // one request each first: a setup problem should say so, not show up as a wall of errors
  for (const [name, send] of runs) {
    const response = await send()
    const text = await response.body.text()
    if (response.statusCode !== 200) throw new Error(`${name}: ${response.statusCode} ${text.slice(0, 300)}`)
  }

  console.log(`\nwid server on ${proxy}: ${CLIENTS} concurrent clients over mutual TLS, ${SECONDS} s each (${process.version}, ${CORES} cores, server and clients share them)`)
  console.log(`  ${'request'.padEnd(28)} ${'req/s'.padStart(8)} ${'items/s'.padStart(8)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'errors'.padStart(7)}   server CPU   per request   per item   bench CPU`)
  const results = {}
  for (const [name, send, items] of runs) {
    const r = await load(name, server.pid, send, items)
    results[name] = r
    const errors = r.failures ? `${r.errors}+${r.failures}` : String(r.errors)
    console.log(
      `  ${name.padEnd(28)} ${r.rate.toFixed(0).padStart(8)} ${r.svids.toFixed(0).padStart(8)} ${r.p50.toFixed(1).padStart(8)} ${r.p99.toFixed(1).padStart(8)} ${errors.padStart(7)}   ${r.serverCpu.toFixed(2).padStart(5)} cores   ${((r.serverCpu / r.rate) * 1e6).toFixed(0).padStart(7)} µs   ${((r.serverCpu / r.svids) * 1e6).toFixed(0).padStart(6)} µs    ${r.clientCpu.toFixed(2).padStart(5)} cores`,
    )
    if (r.firstError) console.log(`    first error: ${r.firstError}`)
  }

  // 3. the raw signing rates of the CA key types, one core and all cores
  console.log(`\nopenssl speed (${OPENSSL_SECONDS} s) sign rate beside the server's issuance rate`)
  for (const [name, algorithm, label] of [
    ['X.509-SVID (EC P-256 CA)', 'ecdsap256', 'ECDSA P-256'],
    ['X.509-SVIDs, 10 per request', 'ecdsap256', 'ECDSA P-256'],
    ['JWT-SVID (RS256)', 'rsa2048', 'RSA-2048'],
  ]) {
    const one = opensslSignRate(algorithm)
    const all = opensslSignRate(algorithm, CORES)
    const rate = results[name].svids
    console.log(
      `  ${label.padEnd(12)} 1 core ${one.toFixed(0).padStart(7)}/s  ${CORES} cores ${all.toFixed(0).padStart(7)}/s   ${name}: ${rate.toFixed(0)}/s = ${((rate / one) * 100).toFixed(1)}% of 1 core, ${((rate / all) * 100).toFixed(1)}% of ${CORES} cores`,
    )
  }

  // 4. where a request's server CPU goes, from parts measured on this machine in this run:
  // the same figures explain the rates on any machine
  const caKey = generateKeyPairSync('ec', {namedCurve: 'P-256'}).privateKey
  const tbs = Buffer.alloc(450, 1)
  const signMicros = cpuMicrosPerCall(() => sign('sha256', tbs, caKey))
  const issueMicros = await inProcessIssuanceMicros(publicKey)
  const sqliteDir = mkdtempSync(join(tmpdir(), 'wid-bench-sqlite-'))
  const commitMicros = (await inProcessIssuanceMicros(publicKey, sqliteDir)) - issueMicros
  rmSync(sqliteDir, {recursive: true, force: true})
  const perRequest = (name) => (results[name].serverCpu / results[name].rate) * 1e6
  const tlsHttp = perRequest('GET jwt-jwks.json')
  const authenticated = perRequest('POST whoami (no work)')
  const single = perRequest('X.509-SVID (EC P-256 CA)')
  const batch = perRequest('X.509-SVIDs, 10 per request')
  const row = (label, micros) => console.log(`  ${label.padEnd(76)} ${micros.toFixed(0).padStart(6)} µs`)
  console.log('\nWhere the server CPU of an X.509-SVID request goes (measured parts, this run)')
  row('TLS records + HTTP + routing: a GET that does no work (jwt-jwks.json)', tlsHttp)
  row('+ a JSON body, its schema and the caller authenticated (POST whoami − the GET)', authenticated - tlsHttp)
  row('+ issuance in the bench process without HTTP (rules, DER, audit record) less the signature', issueMicros - signMicros)
  row('+ one P-256 signature (node:crypto; the server makes it on a signing thread)', signMicros)
  row('+ the audit record committed: SQLite through the writer thread (the same on SQLite − on memory)', commitMicros)
  row('= the sum of the parts, each request with a commit of its own', authenticated + issueMicros + commitMicros)
  row('measured per single-SVID request (concurrent requests share commits: lower)', single)
  row(`measured per SVID in batches of ${BATCH} (one request; its items' records share one commit)`, batch / BATCH)
  row(`  the sum of the parts per SVID in batches: (whoami + commit + ${BATCH} × issuance) / ${BATCH}`, (authenticated + commitMicros + BATCH * issueMicros) / BATCH)
  // The server makes X.509-SVID signatures on threads of their own (wid-signing) and commits on
  // another (wid-sqlite): the event loop's share is what bounds the rate of one server process.
  const batched = results['X.509-SVIDs, 10 per request']
  console.log(`\nThe server's CPU per SVID in batches of ${BATCH}, by thread (this run)`)
  for (const [group, cores] of batched.threads.filter(([, cores]) => cores > 0.005).sort((a, b) => b[1] - a[1])) {
    row(`  ${group} (${cores.toFixed(2)} cores)`, (cores / batched.svids) * 1e6)
  }
} finally {
  await agent?.close().catch(() => {})
  await stopServer(server)
  rmSync(serverHome, {recursive: true, force: true})
  rmSync(clientHome, {recursive: true, force: true})
}
