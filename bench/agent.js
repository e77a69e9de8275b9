#!/usr/bin/env node
// Figures for the bot agent: `wid bot start --oneshot` wall time to files (renewing from its
// storage, three outputs) beside `wid svid issue` against the same server and bare
// `node -e 0`, and the resident memory of the daemon with three outputs once idle. Run with
// `npm run bench:agent` (which builds first). Figures only: nothing here fails on a number.
import {spawn, spawnSync} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {freePort, percentile, rssMiB, runWid, startServer, stopServer, wid} from './lib.js'

const RUNS = Number(process.env.BENCH_RUNS ?? 9)
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 10)
const PASSWORD = 'bench-password-0123456789'

function wallMs(args, env) {
  const started = performance.now()
  const result = spawnSync(process.execPath, args, {env: {...process.env, ...env}, encoding: 'utf8'})
  if (result.status !== 0) throw new Error(`${args.join(' ')} failed: ${result.stderr}`)
  return performance.now() - started
}

function median(samples) {
  return percentile([...samples].sort((a, b) => a - b), 50)
}

const tmp = mkdtempSync(join(tmpdir(), 'wid-bench-agent-'))
const serverHome = join(tmp, 'server')
let server
let daemon
try {
  runWid(serverHome, ['init', '--cluster-name', 'bench.example'])
  runWid(serverHome, ['create', '-f', '-'], 'kind: role\nversion: v7\nmetadata:\n  name: bench\nspec:\n  allow:\n    spiffe:\n      - path: /svc/bench\n')
  runWid(serverHome, ['bots', 'add', 'bench-bot', '--roles', 'bench'])
  const invite = runWid(serverHome, ['users', 'add', 'bench', '--roles', 'bench,access']).trim().split('\n').pop().trim()
  const started = await startServer(serverHome)
  server = started.child
  const pin = JSON.parse(runWid(serverHome, ['status', '--json'])).hostCaPins[0]
  const userHome = join(tmp, 'user')
  const inviteFile = join(tmp, 'invite')
  writeFileSync(inviteFile, invite + '\n', {mode: 0o600})
  runWid(userHome, ['login', '--proxy', started.proxy, '--user', 'bench', '--invite-file', inviteFile, '--password-stdin', '--ca-pin', pin], PASSWORD + '\n')

  // three outputs: an X.509-SVID, a JWT-SVID and the legacy spiffe-svid output with a JWT
  const config = (storage, out, token, extra = '') => `version: v2
proxy_server: ${started.proxy}
onboarding:
  join_method: token
${token ? `  token: ${token}\n` : ''}  ca_pins: ["${pin}"]
storage:
  type: directory
  path: ${storage}
outputs:
  - type: spiffe-svid
    destination: {type: directory, path: ${join(out, 'a')}}
    svid: {path: /svc/bench}
  - type: spiffe-svid
    destination: {type: directory, path: ${join(out, 'b')}}
    svid: {path: /svc/bench}
    jwts: [{audience: sts.amazonaws.com, file_name: jwt_svid}]
  - type: spiffe-svid
    destination: {type: directory, path: ${join(out, 'c')}}
    svid: {path: /svc/bench}
    jwts: [{audience: mys3, file_name: jwt_mys3}]
${extra}`
  const token = () => runWid(serverHome, ['tokens', 'add', '--bot-name', 'bench-bot']).trim()
  const oneshotFile = join(tmp, 'oneshot.yaml')
  writeFileSync(oneshotFile, config(join(tmp, 'storage-1'), join(tmp, 'out-1'), token()))
  const env = {WID_HOME: join(tmp, 'agent-home')}
  wallMs([wid, 'bot', 'start', '-c', oneshotFile, '--oneshot'], env) // the join
  writeFileSync(oneshotFile, config(join(tmp, 'storage-1'), join(tmp, 'out-1')))

  const node = [], oneshot = [], issue = []
  for (let i = 0; i < RUNS; i++) {
    node.push(wallMs(['-e', '0'], {}))
    oneshot.push(wallMs([wid, 'bot', 'start', '-c', oneshotFile, '--oneshot'], env))
    issue.push(wallMs([wid, 'svid', 'issue', '--output', join(tmp, 'issued'), '/svc/bench'], {WID_HOME: userHome}))
  }
  const base = median(node)
  console.log(`\nwid bot start --oneshot, three outputs, renewing from its storage (median of ${RUNS}, ${process.version})`)
  for (const [label, samples] of [['node -e 0', node], ['wid svid issue (remote)', issue], ['wid bot start --oneshot', oneshot]]) {
    const m = median(samples)
    console.log(`  ${label.padEnd(28)} ${m.toFixed(0).padStart(6)} ms  ${(m / base).toFixed(2).padStart(5)}× node`)
  }

  // the daemon: three outputs renewed every minute, idle between renewals
  const diag = await freePort()
  const daemonFile = join(tmp, 'daemon.yaml')
  writeFileSync(daemonFile, config(join(tmp, 'storage-2'), join(tmp, 'out-2'), token(), `diag_addr: 127.0.0.1:${diag}\nrenewal_interval: 1m\n`))
  daemon = spawn(process.execPath, [wid, 'bot', 'start', '-c', daemonFile], {env: {...process.env, ...env}, stdio: 'ignore'})
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    const ready = await fetch(`http://127.0.0.1:${diag}/readyz`).then((r) => r.status).catch(() => 0)
    if (ready === 200) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const atReady = rssMiB(daemon.pid)
  await new Promise((resolve) => setTimeout(resolve, IDLE_SECONDS * 1000))
  console.log(`\nwid bot start, three outputs: resident memory ${atReady.toFixed(1)} MiB when ready, ${rssMiB(daemon.pid).toFixed(1)} MiB after ${IDLE_SECONDS} s idle (goal ≤ 80 MiB)`)
  console.log(`  of which private (RssAnon: heap, code, buffers) ${rssMiB(daemon.pid, 'RssAnon').toFixed(1)} MiB, and pages of files (RssFile: mostly the node binary, shared by every Node process) ${rssMiB(daemon.pid, 'RssFile').toFixed(1)} MiB`)
  const idle = idleNodeRss()
  console.log(`  for scale, an idle node -e "setTimeout(…)": ${idle.rss.toFixed(1)} MiB (private ${idle.anon.toFixed(1)}, files ${idle.file.toFixed(1)})`)
} finally {
  daemon?.kill('SIGTERM')
  await stopServer(server)
  rmSync(tmp, {recursive: true, force: true})
}

function idleNodeRss() {
  const script = `setTimeout(() => { const s = require('fs').readFileSync('/proc/self/status', 'utf8'); console.log(['VmRSS', 'RssAnon', 'RssFile'].map((f) => s.match(new RegExp(f + ':\\\\s+(\\\\d+)'))[1]).join(' ')) }, 500)`
  const [rss, anon, file] = spawnSync(process.execPath, ['-e', script], {encoding: 'utf8'}).stdout.trim().split(' ').map((kb) => Number(kb) / 1024)
  return {rss, anon, file}
}
