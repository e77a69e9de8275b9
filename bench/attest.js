#!/usr/bin/env node
// Figures for unix workload attestation (the agent's Workload API): the cost per connection,
// from connect() to the server's first byte, of a bare accept (the baseline, measured in the
// same run), of attesting a ~100 MB executable whose hash is cached, and of its first
// (uncached) hash, with the page cache warm. The client is this process, so the executable
// is the node binary running the bench. Run with `npm run bench:attest` (which builds
// first). Figures only: nothing here fails on a number.
import {realpathSync, rmSync, statSync, mkdtempSync} from 'node:fs'
import {connect, createServer} from 'node:net'
import {monitorEventLoopDelay} from 'node:perf_hooks'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {percentile} from './lib.js'

const RUNS = Number(process.env.BENCH_RUNS ?? 500)
const UNCACHED_RUNS = Number(process.env.BENCH_UNCACHED_RUNS ?? 20)

const {UnixAttestor} = await import('../dist/lib/workloadapi/attest/unix.js')
const {peerCredentials} = await import('../dist/lib/workloadapi/peercred.js')

const tmp = mkdtempSync(join(tmpdir(), 'wid-bench-attest-'))
const path = join(tmp, 'workload.sock')
let answer // what the server does with a connection before its first byte
const server = createServer((socket) => {
  answer(socket).then(
    () => socket.end('x'),
    (error) => {
      console.error(error)
      socket.destroy()
    },
  )
})
await new Promise((resolve) => server.listen(path, resolve))

/** ms from connect() until the server's first byte arrives */
function once() {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const socket = connect(path)
    socket.once('data', () => {
      resolve(performance.now() - started)
      socket.destroy()
    })
    socket.once('error', reject)
  })
}

function summary(label, samples) {
  const sorted = [...samples].sort((a, b) => a - b)
  return `  ${label.padEnd(46)} median ${percentile(sorted, 50).toFixed(3).padStart(8)} ms   p99 ${percentile(sorted, 99).toFixed(3).padStart(8)} ms   (${samples.length} connections)`
}

try {
  const executable = realpathSync(process.execPath)
  const size = statSync(executable).size

  // the first peerCredentials call loads koffi and libc
  let first
  answer = async (socket) => {
    const started = performance.now()
    peerCredentials(socket)
    first = performance.now() - started
  }
  await once()

  const bare = async () => {}
  let attestor = new UnixAttestor()
  const cached = (socket) => attestor.attest(socket)
  answer = cached
  await once() // hashes the binary once
  const baseline = [], hits = []
  for (let i = 0; i < RUNS; i++) {
    answer = bare
    baseline.push(await once())
    answer = cached
    hits.push(await once())
  }

  const misses = []
  answer = (socket) => {
    attestor = new UnixAttestor()
    return attestor.attest(socket)
  }
  const loopDelay = monitorEventLoopDelay({resolution: 1})
  loopDelay.enable()
  for (let i = 0; i < UNCACHED_RUNS; i++) misses.push(await once())
  loopDelay.disable()

  console.log(`\nunix attestation per connection, connect() to the server's first byte (${process.version})`)
  console.log(`  executable: the pinned node binary running this bench, ${executable} (${(size / 1024 / 1024).toFixed(1)} MiB), page cache warm`)
  console.log(summary('baseline: bare connect + accept', baseline))
  console.log(summary('attest, binary_hash cached', hits))
  console.log(summary('attest, first (uncached) binary_hash', misses))
  console.log(`  event loop delay while hashing uncached: p99 ${(loopDelay.percentile(99) / 1e6).toFixed(1)} ms, max ${(loopDelay.max / 1e6).toFixed(1)} ms (the hash is read and fed in 1 MiB slices)`)
  console.log(`  first peerCredentials call in the process (loads koffi): ${first.toFixed(1)} ms`)
} finally {
  server.close()
  rmSync(tmp, {recursive: true, force: true})
}
