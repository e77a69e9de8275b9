/**
 * Host and client CA rotations with a real `wid server`, a logged-in user and a running
 * agent: both follow every phase without a new login or join (the server's answers tell
 * them to, see src/lib/cluster/advice.ts), the server presents a certificate of the host
 * CA key that signs and accepts every trusted client CA key, and what missed a rotation gets
 * one line that says what to do.
 */
import {cpSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {createHash, X509Certificate} from 'node:crypto'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {startBotCluster, type BotCluster} from '../helpers/bot-cluster.js'
import {expectOneLineError, tempDir, widIn} from '../helpers/cli.js'
import {ISSUER_ROLE, WORKLOAD_IDENTITY} from '../helpers/design-documents.js'
import {eventually, getPublic, inviteFile, within} from '../helpers/server.js'
import {startAgent, type Agent} from '../helpers/workload-agent.js'

const tmp = tempDir('wid-rot-hc-')
afterAll(() => tmp.cleanup())
const PASSWORD = 'correct horse battery staple'

let cluster: BotCluster
let agent: Agent
const userHome = join(tmp.path, 'alice')
const alice = widIn(userHome)
const storage = join(tmp.path, 'agent-storage')
const profileDir = () => join(userHome, 'profiles', `127.0.0.1_${cluster.port}`)

const pinOf = (pem: string) => `sha256:${createHash('sha256').update(new X509Certificate(pem).publicKey.export({type: 'spki', format: 'der'})).digest('hex')}`
/** The pins of the certificates in the PEM file `path`, in order. */
const pemsIn = (path: string) => (readFileSync(path, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map(pinOf)
/** The issuer's name of the certificate in `path`: each client CA key has a name of its own. */
const issuerOf = (path: string) => new X509Certificate(readFileSync(path, 'utf8')).issuer

interface Rotation {
  type: string
  phase: string
  signing: string
  trusted: string[]
  next?: string
}

async function rotation(type: string): Promise<Rotation> {
  const status = JSON.parse((await cluster.admin(['status', '--json'])).stdout) as {rotations: Rotation[]}
  return status.rotations.find((r) => r.type === type)!
}

async function rotate(type: string, phase: string): Promise<Rotation> {
  const result = await cluster.admin(['auth', 'rotate', '--type', type, '--manual', '--phase', phase])
  expect(result.code, result.stderr).toBe(0)
  return rotation(type)
}

/** The pin at the top of the chain the server presents, as /webapi/find says it. */
async function presentedPin(): Promise<string> {
  return (JSON.parse((await getPublic(cluster.port, '/webapi/find')).body) as {loginPin: string}).loginPin
}

/** The user's command works, and after it the profile trusts exactly `pins` (signing first). */
async function userFollows(pins: string[]): Promise<void> {
  await eventually(
    15,
    async () => {
      const status = await alice(['status', '--json'])
      expect(status.code, status.stderr).toBe(0)
      return pemsIn(join(profileDir(), 'host-ca.pem')).join(',') === pins.join(',')
    },
    () => `the profile trusts ${pemsIn(join(profileDir(), 'host-ca.pem')).join(',')}, not ${pins.join(',')}`,
  )
}

/** The agent keeps renewing its output, and its stored identity trusts exactly `pins` (signing first). */
async function agentFollows(pins: string[]): Promise<void> {
  const logged = agent.log().length
  await within(20, () => pemsIn(join(storage, 'host_ca.pem')).join(',') === pins.join(','), () => `the agent trusts ${pemsIn(join(storage, 'host_ca.pem')).join(',')}, not ${pins.join(',')}\n${agent.log()}`)
  // and still renews its output afterwards (connections made with what it trusts now)
  await within(20, () => agent.log().slice(logged).includes('output renewed'), agent.log)
  expect(agent.log().slice(logged)).not.toMatch(/renewal failed/)
}

beforeAll(async () => {
  cluster = await startBotCluster(tmp.path, {documents: [WORKLOAD_IDENTITY, ISSUER_ROLE], bot: 'rot-bot', roles: ['example-workload-identity-issuer']})
  const invite = (await cluster.admin(['users', 'add', 'alice', '--roles', 'access'])).stdout.trim()
  const login = await alice(['login', '--proxy', `127.0.0.1:${cluster.port}`, '--user', 'alice', '--ca-pin', cluster.pin, '--password-stdin', '--invite-file', inviteFile(tmp.path, invite)], {input: `${PASSWORD}\n`})
  expect(login.code, login.stderr).toBe(0)
  const config = join(tmp.path, 'agent.yaml')
  // The identity renews once an hour: a prompt renewal can only be the rotation's (the output renews every second and carries the server's advice)
  writeFileSync(
    config,
    `${await cluster.agentYaml(storage)}credential_ttl: 2h
renewal_interval: 1h
services:
  - type: workload-identity-x509
    credential_ttl: 1m
    renewal_interval: 1s
    selector:
      name: example-workload-identity
    destination:
      type: directory
      path: ${join(tmp.path, 'out')}
`,
    {mode: 0o600},
  )
  agent = startAgent(join(tmp.path, 'agent-home'), config)
  await within(30, () => agent.log().includes('output renewed'), agent.log)
}, 60_000)
afterAll(async () => {
  await agent?.stop()
  await cluster?.stop()
})

describe('a host CA rotation', () => {
  it('is followed by the server, a logged-in user and a running agent through every phase; a client that missed it is told what to do', async () => {
    const missed = join(tmp.path, 'missed')
    cpSync(userHome, missed, {recursive: true})
    // and an agent's storage that will miss it too (without the running agent's lock)
    const missedStorage = join(tmp.path, 'missed-storage')
    cpSync(storage, missedStorage, {recursive: true, verbatimSymlinks: true})
    rmSync(join(missedStorage, 'agent.lock'))
    const old = cluster.pin

    const init = await rotate('host', 'init')
    const fresh = init.next!
    expect(init.trusted).toEqual([old, fresh])
    await userFollows([old, fresh])
    await agentFollows([old, fresh])
    // both pins, and which one signs, in wid status
    const shown = (await cluster.admin(['status'])).stdout
    expect(shown).toContain(`Host CA pin:    ${old} (signs, old)`)
    expect(shown).toContain(`${fresh} (new)`)

    await rotate('host', 'update_clients')
    expect(await presentedPin()).toBe(old)

    await rotate('host', 'update_servers')
    // the server presents a certificate of the new host CA, without a restart
    await eventually(10, async () => (await presentedPin()) === fresh, () => 'the server still presents the old host CA')
    await userFollows([fresh, old])
    await agentFollows([fresh, old])
    expect(JSON.parse(readFileSync(join(profileDir(), 'profile.json'), 'utf8')).caPin).toBe(fresh)

    await rotate('host', 'standby')
    await userFollows([fresh])
    await agentFollows([fresh])
    expect(await presentedPin()).toBe(fresh)

    // a login that missed the whole rotation trusts only the old host CA
    expect(expectOneLineError(await widIn(missed)(['status']))).toBe(
      `remote: the server's certificate at 127.0.0.1:${cluster.port} is signed by a host CA this login does not trust; the cluster's host CA may have been rotated: check the new pin with wid status on the server (Host CA pin), then wid login --proxy 127.0.0.1:${cluster.port} --user alice --ca-pin sha256:<the new pin>`,
    )
    const missedConfig = join(tmp.path, 'missed.yaml')
    writeFileSync(missedConfig, readFileSync(join(tmp.path, 'agent.yaml'), 'utf8').replace(storage, missedStorage), {mode: 0o600})
    const once = await widIn(join(tmp.path, 'missed-agent-home'))(['bot', 'start', '-c', missedConfig, '--oneshot'])
    expect(once.code).not.toBe(0)
    expect(once.stderr).toContain(
      `renew: the server's certificate at 127.0.0.1:${cluster.port} is signed by a host CA this bot identity does not trust; the cluster's host CA may have been rotated: check the new pin with wid status on the server (Host CA pin), then put it in onboarding.ca_pins, stop the agent, remove its storage directory and start it again with a new join token (a delegated join method needs none)`,
    )
  }, 120_000)

  it('rolls back: the server presents the old host CA again, and the user and agent keep working', async () => {
    const old = (await rotation('host')).signing
    const fresh = (await rotate('host', 'init')).next!
    await userFollows([old, fresh])
    await agentFollows([old, fresh])
    await rotate('host', 'update_clients')
    await rotate('host', 'update_servers')
    await eventually(10, async () => (await presentedPin()) === fresh, () => 'the server still presents the old host CA')
    await userFollows([fresh, old])
    await agentFollows([fresh, old])
    await rotate('host', 'rollback')
    await eventually(10, async () => (await presentedPin()) === old, () => 'the server still presents the new host CA')
    await userFollows([old, fresh])
    await agentFollows([old, fresh])
    await rotate('host', 'standby')
    await userFollows([old])
    await agentFollows([old])
  }, 120_000)
})

describe('a client CA rotation', () => {
  it('re-issues the login and the bot identity before the old key is dropped; a certificate of the old key is then refused', async () => {
    const stale = join(tmp.path, 'stale')
    cpSync(userHome, stale, {recursive: true})
    const userCert = join(profileDir(), 'cert.pem')
    const botCert = join(storage, 'identity.pem')
    const oldIssuer = issuerOf(userCert)
    expect(issuerOf(botCert)).toBe(oldIssuer)
    const {expires} = JSON.parse(readFileSync(join(profileDir(), 'profile.json'), 'utf8')) as {expires: string}
    const key = readFileSync(join(profileDir(), 'key.pem'), 'utf8')

    await rotate('client', 'init')
    // both client CA keys are accepted: nothing changes yet
    expect((await alice(['status'])).code).toBe(0)
    expect(issuerOf(userCert)).toBe(oldIssuer)

    await rotate('client', 'update_clients')
    // the user's next command once the server has seen the step (it checks its authorities every
    // second) gets a certificate of the new key: same key, same expiry, no password
    await eventually(10, async () => {
      const status = await alice(['status'])
      expect(status.code, status.stderr).toBe(0)
      return issuerOf(userCert) !== oldIssuer
    }, () => 'the login was not re-issued')
    expect(readFileSync(join(profileDir(), 'key.pem'), 'utf8')).toBe(key)
    expect(JSON.parse(readFileSync(join(profileDir(), 'profile.json'), 'utf8')).expires).toBe(expires)
    // the agent renews its identity at once (its own renewal is an hour away)
    await within(20, () => issuerOf(botCert) !== oldIssuer, agent.log)

    await rotate('client', 'update_servers')
    await rotate('client', 'standby')
    const logged = agent.log().length
    expect((await alice(['status'])).code).toBe(0)
    await within(20, () => agent.log().slice(logged).includes('output renewed'), agent.log)
    expect(agent.log().slice(logged)).not.toMatch(/renewal failed/)
    // a login that kept its certificate of the old key
    expect(expectOneLineError(await widIn(stale)(['status']))).toBe(
      'api: the client certificate was not issued by this cluster (its CA is not trusted: the client CA may have been rotated since it was issued); run wid login',
    )
  }, 120_000)
})
