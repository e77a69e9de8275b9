/**
 * The Workload API of an agent joined to a real `wid server` (the remote path): the built
 * `wid bot start` joins with a token and serves SpiffeWorkloadAPI on a unix socket; workloads
 * are the official-proto client run as other users with setpriv. An identity withdrawn by an
 * admin ends the streams that held it; SIGHUP moves the socket, SIGTERM removes it, and a
 * regular file in its place is refused at start.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {X509Certificate} from 'node:crypto'
import {chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {startBotCluster, type BotCluster} from '../helpers/bot-cluster.js'
import {expectOneLineError, tempDir, WID_BIN} from '../helpers/cli.js'
import {within} from '../helpers/server.js'

const CLIENT = fileURLToPath(new URL('../fixtures/workload-client.mjs', import.meta.url))
const tmp = tempDir('wid-wapi-remote-')
afterAll(() => tmp.cleanup())

const BY_UID = `kind: workload_identity
version: v1
metadata:
  name: by-uid
  labels:
    app: demo
spec:
  rules:
    allow:
      - conditions:
          - attribute: workload.unix.uid
            eq:
              value: 1000
  spiffe:
    id: /svc/uid-{{ workload.unix.uid }}
    hint: by-uid
`
const ROLE = `kind: role
version: v6
metadata:
  name: demo-issuer
spec:
  allow:
    workload_identity_labels:
      app: ["demo"]
    rules:
      - resources: [workload_identity]
        verbs: [list, read]
`
const UID_1000 = {uid: 1000, gid: 1000}

interface Answer {
  ok?: Array<{spiffe_id: string; hint: string; cert: string}>
  code?: string
  details?: string
}

/** The official-proto client as uid:gid: its JSON lines as they come, and its exit. */
function workload(target: string, ids: {uid: number; gid: number}, action: string[]): {answers: Answer[]; done: Promise<Answer[]>; child: ChildProcess} {
  const child = spawn('setpriv', ['--reuid', String(ids.uid), '--regid', String(ids.gid), '--clear-groups', process.execPath, CLIENT, target, ...action], {stdio: ['ignore', 'pipe', 'pipe']})
  const answers: Answer[] = []
  let partial = ''
  let err = ''
  child.stdout.on('data', (d) => {
    const lines = (partial + d).split('\n')
    partial = lines.pop()!
    for (const line of lines.filter(Boolean)) answers.push(JSON.parse(line) as Answer)
  })
  child.stderr.on('data', (d) => (err += d))
  const done = new Promise<Answer[]>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => (code === 0 ? resolve(answers) : reject(new Error(`client exited ${code}: ${err}`))))
  })
  // a test that kills its client without awaiting `done` has no use for its rejection
  done.catch(() => {})
  return {answers, done, child}
}

async function x509(target: string): Promise<Answer> {
  const [answer] = await workload(target, UID_1000, ['x509']).done
  return answer!
}

interface Agent {
  child: ChildProcess
  log: () => string
  stderr: () => string
  exited: Promise<number | null>
  stop: () => Promise<number | null>
}

function startAgent(home: string, config: string): Agent {
  const child = spawn(process.execPath, [WID_BIN, 'bot', 'start', '-c', config], {env: {...process.env, WID_HOME: home, DEBUG: ''}, stdio: ['ignore', 'pipe', 'pipe']})
  let log = ''
  let stderr = ''
  child.stdout!.on('data', (d) => (log += d))
  child.stderr!.on('data', (d) => {
    log += d
    stderr += d
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return {
    child,
    log: () => log,
    stderr: () => stderr,
    exited,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM')
      return exited
    },
  }
}

let cluster: BotCluster

beforeAll(async () => {
  // other users must reach the sockets: the directories above them are traversable
  chmodSync(tmp.path, 0o755)
  cluster = await startBotCluster(tmp.path, {documents: [BY_UID, ROLE], bot: 'api-bot', roles: ['demo-issuer']})
}, 60_000)
afterAll(async () => {
  await cluster?.stop()
})

async function agentConfig(name: string, socket: string): Promise<string> {
  const path = join(tmp.path, `${name}.yaml`)
  writeFileSync(
    path,
    `version: v2
proxy_server: 127.0.0.1:${cluster.port}
onboarding:
  join_method: token
  token: ${await cluster.newToken()}
  ca_pins:
    - ${cluster.pin}
storage:
  type: directory
  path: ${join(tmp.path, `${name}-storage`)}
credential_ttl: 30s
renewal_interval: 2s
services:
  - type: workload-identity-api
    listen: unix://${socket}
    selector:
      labels:
        app: [demo]
`,
    {mode: 0o600},
  )
  return path
}

describe('wid bot start: the Workload API of an agent joined to a server', () => {
  const run = join(tmp.path, 'run')
  const socket = join(run, 'first', 'workload.sock')
  const moved = join(run, 'moved', 'workload.sock')
  let config: string
  let agent: Agent

  beforeAll(async () => {
    config = await agentConfig('agent', socket)
    agent = startAgent(join(tmp.path, 'agent-home'), config)
    await within(30, () => agent.log().includes('bot identity ready') && agent.log().includes('workload api listening'), agent.log)
  }, 60_000)
  afterAll(async () => {
    await agent?.stop()
  })

  it('gives uid 1000 its identity, issued by the server', async () => {
    const answer = await x509(`unix://${socket}`)
    expect(answer.ok!.map((svid) => [svid.spiffe_id, svid.hint])).toEqual([['spiffe://example.org/svc/uid-1000', 'by-uid']])
    const leaf = new X509Certificate(Buffer.from(answer.ok![0]!.cert, 'base64'))
    expect(leaf.subjectAltName).toBe('URI:spiffe://example.org/svc/uid-1000')
  })

  it('ends an open stream with PermissionDenied at the next renewal once an admin deletes the identity', async () => {
    const watch = workload(`unix://${socket}`, UID_1000, ['watch', '1000'])
    await within(20, () => watch.answers.length > 0, agent.log)
    expect((await cluster.admin(['rm', 'workload_identity/by-uid'])).code).toBe(0)
    const answers = await watch.done
    expect(answers.slice(0, -1).every((answer) => answer.ok?.[0]?.spiffe_id === 'spiffe://example.org/svc/uid-1000')).toBe(true)
    expect(answers.at(-1)).toEqual({code: 'PERMISSION_DENIED', details: 'no identity issued'})
    expect(await x509(`unix://${socket}`)).toEqual({code: 'PERMISSION_DENIED', details: 'no identity issued'})
    expect((await cluster.admin(['create', '-f', '-'], {input: BY_UID})).code).toBe(0)
    expect((await x509(`unix://${socket}`)).ok![0]!.spiffe_id).toBe('spiffe://example.org/svc/uid-1000')
  }, 60_000)

  it('ends an open stream with PermissionDenied once an admin changes the rule so that it no longer matches', async () => {
    const watch = workload(`unix://${socket}`, UID_1000, ['watch', '1000'])
    await within(20, () => watch.answers.length > 0, agent.log)
    expect((await cluster.admin(['create', '--force', '-f', '-'], {input: BY_UID.replace('value: 1000', 'value: 2000')})).code).toBe(0)
    expect((await watch.done).at(-1)).toEqual({code: 'PERMISSION_DENIED', details: 'no identity issued'})
    expect((await cluster.admin(['create', '--force', '-f', '-'], {input: BY_UID})).code).toBe(0)
    expect((await x509(`unix://${socket}`)).ok![0]!.spiffe_id).toBe('spiffe://example.org/svc/uid-1000')
  }, 60_000)

  it('keeps an open stream through a server outage and pushes a new SVID once the server is back', async () => {
    const watch = workload(`unix://${socket}`, UID_1000, ['watch', '1000'])
    try {
      await within(20, () => watch.answers.length > 0, agent.log)
      await cluster.server.stop('SIGKILL')
      const logged = agent.log().length
      await within(20, () => agent.log().slice(logged).includes('workload svid renewal failed'), agent.log)
      const before = watch.answers.length
      const last = watch.answers.at(-1)!.ok![0]!.cert
      await cluster.restart()
      await within(40, () => watch.answers.length > before, agent.log)
      const next = watch.answers[before]!
      expect(next.ok![0]!.spiffe_id).toBe('spiffe://example.org/svc/uid-1000')
      expect(next.ok![0]!.cert).not.toBe(last)
      expect(watch.answers.every((answer) => answer.ok !== undefined)).toBe(true)
    } finally {
      watch.child.kill()
    }
  }, 90_000)

  it('moves to a new socket on SIGHUP, ending the streams of the old one and removing it', async () => {
    const watch = workload(`unix://${socket}`, UID_1000, ['watch', '1000'])
    await within(20, () => watch.answers.length > 0, agent.log)
    writeFileSync(config, readFileSync(config, 'utf8').replace(`unix://${socket}`, `unix://${moved}`))
    agent.child.kill('SIGHUP')
    await within(20, () => agent.log().includes('configuration reloaded'), agent.log)
    expect((await watch.done).at(-1)!.code).toBe('UNAVAILABLE')
    expect(existsSync(socket)).toBe(false)
    expect((await x509(`unix://${moved}`)).ok![0]!.spiffe_id).toBe('spiffe://example.org/svc/uid-1000')
  }, 60_000)

  it('removes its socket on SIGTERM, with a stream open', async () => {
    const watch = workload(`unix://${moved}`, UID_1000, ['watch', '1000'])
    await within(20, () => watch.answers.length > 0, agent.log)
    expect(await agent.stop()).toBe(0)
    expect(existsSync(moved)).toBe(false)
    expect((await watch.done).at(-1)!.code).toBe('UNAVAILABLE')
  }, 60_000)
})
describe('wid bot start: a regular file where the Workload API socket goes', () => {
  it('refuses to start, saying so in one line', async () => {
    const dir = join(tmp.path, 'occupied')
    mkdirSync(dir)
    const socket = join(dir, 'workload.sock')
    writeFileSync(socket, 'not a socket\n')
    const agent = startAgent(join(tmp.path, 'occupied-home'), await agentConfig('occupied', socket))
    const code = (await agent.exited) ?? -1
    expect(code).toBe(4)
    expect(expectOneLineError({code, stdout: '', stderr: agent.stderr()})).toBe(`workload api: ${socket} exists and is not a socket; remove it or listen elsewhere`)
    expect(existsSync(socket)).toBe(true)
  }, 60_000)
})
