#!/usr/bin/env node
// Load figures for `wid server` over mutual TLS: X.509- and JWT-SVID issuance and the public
// JWKS, with 16 concurrent clients, beside openssl speed for the CA key types. Run with
// `npm run bench:server` (which builds first). Figures only: nothing here fails on a number.
// Everything stays on 127.0.0.1 and in temporary directories that are removed afterwards.
import {spawn, spawnSync} from 'node:child_process'
import {generateKeyPairSync, sign} from 'node:crypto'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {availableParallelism, tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {Agent, request} from 'undici'

const root = fileURLToPath(new URL('..', import.meta.url))
const wid = join(root, 'bin', 'run.js')
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const CLIENTS = 16
const OPENSSL_SECONDS = 3
const CORES = availableParallelism()
const PASSWORD = 'bench-password-0123456789'

const percentile = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : NaN)

function runWid(home, args, input) {
  const result = spawnSync(process.execPath, [wid, ...args], {
    env: {...process.env, WID_HOME: home},
    input: input ?? '',
    encoding: 'utf8',
    timeout: 60_000,
  })
  if (result.status !== 0) throw new Error(`wid ${args.join(' ')} failed (${result.status ?? result.signal}): ${result.stderr}`)
  return result.stdout
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const {port} = probe.address()
      probe.close(() => resolve(port))
    })
  })
}

async function waitHealthy(url, child, stderr) {
  const deadline = Date.now() + 30_000
  // only whether it answers: the host CA is pinned later, by wid login
  const probe = new Agent({connect: {rejectUnauthorized: false}})
  try {
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`wid server exited with ${child.exitCode}: ${stderr()}`)
      try {
        const response = await request(`${url}/healthz`, {dispatcher: probe, headersTimeout: 2000, bodyTimeout: 2000})
        await response.body.text()
        if (response.statusCode === 200) return
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100))
    }
  } finally {
    await probe.close().catch(() => {})
  }
  throw new Error(`wid server did not answer /healthz within 30 s: ${stderr()}`)
}

// clock ticks of user + system CPU time of a process, from /proc/<pid>/stat (Linux only)
const clockTicks = Number(spawnSync('getconf', ['CLK_TCK'], {encoding: 'utf8'}).stdout.trim()) || 100
function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / clockTicks // utime, stime (fields 14, 15)
  } catch {
    return NaN
  }
}

async function load(name, serverPid, send) {
  const latencies = []
  let errors = 0
  let failures = 0
  let firstError
  const cpuBefore = cpuSeconds(serverPid)
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
          errors++
          firstError ??= `${response.statusCode} ${text.slice(0, 200)}`
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
  const own = process.cpuUsage(ownBefore)
  latencies.sort((a, b) => a - b)
  return {
    name,
    rate: latencies.length / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    errors,
    failures,
    firstError,
    serverCpu: serverCpu / elapsed,
    clientCpu: (own.user + own.system) / 1e6 / elapsed,
  }
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
  const port = await freePort()
  const proxy = `127.0.0.1:${port}`
  const url = `https://${proxy}`
  let serverStderr = ''
  server = spawn(process.execPath, [wid, 'server', 'start', '--listen', proxy, '--public-addr', url], {
    env: {...process.env, WID_HOME: serverHome},
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  server.stderr.setEncoding('utf8').on('data', (chunk) => (serverStderr = (serverStderr + chunk).slice(-4000)))
  await waitHealthy(url, server, () => serverStderr)
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
    ['GET jwt-jwks.json', () => request(`${url}/workload-identity/jwt-jwks.json`, {dispatcher: agent, headersTimeout: 30_000, bodyTimeout: 30_000})],
  ]
  // one request each first: a setup problem should say so, not show up as a wall of errors
  for (const [name, send] of runs) {
    const response = await send()
    const text = await response.body.text()
    if (response.statusCode !== 200) throw new Error(`${name}: ${response.statusCode} ${text.slice(0, 300)}`)
  }

  console.log(`\nwid server on ${proxy}: ${CLIENTS} concurrent clients over mutual TLS, ${SECONDS} s each (${process.version}, ${CORES} cores, server and clients share them)`)
  console.log(`  ${'request'.padEnd(26)} ${'req/s'.padStart(8)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'errors'.padStart(7)}   server CPU   per request   bench CPU`)
  const results = {}
  for (const [name, send] of runs) {
    const r = await load(name, server.pid, send)
    results[name] = r
    const errors = r.failures ? `${r.errors}+${r.failures}` : String(r.errors)
    console.log(
      `  ${name.padEnd(26)} ${r.rate.toFixed(0).padStart(8)} ${r.p50.toFixed(1).padStart(8)} ${r.p99.toFixed(1).padStart(8)} ${errors.padStart(7)}   ${r.serverCpu.toFixed(2).padStart(5)} cores   ${((r.serverCpu / r.rate) * 1e6).toFixed(0).padStart(7)} µs    ${r.clientCpu.toFixed(2).padStart(5)} cores`,
    )
    if (r.firstError) console.log(`    first error: ${r.firstError}`)
  }

  // 3. the raw signing rates of the CA key types, one core and all cores
  console.log(`\nopenssl speed (${OPENSSL_SECONDS} s) sign rate beside the server's issuance rate`)
  for (const [name, algorithm, label] of [
    ['X.509-SVID (EC P-256 CA)', 'ecdsap256', 'ECDSA P-256'],
    ['JWT-SVID (RS256)', 'rsa2048', 'RSA-2048'],
  ]) {
    const one = opensslSignRate(algorithm)
    const all = opensslSignRate(algorithm, CORES)
    const rate = results[name].rate
    console.log(
      `  ${label.padEnd(12)} 1 core ${one.toFixed(0).padStart(7)}/s  ${CORES} cores ${all.toFixed(0).padStart(7)}/s   ${name}: ${rate.toFixed(0)}/s = ${((rate / one) * 100).toFixed(1)}% of 1 core, ${((rate / all) * 100).toFixed(1)}% of ${CORES} cores`,
    )
  }

  // 4. what one SVID per HTTPS request can reach at best: a request that does no work at
  // all (JWKS, from memory) plus one signature as node:crypto makes it, on one core
  const caKey = generateKeyPairSync('ec', {namedCurve: 'P-256'}).privateKey
  const tbs = Buffer.alloc(450, 1)
  let signatures = 0
  const signStart = performance.now()
  while (performance.now() - signStart < OPENSSL_SECONDS * 1000) {
    sign('sha256', tbs, caKey)
    signatures++
  }
  const signMicros = ((performance.now() - signStart) * 1000) / signatures
  const jwks = results['GET jwt-jwks.json']
  const noopMicros = (jwks.serverCpu / jwks.rate) * 1e6
  const x509 = results['X.509-SVID (EC P-256 CA)']
  const ceiling = 1e6 / (noopMicros + signMicros)
  const one = opensslSignRate('ecdsap256')
  console.log(
    `\nCeiling for one X.509-SVID per HTTPS request, per server core: no-op request ${noopMicros.toFixed(0)} µs + node:crypto P-256 signature ${signMicros.toFixed(1)} µs` +
      ` = ${ceiling.toFixed(0)}/s (${((ceiling / one) * 100).toFixed(0)}% of openssl's one core); measured issuance ${((x509.serverCpu / x509.rate) * 1e6).toFixed(0)} µs per request`,
  )
} finally {
  await agent?.close().catch(() => {})
  if (server && server.exitCode === null && server.signalCode === null) {
    const exited = new Promise((resolve) => server.once('exit', resolve))
    server.kill('SIGTERM')
    const timer = setTimeout(() => server.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(timer)
  }
  rmSync(serverHome, {recursive: true, force: true})
  rmSync(clientHome, {recursive: true, force: true})
}
