#!/usr/bin/env node
// Figures for the agent's Workload API (`wid bot start --local`, one workload-identity-api
// service on a unix socket): FetchX509SVID first-message latency with N workloads (default
// 100, each its own connection) connecting at once, SVIDs cached, beside a no-op call on the
// same socket (a request without the security header, refused before any SVID work), the
// same calls on connections opened beforehand and one call at a time (no queueing); the
// time from SIGUSR1 until the last of N open streams has the renewed SVID; the agent's RSS
// with N open streams. The workloads are a grpc-js client built from the official proto, in
// this process. Run with `npm run bench:workload-api` (which builds first). Figures only.
import {spawn} from 'node:child_process'
import {X509Certificate} from 'node:crypto'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import grpc from '@grpc/grpc-js'
import loader from '@grpc/proto-loader'
import {cpuSeconds, initBenchCluster, percentile, root, rssMiB, wid} from './lib.js'

const WORKLOADS = Number(process.env.BENCH_WORKLOADS ?? 100)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const NODE_ARGS = process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(" ") : []
const PROTO = join(root, '..', 'shared', 'spec', 'workload.proto')

const Service = grpc.loadPackageDefinition(loader.loadSync(PROTO, {keepCase: true})).SpiffeWorkloadAPI
const header = new grpc.Metadata()
header.set('workload.spiffe.io', 'true')

const tmp = mkdtempSync(join(tmpdir(), 'wid-bench-wapi-'))
const home = join(tmp, 'home')
const socket = join(tmp, 'workload.sock')
let agent
try {
  initBenchCluster(home)
  const config = join(tmp, 'bot.yaml')
  writeFileSync(config, `version: v2\nstorage:\n  type: directory\n  path: ${join(tmp, 'storage')}\nservices:\n  - type: workload-identity-api\n    listen: unix://${socket}\n    selector:\n      name: bench\n`)
  agent = spawn(process.execPath, [...NODE_ARGS, wid, 'bot', 'start', '-c', config, '--local', '--bot', 'bench-bot'], {env: {...process.env, WID_HOME: home}, stdio: ['ignore', 'ignore', 'pipe']})
  let log = ''
  agent.stderr.on('data', (d) => (log += d))
  const deadline = Date.now() + 30_000
  while (!log.includes('workload api listening')) {
    if (agent.exitCode !== null || Date.now() > deadline) throw new Error(`the agent did not listen: ${log}`)
    await new Promise((r) => setTimeout(r, 50))
  }

  const clients = () => Array.from({length: WORKLOADS}, () => new Service(`unix://${socket}`, grpc.credentials.createInsecure()))
  const close = (list) => list.forEach((client) => client.close())

  // The first message of a stream, in ms from the call; the stream is then cancelled.
  const firstMessage = (client, metadata) =>
    new Promise((resolve, reject) => {
      const started = performance.now()
      const stream = client.FetchX509SVID({}, metadata)
      stream.once('data', () => {
        resolve(performance.now() - started)
        stream.cancel()
      })
      stream.on('error', (error) => {
        if (error.code === grpc.status.CANCELLED) return
        if (metadata === header) reject(error)
        else resolve(performance.now() - started)
      })
    })

  const warm = clients()
  await Promise.all(warm.map((client) => firstMessage(client, header)))
  close(warm)

  const noop = []
  const fetch = []
  // CPU (user + system) of the agent and of this client process, per connection and call.
  const cpu = {noop: {agent: 0, client: 0}, fetch: {agent: 0, client: 0}}
  const measured = async (kind, run) => {
    const agentBefore = cpuSeconds(agent.pid)
    const clientBefore = process.cpuUsage()
    const samples = await run()
    const client = process.cpuUsage(clientBefore)
    cpu[kind].agent += (cpuSeconds(agent.pid) - agentBefore) * 1000
    cpu[kind].client += (client.user + client.system) / 1000
    return samples
  }
  for (let round = 0; round < ROUNDS; round++) {
    const a = clients()
    noop.push(...(await measured('noop', () => Promise.all(a.map((client) => firstMessage(client, new grpc.Metadata()))))))
    close(a)
    const b = clients()
    fetch.push(...(await measured('fetch', () => Promise.all(b.map((client) => firstMessage(client, header))))))
    close(b)
  }
  // The same calls on connections made (and attested) beforehand: the calls alone.
  const connected = []
  for (let round = 0; round < ROUNDS; round++) {
    const c = clients()
    await Promise.all(c.map((client) => new Promise((resolve, reject) => client.waitForReady(Date.now() + 10_000, (error) => (error ? reject(error) : resolve())))))
    await new Promise((r) => setTimeout(r, 200))
    connected.push(...(await Promise.all(c.map((client) => firstMessage(client, header)))))
    close(c)
  }
  connected.sort((x, y) => x - y)
  // One workload at a time on its open connection: a call's latency without queueing.
  const alone = []
  const one = clients().slice(0, 1)
  await firstMessage(one[0], header)
  for (let i = 0; i < ROUNDS * WORKLOADS; i++) alone.push(await firstMessage(one[0], header))
  close(one)
  alone.sort((x, y) => x - y)
  noop.sort((x, y) => x - y)
  fetch.sort((x, y) => x - y)
  const row = (name, samples) => console.log(`${name.padEnd(52)} p50 ${percentile(samples, 50).toFixed(2).padStart(7)} ms   p99 ${percentile(samples, 99).toFixed(2).padStart(7)} ms`)
  console.log(`Workload API on a unix socket, ${WORKLOADS} workloads connecting at once, ${ROUNDS} rounds (new connections each)`)
  row('no-op call (no security header: InvalidArgument)', noop)
  row('FetchX509SVID first message (cached SVID)', fetch)
  row(`FetchX509SVID, ${WORKLOADS} calls at once on open connections`, connected)
  row('FetchX509SVID, one call at a time on an open connection', alone)
  const perCall = (kind) => `agent ${(cpu[kind].agent / (ROUNDS * WORKLOADS)).toFixed(2)} ms, client ${(cpu[kind].client / (ROUNDS * WORKLOADS)).toFixed(2)} ms`
  console.log(`CPU per connection and call: no-op: ${perCall('noop')}; FetchX509SVID: ${perCall('fetch')} (clock ticks of ${1000 / 100} ms: rough)`)

  // N open streams; SIGUSR1 renews; time until the last stream has the new certificate.
  const open = clients()
  const serials = new Map()
  const streams = []
  await Promise.all(
    open.map(
      (client, i) =>
        new Promise((resolve, reject) => {
          const stream = client.FetchX509SVID({}, header)
          streams.push(stream)
          stream.on('data', (response) => {
            serials.set(i, {serial: new X509Certificate(response.svids[0].x509_svid).serialNumber, at: performance.now()})
            resolve()
          })
          stream.on('error', (error) => error.code === grpc.status.CANCELLED || reject(error))
        }),
    ),
  )
  const before = new Set([...serials.values()].map((s) => s.serial))
  await new Promise((r) => setTimeout(r, 1000))
  const rss = rssMiB(agent.pid)
  const signalled = performance.now()
  agent.kill('SIGUSR1')
  while ([...serials.values()].some((s) => before.has(s.serial))) {
    if (performance.now() - signalled > 30_000) throw new Error('the renewal did not reach every stream within 30 s')
    await new Promise((r) => setTimeout(r, 5))
  }
  const last = Math.max(...[...serials.values()].map((s) => s.at)) - signalled
  console.log(`renewal (SIGUSR1) until the last of ${WORKLOADS} open streams has it: ${last.toFixed(1)} ms (includes issuing the new SVID)`)
  console.log(`agent RSS with ${WORKLOADS} open streams: ${rss.toFixed(1)} MiB`)
  streams.forEach((stream) => stream.cancel())
  close(open)
} finally {
  agent?.kill('SIGTERM')
  rmSync(tmp, {recursive: true, force: true})
}
