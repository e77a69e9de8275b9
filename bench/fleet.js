#!/usr/bin/env node
// A fleet of bot agents against one `wid server`: BENCH_AGENTS (default 1000) simulated
// agents in this process, each joined with its own token and holding its own mutual-TLS
// connection, renew 10 X.509-SVIDs per renewal (one batch request) back to back for
// BENCH_SECONDS. Prints sustained SVIDs/s, renewal latency, and the server's RSS and CPU.
// Run with `npm run bench:fleet` (which builds first). Figures only.
import {generateKeyPairSync, randomBytes} from 'node:crypto'
import {mkdtempSync, rmSync} from 'node:fs'
import {availableParallelism, tmpdir} from 'node:os'
import {join} from 'node:path'
import {Agent, request} from 'undici'
import {cpuSeconds, percentile, rssMiB, runWid, startServer, stopServer} from './lib.js'

const AGENTS = Number(process.env.BENCH_AGENTS ?? 1000)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20)
const PER_RENEWAL = 10

const {joinBot} = await import('../dist/lib/cluster/bot-client.js')
const {discoverCluster} = await import('../dist/lib/cluster/login.js')

const home = mkdtempSync(join(tmpdir(), 'wid-bench-fleet-'))
let server
const agents = []
try {
  runWid(home, ['init', '--cluster-name', 'bench.example'])
  runWid(home, ['create', '-f', '-'], 'kind: role\nversion: v7\nmetadata:\n  name: bench\nspec:\n  allow:\n    spiffe:\n      - path: /svc/bench\n')
  runWid(home, ['bots', 'add', 'fleet', '--roles', 'bench'])
  // one token per agent, created in one stream (a token document is named by its secret)
  const tokens = Array.from({length: AGENTS}, () => randomBytes(16).toString('hex'))
  const expires = new Date(Date.now() + 3600_000).toISOString()
  runWid(home, ['create', '-f', '-'], tokens.map((t) => `kind: token\nversion: v2\nmetadata:\n  name: "${t}"\n  expires: "${expires}"\nspec:\n  roles: [Bot]\n  bot_name: fleet\n  join_method: token\n`).join('---\n'))
  const started = await startServer(home)
  server = started.child
  const cluster = await discoverCluster(started.proxy)
  const pinned = {authority: cluster.authority, verifyHostname: cluster.verifyHostname}

  // the server takes at most 256 connections from one address: the fleet comes from many
  // loopback addresses (127.0.1.x), 200 agents each, as agents on many machines would
  const localAddress = (i) => `127.0.1.${1 + Math.floor(i / 200)}`
  const joinStart = performance.now()
  for (const [i, token] of tokens.entries()) {
    const keys = generateKeyPairSync('ec', {namedCurve: 'P-256'})
    const identity = await joinBot(started.proxy, pinned, {token, publicKey: keys.publicKey.export({type: 'spki', format: 'pem'}), ttlSeconds: 3600})
    const dispatcher = new Agent({connect: {ca: [cluster.authority], cert: identity.certificate, key: keys.privateKey.export({type: 'pkcs8', format: 'pem'}), checkServerIdentity: () => undefined}, localAddress: localAddress(i), connections: 1, keepAliveTimeout: 60_000})
    agents.push(dispatcher)
  }
  const joinSeconds = (performance.now() - joinStart) / 1000
  console.log(`\n${AGENTS} agents joined one by one in ${joinSeconds.toFixed(1)} s (${(AGENTS / joinSeconds).toFixed(0)} joins/s)`)

  const publicKey = generateKeyPairSync('ec', {namedCurve: 'P-256'}).publicKey.export({type: 'spki', format: 'pem'})
  const body = JSON.stringify({items: Array.from({length: PER_RENEWAL}, () => ({type: 'x509', path: '/svc/bench', publicKey}))})
  const latencies = []
  let svids = 0
  let refused = 0
  let failed = 0
  let firstError
  const renew = async (dispatcher) => {
    const t0 = performance.now()
    try {
      const response = await request(`${started.url}/v1/issueSvids`, {method: 'POST', dispatcher, headers: {'content-type': 'application/json'}, body, headersTimeout: 120_000, bodyTimeout: 120_000})
      const text = await response.body.text()
      latencies.push(performance.now() - t0)
      if (response.statusCode !== 200) {
        failed++
        firstError ??= `${response.statusCode} ${text.slice(0, 200)}`
        return
      }
      for (const result of JSON.parse(text).result.results) {
        if ('x509' in result) svids++
        else {
          refused++
          firstError ??= result.error.message
        }
      }
    } catch (error) {
      failed++
      firstError ??= error.message
    }
  }
  // every agent's connection is opened first, 50 at a time, so the run measures renewals, not handshakes
  for (let i = 0; i < agents.length; i += 50) await Promise.all(agents.slice(i, i + 50).map((dispatcher) => renew(dispatcher)))
  failed = 0
  refused = 0
  firstError = undefined
  latencies.length = 0
  svids = 0
  const cpuBefore = cpuSeconds(server.pid)
  const ownBefore = process.cpuUsage()
  const runStart = performance.now()
  const deadline = runStart + SECONDS * 1000
  let peakRss = 0
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssMiB(server.pid))), 500)
  await Promise.all(
    agents.map(async (dispatcher) => {
      while (performance.now() < deadline) await renew(dispatcher)
    }),
  )
  clearInterval(sampler)
  const elapsed = (performance.now() - runStart) / 1000
  const cpu = (cpuSeconds(server.pid) - cpuBefore) / elapsed
  latencies.sort((a, b) => a - b)
  console.log(`${AGENTS} agents renewing ${PER_RENEWAL} X.509-SVIDs per request back to back for ${SECONDS} s (${availableParallelism()} cores shared by the server and this bench, ${process.version})`)
  console.log(`  sustained ${(svids / elapsed).toFixed(0)} SVIDs/s (${(latencies.length / elapsed).toFixed(0)} renewals/s); renewal latency p50 ${percentile(latencies, 50).toFixed(0)} ms, p99 ${percentile(latencies, 99).toFixed(0)} ms`)
  const own = process.cpuUsage(ownBefore)
  console.log(`  server: ${cpu.toFixed(2)} cores, RSS peak ${peakRss.toFixed(0)} MiB with ${AGENTS} connections; this bench (the agents): ${((own.user + own.system) / 1e6 / elapsed).toFixed(2)} cores`)
  console.log(`  refused items ${refused}, failed requests ${failed}${firstError ? ` (first: ${firstError})` : ''}`)
} finally {
  await Promise.all(agents.map((a) => a.close().catch(() => {})))
  await stopServer(server)
  rmSync(home, {recursive: true, force: true})
}
