/**
 * The Workload API of an agent joined to a real `wid server` (the remote path): the built
 * `wid bot start` joins with a token and serves SpiffeWorkloadAPI on a unix socket; workloads
 * are the official-proto client run as other users with setpriv. An identity withdrawn by an
 * admin ends the streams that held it; SIGHUP moves the socket, SIGTERM removes it, and a
 * regular file in its place is refused at start.
 */
import {X509Certificate} from 'node:crypto'
import {chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {startBotCluster, type BotCluster} from '../helpers/bot-cluster.js'
import {expectOneLineError, tempDir} from '../helpers/cli.js'
import {within} from '../helpers/server.js'
import {BY_UID, DEMO_ROLE as ROLE, startAgent, startWorkload as workload, type Agent, type Answer} from '../helpers/workload-agent.js'

const tmp = tempDir('wid-wapi-remote-')
afterAll(() => tmp.cleanup())

const UID_1000 = {uid: 1000, gid: 1000}

async function x509(target: string): Promise<Answer> {
  const [answer] = await workload(target, UID_1000, ['x509']).done
  return answer!
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
    `${await cluster.agentYaml(join(tmp.path, `${name}-storage`))}credential_ttl: 30s
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
