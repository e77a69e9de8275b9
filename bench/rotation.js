#!/usr/bin/env node
// How soon agents follow a CA rotation (issue 15): a server on SQLite and BENCH_AGENTS
// (default 5) `wid bot start` agents joined to it, each with a Workload API on a unix socket
// and two open streams (FetchX509SVID, FetchX509Bundles) held by a grpc-js client built from
// the official proto, in this process. Each round runs `wid auth rotate --type spiffe
// --manual --phase init` and times, from the command's return, until every stream has a
// bundle with both CAs; then rolls the rotation back (rollback, standby) and waits for the
// old CA alone. The rotation is run two ways: by the admin on the server host (local mode:
// the server sees the change at its next once-a-second check) and through the server
// (remote mode, a logged-in admin: the server wakes its watchers at once). BENCH_ROUNDS
// (default 5) rounds each. `npm run bench:rotation` (builds first). Figures only.
import {execFile, spawn} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'
import grpc from '@grpc/grpc-js'
import loader from '@grpc/proto-loader'
import {initBenchCluster, percentile, root, runWid, startServer, stopServer, wid} from './lib.js'

const AGENTS = Number(process.env.BENCH_AGENTS ?? 5)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const PASSWORD = 'bench-password-0123456789'
const PROTO = join(root, '..', 'shared', 'spec', 'workload.proto')
const Service = grpc.loadPackageDefinition(loader.loadSync(PROTO, {keepCase: true})).SpiffeWorkloadAPI
const header = new grpc.Metadata()
header.set('workload.spiffe.io', 'true')
const run = promisify(execFile)

/** `wid` without blocking this process's event loop (the streams' messages are timed as they come). */
const widAsync = (home, args) => run(process.execPath, [wid, ...args], {env: {...process.env, WID_HOME: home}})

/** The number of certificates in a DER bundle (each a SEQUENCE with a two-byte length). */
function count(der) {
  let n = 0
  for (let at = 0; at < der.length; at += 4 + der.readUInt16BE(at + 2)) n++
  return n
}

const tmp = mkdtempSync(join(tmpdir(), 'wid-bench-rotation-'))
const serverHome = join(tmp, 'server')
const agents = []
const streams = []
let server
try {
  initBenchCluster(serverHome)
  server = await startServer(serverHome)
  const pin = JSON.parse(runWid(serverHome, ['status', '--json'])).hostCaPins[0]

  // An admin logged in to the server, for the rotations made through it
  const adminHome = join(tmp, 'admin')
  const invite = runWid(serverHome, ['users', 'add', 'ops', '--roles', 'editor']).trim().split('\n').pop().trim()
  writeFileSync(join(tmp, 'invite'), invite + '\n', {mode: 0o600})
  runWid(adminHome, ['login', '--proxy', server.proxy, '--user', 'ops', '--invite-file', join(tmp, 'invite'), '--password-stdin', '--ca-pin', pin], PASSWORD + '\n')

  for (let i = 0; i < AGENTS; i++) {
    const token = runWid(serverHome, ['tokens', 'add', '--bot-name', 'bench-bot']).trim()
    const socket = join(tmp, `agent-${i}`, 'workload.sock')
    const config = join(tmp, `agent-${i}.yaml`)
    writeFileSync(
      config,
      `version: v2\nproxy_server: ${server.proxy}\nonboarding:\n  join_method: token\n  token: ${token}\n  ca_pins:\n    - ${pin}\nstorage:\n  type: directory\n  path: ${join(tmp, `storage-${i}`)}\nservices:\n  - type: workload-identity-api\n    listen: unix://${socket}\n    selector:\n      name: bench\n`,
      {mode: 0o600},
    )
    const child = spawn(process.execPath, [wid, 'bot', 'start', '-c', config], {env: {...process.env, WID_HOME: join(tmp, `home-${i}`)}, stdio: ['ignore', 'ignore', 'pipe']})
    let log = ''
    child.stderr.on('data', (d) => (log += d))
    agents.push({child, socket, log: () => log})
  }
  for (const agent of agents) {
    const deadline = Date.now() + 60_000
    while (!(agent.log().includes('workload api listening') && agent.log().includes('bot identity ready'))) {
      if (agent.child.exitCode !== null || Date.now() > deadline) throw new Error(`an agent did not start: ${agent.log()}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }

  // Two streams per agent; each keeps the time it last saw a bundle with `n` CAs.
  for (const agent of agents) {
    for (const method of ['FetchX509SVID', 'FetchX509Bundles']) {
      const client = new Service(`unix://${agent.socket}`, grpc.credentials.createInsecure())
      const stream = {client, cas: 0, seen: new Map()}
      const call = client[method]({}, header)
      call.on('data', (message) => {
        const bundle = method === 'FetchX509SVID' ? message.svids[0].bundle : Object.values(message.bundles)[0]
        stream.cas = count(bundle)
        if (!stream.seen.has(stream.cas)) stream.seen.set(stream.cas, performance.now())
      })
      call.on('error', () => {})
      stream.call = call
      streams.push(stream)
    }
  }
  const until = async (cas) => {
    const deadline = Date.now() + 60_000
    while (!streams.every((s) => s.cas === cas)) {
      if (Date.now() > deadline) throw new Error(`the streams did not reach ${cas} CA(s) within 60 s`)
      await new Promise((r) => setTimeout(r, 10))
    }
  }
  await until(1)

  console.log(`\nFrom \`wid auth rotate --type spiffe --manual --phase init\` returning until each of ${streams.length} Workload API streams (${AGENTS} agents, 2 each) has the bundle with both CAs, ${ROUNDS} rounds each (${process.version})`)
  for (const [label, home] of [
    ['local mode, on the server host', serverHome],
    ['through the server (remote mode)', adminHome],
  ]) {
    const rounds = []
    const all = []
    for (let round = 0; round < ROUNDS; round++) {
      for (const s of streams) s.seen.clear()
      await widAsync(home, ['auth', 'rotate', '--type', 'spiffe', '--manual', '--phase', 'init'])
      const returned = performance.now()
      await until(2)
      const delays = streams.map((s) => s.seen.get(2) - returned).sort((a, b) => a - b)
      rounds.push({median: percentile(delays, 50), max: delays.at(-1)})
      all.push(...delays)
      await widAsync(home, ['auth', 'rotate', '--type', 'spiffe', '--manual', '--phase', 'rollback'])
      await widAsync(home, ['auth', 'rotate', '--type', 'spiffe', '--manual', '--phase', 'standby'])
      await until(1)
    }
    all.sort((a, b) => a - b)
    // Negative: the stream had the bundle before the command had exited (Node's own exit takes some).
    const ms = (v) => `${v.toFixed(0)} ms`
    console.log(`  ${label.padEnd(34)} median ${ms(percentile(all, 50)).padStart(7)}   max ${ms(all.at(-1)).padStart(7)}   rounds (median/max): ${rounds.map((r) => `${ms(r.median)}/${ms(r.max)}`).join(', ')}`)
  }
  if (agents.some((a) => a.log().includes('trust watch unavailable'))) console.log("  (an agent's trust watch failed meanwhile: those figures include its fallback)")
} finally {
  for (const s of streams) {
    s.call?.cancel()
    s.client.close()
  }
  for (const agent of agents) agent.child.kill('SIGTERM')
  await stopServer(server?.child)
  rmSync(tmp, {recursive: true, force: true})
}
