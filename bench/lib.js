// What the bench scripts share: running wid, free ports, waiting for a server, percentiles,
// process CPU and memory from /proc, and a server with one logged-in user.
import {spawn, spawnSync} from 'node:child_process'
import {openSync, readdirSync, readFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {Agent, request} from 'undici'

export const root = fileURLToPath(new URL('..', import.meta.url))
export const wid = join(root, 'bin', 'run.js')

export const percentile = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : NaN)

export function runWid(home, args, input) {
  const result = spawnSync(process.execPath, [wid, ...args], {
    env: {...process.env, WID_HOME: home},
    input: input ?? '',
    encoding: 'utf8',
    timeout: 60_000,
  })
  if (result.status !== 0) throw new Error(`wid ${args.join(' ')} failed (${result.status ?? result.signal}): ${result.stderr}`)
  return result.stdout
}

/** An embedded cluster in `home` with the workload identity `bench` (/svc/bench), a role that issues it, and the bot `bench-bot` holding it. */
export function initBenchCluster(home) {
  runWid(home, ['init', '--cluster-name', 'bench.example'])
  runWid(home, ['create', '-f', '-'], 'kind: workload_identity\nversion: v1\nmetadata:\n  name: bench\n  labels:\n    app: bench\nspec:\n  spiffe:\n    id: /svc/bench\n')
  runWid(home, ['create', '-f', '-'], 'kind: role\nversion: v6\nmetadata:\n  name: bench\nspec:\n  allow:\n    workload_identity_labels:\n      app: ["bench"]\n    rules:\n      - resources: [workload_identity]\n        verbs: [list, read]\n')
  runWid(home, ['bots', 'add', 'bench-bot', '--roles', 'bench'])
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const {port} = probe.address()
      probe.close(() => resolve(port))
    })
  })
}

export async function waitHealthy(url, child, stderr) {
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
export const clockTicks = Number(spawnSync('getconf', ['CLK_TCK'], {encoding: 'utf8'}).stdout.trim()) || 100
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / clockTicks // utime, stime (fields 14, 15)
  } catch {
    return NaN
  }
}

/**
 * CPU seconds of each named group of a process's threads (Linux only): the event loop (the
 * main thread), wid's own worker threads by the names they are given (wid-signing,
 * wid-sqlite), V8's helpers (garbage collection, compilers) and the rest (libuv, inspector).
 */
export function threadCpuSeconds(pid) {
  const groups = {}
  let tids
  try {
    tids = readdirSync(`/proc/${pid}/task`)
  } catch {
    return groups
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      const group = tid === String(pid) ? 'event loop' : name.startsWith('wid-') ? name : /^(V8|v8)/.test(name) ? 'V8 helpers' : 'other'
      groups[group] = (groups[group] ?? 0) + (Number(fields[11]) + Number(fields[12])) / clockTicks
    } catch {
      // the thread ended
    }
  }
  return groups
}

/** Resident memory of a process in MiB, from /proc/<pid>/status (Linux only): VmRSS, or another field such as RssAnon. */
export function rssMiB(pid, field = 'VmRSS') {
  try {
    const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match ? Number(match[1]) / 1024 : NaN
  } catch {
    return NaN
  }
}

/** Starts `wid server start` for `home` on a free loopback port (with `args`, e.g. -c wid.yaml); resolves once /healthz answers. */
export async function startServer(home, args = []) {
  const port = await freePort()
  const proxy = `127.0.0.1:${port}`
  const url = `https://${proxy}`
  let serverStderr = ''
  // BENCH_SERVER_LOG=FILE keeps the server's log (JSON lines) for a look afterwards
  const log = process.env.BENCH_SERVER_LOG ? openSync(process.env.BENCH_SERVER_LOG, 'w') : 'ignore'
  // BENCH_DIAG=1 serves /metrics (--diag-addr), to measure what counting costs
  const diag = process.env.BENCH_DIAG ? ['--diag-addr', `127.0.0.1:${await freePort()}`] : []
  const child = spawn(process.execPath, [wid, 'server', 'start', '--listen', proxy, '--public-addr', url, ...diag, ...args], {
    env: {...process.env, WID_HOME: home},
    stdio: ['ignore', log, 'pipe'],
  })
  child.stderr.setEncoding('utf8').on('data', (chunk) => (serverStderr = (serverStderr + chunk).slice(-4000)))
  await waitHealthy(url, child, () => serverStderr)
  return {child, port, proxy, url}
}

/** Stops a server started by startServer: SIGTERM, then SIGKILL after 10 s. */
export async function stopServer(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
  await exited
  clearTimeout(timer)
}
