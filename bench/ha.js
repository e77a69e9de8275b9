#!/usr/bin/env node
// Several servers on one PostgreSQL database (issue 14): X.509-SVID issuance per second and
// the servers' CPU per SVID with one server on SQLite, one on PostgreSQL and two on
// PostgreSQL (the clients split between them), then how long a change made through one
// server takes to reach another's cache (its change feed), p50/p99, idle and under load.
// `npm run bench:ha` (builds first). A throwaway PostgreSQL with fsync on, as SQLite syncs
// every commit. Figures only: nothing here fails on a number.
import {generateKeyPairSync} from 'node:crypto'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {availableParallelism, tmpdir} from 'node:os'
import {join} from 'node:path'
import {Agent, request} from 'undici'
import {startPostgres} from '../test/helpers/postgres.ts'
import {cpuSeconds, percentile, runWid, startServer, stopServer} from './lib.js'

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const CLIENTS = 16
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 300)
const PASSWORD = 'bench-password-0123456789'
const ROLE = 'kind: role\nversion: v7\nmetadata:\n  name: bench\nspec:\n  allow:\n    spiffe:\n      - path: /svc/bench\n'
const dist = (path) => import(new URL(`../dist/lib/${path}`, import.meta.url).href)

/** A user `bench` with the role, logged in to `proxy` from `clientHome`: its key, certificate and the host CA. */
function login(clientHome, adminArgs, adminHome, proxy) {
  runWid(adminHome, ['create', ...adminArgs, '-f', '-'], ROLE)
  const invite = runWid(adminHome, ['users', 'add', 'bench', '--roles', 'bench', ...adminArgs]).trim().split('\n').pop().trim()
  const pin = JSON.parse(runWid(adminHome, ['status', '--json', ...adminArgs])).hostCaPins[0]
  const inviteFile = join(clientHome, 'invite')
  writeFileSync(inviteFile, invite + '\n', {mode: 0o600})
  runWid(clientHome, ['login', '--proxy', proxy, '--user', 'bench', '--invite-file', inviteFile, '--password-stdin', '--ca-pin', pin], PASSWORD + '\n')
  const profile = join(clientHome, 'profiles', readFileSync(join(clientHome, 'current-profile'), 'utf8').trim().replace(/[^A-Za-z0-9._-]/g, '_'))
  const [key, cert, ca] = ['key.pem', 'cert.pem', 'host-ca.pem'].map((f) => readFileSync(join(profile, f), 'utf8'))
  return {key, cert, ca}
}

/** Single X.509-SVID requests from CLIENTS clients spread over `urls` for SECONDS: SVIDs per second and the servers' CPU per SVID. */
async function issue(urls, pids, identity, extra = () => {}) {
  const publicKey = generateKeyPairSync('ec', {namedCurve: 'P-256'}).publicKey.export({type: 'spki', format: 'pem'})
  const body = JSON.stringify({path: '/svc/bench', publicKey})
  const agents = urls.map(() => new Agent({connect: {...identity, checkServerIdentity: () => undefined}, connections: CLIENTS, keepAliveTimeout: 30_000}))
  let done = 0
  let errors = 0
  let firstError
  const before = pids.map(cpuSeconds)
  const start = performance.now()
  const deadline = start + SECONDS * 1000
  const client = async (i) => {
    const n = i % urls.length
    while (performance.now() < deadline) {
      const response = await request(`${urls[n]}/v1/issueX509Svid`, {method: 'POST', dispatcher: agents[n], headers: {'content-type': 'application/json'}, body}).catch((error) => ({error}))
      const text = response.error ? '' : await response.body.text()
      if (!response.error && response.statusCode === 200) done++
      else {
        errors++
        firstError ??= response.error?.message ?? `${response.statusCode} ${text.slice(0, 200)}`
      }
    }
  }
  const during = extra()
  await Promise.all(Array.from({length: CLIENTS}, (_, i) => client(i)))
  const duringResult = await during
  const elapsed = (performance.now() - start) / 1000
  const cpu = pids.reduce((sum, pid, i) => sum + cpuSeconds(pid) - before[i], 0)
  await Promise.all(agents.map((agent) => agent.close()))
  return {rate: done / elapsed, cpuPerSvid: (cpu / done) * 1e6, cores: cpu / elapsed, errors, firstError, during: duringResult}
}

/** Writes a key through one backend and times until the other's change feed has reported it (its cache then serves the new value). */
async function propagation(url, samples) {
  const [{PostgresBackend}, {CachedBackend}] = await Promise.all([dist('backend/postgres.js'), dist('backend/read-cache.js')])
  const writer = await PostgresBackend.open(url)
  const reader = await CachedBackend.over(await PostgresBackend.open(url))
  const waiting = new Map()
  const feed = await reader.watch((event) => {
    if (event.type !== 'changed') return
    for (const key of event.keys) waiting.get(key)?.()
  })
  const latencies = []
  try {
    for (let i = 0; i < samples; i++) {
      const key = `/bench/propagation/${i}`
      const seen = new Promise((resolve) => waiting.set(key, resolve))
      const t0 = performance.now()
      await writer.atomicWrite([], [{key, type: 'put', value: String(i)}])
      await seen
      latencies.push(performance.now() - t0)
      waiting.delete(key)
    }
  } finally {
    await feed.close()
    await reader.close()
    await writer.close()
  }
  latencies.sort((a, b) => a - b)
  return {p50: percentile(latencies, 50), p99: percentile(latencies, 99), n: latencies.length}
}

const line = (label, r) =>
  console.log(`  ${label.padEnd(34)} ${r.rate.toFixed(0).padStart(7)}/s   ${r.cpuPerSvid.toFixed(0).padStart(6)} µs   ${r.cores.toFixed(2).padStart(5)} cores   ${String(r.errors).padStart(6)}${r.firstError ? `   first error: ${r.firstError}` : ''}`)

const dirs = []
const temp = (name) => {
  const dir = mkdtempSync(join(tmpdir(), `wid-bench-ha-${name}-`))
  dirs.push(dir)
  return dir
}
const servers = []
let postgres
try {
  console.log(`\nX.509-SVID issuance, ${CLIENTS} clients over mutual TLS, ${SECONDS} s each (${process.version}, ${availableParallelism()} cores shared by servers, clients and PostgreSQL)`)
  console.log(`  ${'set-up'.padEnd(34)} ${'SVIDs'.padStart(9)}   ${'CPU/SVID'.padStart(9)}   ${'servers'.padStart(11)}   ${'errors'.padStart(6)}`)

  // 1. one server on SQLite
  const sqliteHome = temp('sqlite')
  runWid(sqliteHome, ['init', '--cluster-name', 'bench.example'])
  const sqlite = await startServer(sqliteHome)
  servers.push(sqlite.child)
  const sqliteIdentity = login(temp('client'), [], sqliteHome, sqlite.proxy)
  line('one server, SQLite', await issue([sqlite.url], [sqlite.child.pid], sqliteIdentity))
  await stopServer(sqlite.child)

  // 2. one, then two servers on one PostgreSQL database
  postgres = await startPostgres({durable: true})
  const config = join(temp('config'), 'wid.yaml')
  const url = await postgres.createDatabase()
  writeFileSync(config, `storage:\n  type: postgresql\n  conn_string: ${url}\n`, {mode: 0o600})
  const adminHome = temp('admin')
  runWid(adminHome, ['init', '-c', config, '--cluster-name', 'bench.example'])
  const first = await startServer(temp('server-1'), ['-c', config])
  servers.push(first.child)
  const identity = login(temp('client'), ['-c', config], adminHome, first.proxy)
  line('one server, PostgreSQL', await issue([first.url], [first.child.pid], identity))
  const second = await startServer(temp('server-2'), ['-c', config])
  servers.push(second.child)
  line('two servers, PostgreSQL', await issue([first.url, second.url], [first.child.pid, second.child.pid], identity))

  // 3. change propagation between two servers' stores
  const idle = await propagation(url, SAMPLES)
  console.log(`\nA change through one server's store, until another server's change feed has reported it (${idle.n} writes, one at a time)`)
  console.log(`  idle                               p50 ${idle.p50.toFixed(2)} ms   p99 ${idle.p99.toFixed(2)} ms`)
  const loaded = await issue([first.url, second.url], [first.child.pid, second.child.pid], identity, () => propagation(url, SAMPLES))
  console.log(`  while both servers issue (${loaded.rate.toFixed(0)}/s)  p50 ${loaded.during.p50.toFixed(2)} ms   p99 ${loaded.during.p99.toFixed(2)} ms`)
} finally {
  for (const child of servers) await stopServer(child)
  await postgres?.destroy()
  for (const dir of dirs) rmSync(dir, {recursive: true, force: true})
}
