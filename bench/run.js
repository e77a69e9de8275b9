#!/usr/bin/env node
// Prints the figures behind DESIGN §6's performance bars. Run with `npm run bench`
// (which builds first). Figures only: nothing here fails on a number.
import {spawnSync} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const wid = join(root, 'bin', 'run.js')
const RUNS = Number(process.env.BENCH_RUNS ?? 15)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3)

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

function timeCommand(args, env, node = process.execPath) {
  const times = []
  for (let i = 0; i < RUNS; i++) {
    const start = process.hrtime.bigint()
    const result = spawnSync(node, args, {env: {...process.env, ...env}, stdio: ['ignore', 'ignore', 'pipe']})
    const ms = Number(process.hrtime.bigint() - start) / 1e6
    if (result.status !== 0) throw new Error(`${args.join(' ')} failed: ${result.stderr}`)
    times.push(ms)
  }
  return median(times)
}

/** A system Node older than 22 (BENCH_OLD_NODE, else /usr/bin/node), under which wid re-runs itself. */
function oldSystemNode() {
  for (const path of [process.env.BENCH_OLD_NODE, '/usr/bin/node', '/usr/local/bin/node']) {
    if (!path) continue
    const result = spawnSync(path, ['-p', 'process.version'], {encoding: 'utf8'})
    const version = result.stdout?.trim()
    if (result.status === 0 && Number(version.slice(1).split('.')[0]) < 22) return {path, version}
  }
  return undefined
}

function coldStart() {
  const home = mkdtempSync(join(tmpdir(), 'wid-bench-'))
  try {
    const env = {WID_HOME: home}
    spawnSync(process.execPath, [wid, 'init'], {env: {...process.env, ...env}})
    // warm the compile cache and the disk cache once, as a user's second run would be
    spawnSync(process.execPath, [wid, 'svid', 'issue', '--output', join(home, 'svid'), '/svc/bench'], {env: {...process.env, ...env}})
    const baseline = timeCommand(['-e', '0'])
    const rows = [
      ['node -e 0', baseline, 'baseline'],
      ['wid --version', timeCommand([wid, '--version'], env), 'target ≤ 3×'],
      ['wid status', timeCommand([wid, 'status'], env), 'full oclif + SQLite path'],
      ['wid svid issue (EC P-256)', timeCommand([wid, 'svid', 'issue', '--output', join(home, 'svid'), '/svc/bench'], env), 'target ≤ 5×'],
    ]
    console.log(`\nCold start (median of ${RUNS} runs, ${process.version})`)
    for (const [name, ms, note] of rows) {
      console.log(`  ${name.padEnd(28)} ${ms.toFixed(1).padStart(7)} ms  ${(ms / baseline).toFixed(2).padStart(5)}×  ${note}`)
    }
    const old = oldSystemNode()
    if (old) {
      // bin/run.js re-runs itself under the pinned Node: the cost is one start of the old Node.
      const oldBaseline = timeCommand(['-e', '0'], {}, old.path)
      const viaOld = timeCommand([wid, '--version'], env, old.path)
      console.log(`  ${('wid --version under ' + old.version).padEnd(28)} ${viaOld.toFixed(1).padStart(7)} ms  ${(viaOld / baseline).toFixed(2).padStart(5)}×  re-run under the pinned Node: +${(viaOld - rows[1][1]).toFixed(1)} ms (${old.path} -e 0 alone: ${oldBaseline.toFixed(1)} ms)`)
    }
  } finally {
    rmSync(home, {recursive: true, force: true})
  }
}

function opensslSignRate(algorithm) {
  const result = spawnSync('openssl', ['speed', '-seconds', String(SECONDS), '-mr', algorithm], {encoding: 'utf8'})
  const line = result.stdout.split('\n').find((l) => /^\+F[24]:/.test(l))
  if (!line) throw new Error(`openssl speed ${algorithm}: no result`)
  return Number(line.split(':')[3])
}

/** Issuances per second with 16 requests in flight, as a server has them (one thread), after a 1 s warm-up for the JIT. */
async function issuanceRate(issue) {
  const run = async (seconds) => {
    const deadline = performance.now() + seconds * 1000
    let count = 0
    const worker = async () => {
      while (performance.now() < deadline) {
        await issue()
        count++
      }
    }
    const started = performance.now()
    await Promise.all(Array.from({length: 16}, worker))
    return count / ((performance.now() - started) / 1000)
  }
  await run(1)
  return run(SECONDS)
}

/** One-shot signatures per second of a 500-byte message with node:crypto, as issuance makes them: the ceiling it cannot pass. */
async function nodeSignRate(keyType) {
  const {generateKeyPairSync, sign} = await import('node:crypto')
  const {privateKey} = keyType === 'rsa-2048'
    ? generateKeyPairSync('rsa', {modulusLength: 2048})
    : generateKeyPairSync('ec', {namedCurve: keyType === 'ec-p256' ? 'P-256' : 'P-384'})
  const data = Buffer.alloc(500, 1)
  const hash = keyType === 'ec-p384' ? 'sha384' : 'sha256'
  const deadline = performance.now() + SECONDS * 1000
  const started = performance.now()
  let count = 0
  while (performance.now() < deadline) {
    sign(hash, data, privateKey)
    count++
  }
  return count / ((performance.now() - started) / 1000)
}

async function inProcess() {
  const {MemoryBackend} = await import('../dist/lib/backend/memory.js')
  const {initializeCluster} = await import('../dist/lib/auth/init.js')
  const {AuthServer} = await import('../dist/lib/auth/auth-server.js')
  const {generateKeyPair, exportSpkiDer} = await import('../dist/lib/crypto/keys.js')
  const {encodePem} = await import('../dist/lib/crypto/pem.js')
  const caller = {kind: 'admin', name: 'bench'}
  const publicKey = encodePem('PUBLIC KEY', await exportSpkiDer((await generateKeyPair('ec-p256')).publicKey))

  console.log(`\nIn-process issuance (${SECONDS} s each, 16 in flight on one thread) beside openssl speed (one core)`)
  for (const caKeyType of ['ec-p256', 'ec-p384', 'rsa-2048']) {
    const backend = new MemoryBackend()
    await initializeCluster(backend, {defaultClusterName: 'bench.example', caKeyType, now: new Date()})
    const auth = await AuthServer.open(backend)
    const rate = await issuanceRate(() => auth.issueX509Svid(caller, {path: '/svc/bench', publicKey}))
    const raw = opensslSignRate({'ec-p256': 'ecdsap256', 'ec-p384': 'ecdsap384', 'rsa-2048': 'rsa2048'}[caKeyType])
    console.log(`  X.509-SVID, ${caKeyType} CA`.padEnd(30) + `${rate.toFixed(0).padStart(7)}/s   openssl sign ${raw.toFixed(0).padStart(7)}/s   ${((rate / raw) * 100).toFixed(0).padStart(3)}%  (target ≥ 50%)`)
    const signOnly = await nodeSignRate(caKeyType)
    console.log(`    node:crypto sign alone`.padEnd(30) + `${signOnly.toFixed(0).padStart(7)}/s   openssl sign ${raw.toFixed(0).padStart(7)}/s   ${((signOnly / raw) * 100).toFixed(0).padStart(3)}%  (the ceiling for issuance in Node)`)
    if (caKeyType === 'ec-p256') {
      const jwt = await issuanceRate(() => auth.issueJwtSvid(caller, {path: '/svc/bench', audiences: ['sts.amazonaws.com']}))
      const rsa = opensslSignRate('rsa2048')
      console.log(`  JWT-SVID, RS256 key`.padEnd(30) + `${jwt.toFixed(0).padStart(7)}/s   openssl sign ${rsa.toFixed(0).padStart(7)}/s   ${((jwt / rsa) * 100).toFixed(0).padStart(3)}%  (target ≥ 50%)`)
    }
  }
}

coldStart()
await inProcess()
