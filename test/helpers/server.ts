/** Runs `wid server start` as a child process on a free loopback port, the way an operator does. */
import {spawn, type ChildProcess} from 'node:child_process'
import {generateKeyPairSync, randomBytes} from 'node:crypto'
import {readFileSync, writeFileSync} from 'node:fs'
import {request} from 'node:https'
import {createServer} from 'node:net'
import {join} from 'node:path'
import {WID_BIN} from './cli.js'

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const {port} = probe.address() as {port: number}
      probe.close(() => resolve(port))
    })
  })
}

export interface WidServer {
  port: number
  url: string
  child: ChildProcess
  log: () => string
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

export interface SpawnedWidServer extends WidServer {
  /** Resolves once the server says it listens; fails if it exits first, or after 20 s. */
  listening: Promise<void>
}

/** `publicAddr`: the address the cluster is known by (several servers behind one), by default this server's own. */
export async function startWidServer(home: string, port?: number, extraArgs: string[] = [], options: {publicAddr?: string} = {}): Promise<WidServer> {
  const server = await spawnWidServer(home, port, extraArgs, options)
  await server.listening
  return server
}

/** `wid server start` as a child process, without waiting for it to listen (as when it waits for its database). */
export async function spawnWidServer(home: string, port?: number, extraArgs: string[] = [], options: {publicAddr?: string} = {}): Promise<SpawnedWidServer> {
  const chosen = port ?? (await freePort())
  const url = `https://127.0.0.1:${chosen}`
  const child = spawn(process.execPath, [WID_BIN, 'server', 'start', '--listen', `127.0.0.1:${chosen}`, '--public-addr', options.publicAddr ?? url, ...extraArgs], {
    env: {...process.env, WID_HOME: home, DEBUG: ''},
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', (d) => (output += d))
  child.stderr!.on('data', (d) => (output += d))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const listening = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`server did not start:\n${output}`))
    }, 20_000)
    const check = () => {
      if (output.includes('listening on')) {
        clearTimeout(timer)
        resolve()
      }
    }
    child.stderr!.on('data', check)
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`server exited with ${code}:\n${output}`))
    })
  })
  // a server stopped before it listens is the caller's to check, not an unhandled rejection
  listening.catch(() => undefined)
  return {
    port: chosen,
    url,
    child,
    listening,
    log: () => output,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null) child.kill(signal)
      return exited
    },
  }
}

export interface LoginProfile {
  key: string
  cert: string
  /** The host CA the login pinned. */
  ca: string
  /** When the login's certificate expires (ISO 8601). */
  expires: string
}

/** What `wid login` stored in `home` for the server on 127.0.0.1:`port`. */
export function loginProfile(home: string, port: number): LoginProfile {
  const dir = join(home, 'profiles', `127.0.0.1_${port}`)
  const read = (name: string) => readFileSync(join(dir, name), 'utf8')
  return {key: read('key.pem'), cert: read('cert.pem'), ca: read('host-ca.pem'), expires: (JSON.parse(read('profile.json')) as {expires: string}).expires}
}

export interface Answer {
  status: number
  body: string
}

/**
 * A login with `invite` that is in flight: the server has its headers (it answered
 * `100 Continue`, so the request has reached the handler) and waits for the body, which
 * `finish()` sends.
 */
export async function loginInFlight(port: number, user: string, password: string, invite: string): Promise<{finish: () => Promise<Answer>}> {
  const publicKey = generateKeyPairSync('ec', {namedCurve: 'P-256'}).publicKey.export({type: 'spki', format: 'pem'}) as string
  // (any certificate: the test is about the request, not about whom it reaches)
  const sent = request({host: '127.0.0.1', port, method: 'POST', path: '/v1/login', agent: false, rejectUnauthorized: false, headers: {'content-type': 'application/json', expect: '100-continue'}})
  const answer = new Promise<Answer>((resolve, reject) => {
    sent.on('error', reject)
    sent.on('response', (response) => {
      let body = ''
      response.on('data', (d) => (body += d))
      response.on('end', () => resolve({status: response.statusCode ?? 0, body}))
    })
  })
  await Promise.race([new Promise((resolve) => sent.once('continue', resolve)), answer])
  return {
    finish: () => {
      sent.end(JSON.stringify({user, password, invite, publicKey}))
      return answer
    },
  }
}

/**
 * `count` servers on the store that `config` (a wid.yaml) names, started at once on free ports
 * in homes under `dir`, all known by the first one's address (as behind one load balancer).
 */
export async function startServersOnStore(dir: string, config: string, count = 2): Promise<WidServer[]> {
  const ports = await Promise.all(Array.from({length: count}, () => freePort()))
  return Promise.all(ports.map((port, i) => startWidServer(join(dir, `server-${i}`), port, ['-c', config], {publicAddr: `https://127.0.0.1:${ports[0]}`})))
}

/** Resolves once `check()` resolves true (asked every 200 ms); fails after `seconds` (a guard against hanging, not a timing assertion). */
export async function eventually(seconds: number, check: () => Promise<boolean>, what: () => string): Promise<void> {
  const deadline = Date.now() + seconds * 1000
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${seconds} s: ${what()}`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

/** Resolves once `done()` holds; fails after `seconds` (a guard against hanging, not a timing assertion). */
export async function within(seconds: number, done: () => boolean, what: () => string): Promise<void> {
  const deadline = Date.now() + seconds * 1000
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`not within ${seconds} s: ${what()}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** Writes an invite to a new file in `dir` for `wid login --invite-file`: an invite is never given on a command line, where `ps` shows it. */
export function inviteFile(dir: string, invite: string): string {
  const path = join(dir, `invite-${randomBytes(4).toString('hex')}`)
  writeFileSync(path, `${invite}\n`, {mode: 0o600})
  return path
}

export interface PublicAnswer {
  status: number
  body: string
}

/**
 * A GET of a public path (a document, /readyz) as a relying party or a load balancer's probe
 * sends it, without checking the server's TLS (tested elsewhere): `status` 0, and the
 * reason as `body`, when nothing answers within 10 s.
 */
export function getPublic(port: number, path: string): Promise<PublicAnswer> {
  return new Promise((resolve) => {
    request({host: '127.0.0.1', port, path, rejectUnauthorized: false, agent: false, timeout: 10_000}, (res) => {
      let body = ''
      res.on('data', (d) => (body += d))
      res.on('end', () => resolve({status: res.statusCode ?? 0, body}))
    })
      .on('error', (error) => resolve({status: 0, body: error.message}))
      .on('timeout', function (this: ReturnType<typeof request>) {
        this.destroy(new Error('timed out'))
      })
      .end()
  })
}
