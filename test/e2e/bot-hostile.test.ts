/**
 * The bot agent and the bot API under attack: signals sent the way impatient people and
 * process supervisors send them, hostile files around the agent, and calls the agent would
 * never make. The built `wid bot start` against a real `wid server` on 127.0.0.1.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {expectOneLineError, tempDir, WID_BIN, widIn, type RunOptions} from '../helpers/cli.js'
import {startBotCluster, type BotCluster} from '../helpers/bot-cluster.js'
import {LEGACY_ROLE} from '../helpers/design-documents.js'
import {within} from '../helpers/server.js'

const tmp = tempDir('wid-bot-hostile-')
afterAll(() => tmp.cleanup())
let cluster: BotCluster
let port: number
let pin: string
const admin = (args: string[], options?: RunOptions) => cluster.admin(args, options)
const newToken = () => cluster.newToken()

beforeAll(async () => {
  cluster = await startBotCluster(tmp.path, {documents: [LEGACY_ROLE], bot: 'my-bot', roles: ['example-service-legacy']})
  ;({port, pin} = cluster)
}, 60_000)
afterAll(async () => {
  await cluster?.stop()
})

/** One legacy output by path (`svidPath`: one the bot's role does not allow makes it fail and retry; `token`: a token file; `ttl`, `renewal`: the bot's). */
async function botConfig(name: string, options: {svidPath?: string; token?: string; ttl?: string; renewal?: string} = {}): Promise<{config: string; storage: string; out: string}> {
  const storage = join(tmp.path, `${name}-storage`)
  const out = join(tmp.path, `${name}-out`)
  const config = join(tmp.path, `${name}.yaml`)
  writeFileSync(
    config,
    `version: v2
proxy_server: 127.0.0.1:${port}
onboarding:
  token: ${options.token ?? (await newToken())}
  ca_pins: [${pin}]
storage:
  type: directory
  path: ${storage}
credential_ttl: ${options.ttl ?? '10m'}
renewal_interval: ${options.renewal ?? '5m'}
outputs:
  - type: spiffe-svid
    destination:
      type: directory
      path: ${out}
    svid:
      path: ${options.svidPath ?? '/svc/example-service'}
`,
    {mode: 0o600},
  )
  return {config, storage, out}
}

interface RunningAgent {
  child: ChildProcess
  log: () => string
  exited: Promise<number | null>
}

function startAgent(config: string, home: string): RunningAgent {
  const child = spawn(process.execPath, [WID_BIN, 'bot', 'start', '-c', config], {env: {...process.env, WID_HOME: home, DEBUG: ''}, stdio: ['ignore', 'pipe', 'pipe']})
  let output = ''
  child.stdout!.on('data', (d) => (output += d))
  child.stderr!.on('data', (d) => (output += d))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return {child, log: () => output, exited}
}

/** The exit code, or 'running' when the agent is still there after `seconds`. */
async function exitWithin(agent: RunningAgent, seconds: number): Promise<number | null | 'running'> {
  const timer = new Promise<'running'>((resolve) => setTimeout(() => resolve('running'), seconds * 1000))
  const result = await Promise.race([agent.exited, timer])
  if (result === 'running') agent.child.kill('SIGKILL')
  return result
}

const count = (log: string, text: string) => log.split('\n').filter((line) => line.includes(text)).length

describe('wid bot start under signals', () => {
  it('a storm of SIGHUPs leaves one set of outputs, and SIGTERM then stops the agent', async () => {
    const {config, storage} = await botConfig('hup-storm')
    const agent = startAgent(config, join(tmp.path, 'hup-home'))
    try {
      await within(30, () => agent.log().includes('output renewed'), agent.log)
      for (let i = 0; i < 20; i++) {
        agent.child.kill('SIGHUP')
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      await within(30, () => count(agent.log(), 'configuration reloaded') + count(agent.log(), 'configuration not reloaded') >= 1, agent.log)
      await new Promise((resolve) => setTimeout(resolve, 3000))
      // one output, one renewal each time: no loop of a replaced configuration left running
      const before = count(agent.log(), 'output renewed')
      agent.child.kill('SIGUSR1')
      await within(20, () => count(agent.log(), 'bot identity renewed') >= 1 && count(agent.log(), 'output renewed') > before, agent.log)
      await new Promise((resolve) => setTimeout(resolve, 2000))
      expect(count(agent.log(), 'output renewed')).toBe(before + 1)
      agent.child.kill('SIGTERM')
      expect(await exitWithin(agent, 15), agent.log()).toBe(0)
      expect(existsSync(join(storage, 'agent.lock'))).toBe(false)
    } finally {
      agent.child.kill('SIGKILL')
    }
  }, 120_000)

  it('SIGTERM and SIGINT at once (a supervisor and a Ctrl-C) stop it cleanly, with no stack trace', async () => {
    // an output the role refuses keeps the agent retrying when the signals come
    const {config, storage} = await botConfig('two-signals', {svidPath: '/svc/not-allowed'})
    const agent = startAgent(config, join(tmp.path, 'two-signals-home'))
    try {
      await within(30, () => agent.log().includes('output renewal failed'), agent.log)
      agent.child.kill('SIGTERM')
      agent.child.kill('SIGINT')
      expect(await exitWithin(agent, 15), agent.log()).toBe(0)
      expect(agent.log()).not.toMatch(/\n\s+at /)
      expect(existsSync(join(storage, 'agent.lock'))).toBe(false)
    } finally {
      agent.child.kill('SIGKILL')
    }
  }, 60_000)
})

describe('wid bot start leaves nothing behind when it cannot start', () => {
  it('a --diag-addr that is in use: one line, and the storage lock is released', async () => {
    const {config, storage} = await botConfig('diag-in-use')
    const taken = createServer()
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    try {
      const address = `127.0.0.1:${(taken.address() as {port: number}).port}`
      const result = await widIn(join(tmp.path, 'diag-home'))(['bot', 'start', '-c', config, '--diag-addr', address])
      expect(expectOneLineError(result)).toContain(`cannot listen on --diag-addr ${address}: the address is in use`)
      expect(existsSync(join(storage, 'agent.lock'))).toBe(false)
    } finally {
      taken.close()
    }
  }, 60_000)
})

describe('wid bot start with a token file others could use', () => {
  const bot = widIn(join(tmp.path, 'token-file-home'))
  const tokenFile = async (path: string, mode: number) => {
    writeFileSync(path, `${await newToken()}\n`, {mode})
    chmodSync(path, mode)
    return path
  }

  it('refuses to join with one another user could read, and joins once it is 0600 (then it no longer matters)', async () => {
    const path = await tokenFile(join(tmp.path, 'loose-token'), 0o644)
    const {config, storage} = await botConfig('loose-token', {token: path})
    const refused = await bot(['bot', 'start', '-c', config, '--oneshot'])
    expect(expectOneLineError(refused)).toBe(`bot: token file ${path} is readable or writable by group or others (mode 0644), so another user could join with it first; chmod 600 ${path}`)
    expect(existsSync(join(storage, 'identity.json'))).toBe(false)
    chmodSync(path, 0o600)
    expect((await bot(['bot', 'start', '-c', config, '--oneshot'])).code).toBe(0)
    // joined: the spent token's file is not looked at again
    chmodSync(path, 0o644)
    expect((await bot(['bot', 'start', '-c', config, '--oneshot'])).code).toBe(0)
  }, 60_000)

  it.runIf(process.getuid?.() === 0)('refuses one another user owns, who could write another bot\'s token into it', async () => {
    const path = await tokenFile(join(tmp.path, 'foreign-token'), 0o600)
    chownSync(path, 65534, 65534)
    const {config} = await botConfig('foreign-token', {token: path})
    expect(expectOneLineError(await bot(['bot', 'start', '-c', config, '--oneshot']))).toContain(`token file ${path} is owned by another user (uid 65534)`)
  }, 60_000)

  it('refuses one in a directory others can write, where it could be swapped', async () => {
    const shared = join(tmp.path, 'shared')
    mkdirSync(shared)
    chmodSync(shared, 0o777)
    const path = await tokenFile(join(shared, 'bot-token'), 0o600)
    const {config} = await botConfig('shared-token', {token: path})
    expect(expectOneLineError(await bot(['bot', 'start', '-c', config, '--oneshot']))).toContain(`bot: token file: ${shared}, a parent of ${path}, is writable by others (mode 0777)`)
  }, 60_000)
})

describe('wid bot start with an onboarding.ca_path others could change', () => {
  const bot = widIn(join(tmp.path, 'ca-path-home'))
  const caFile = (dir: string) => {
    mkdirSync(dir, {recursive: true})
    const path = join(dir, 'host-ca.pem')
    writeFileSync(path, authority, {mode: 0o644})
    return path
  }
  const withCaPath = async (name: string, path: string) => {
    const {config} = await botConfig(name)
    writeFileSync(config, readFileSync(config, 'utf8').replace(`  ca_pins: [${pin}]\n`, `  ca_path: ${path}\n`))
    return config
  }

  let authority: string
  beforeAll(async () => {
    // the cluster's host CA, as an agent that joined with the pin keeps it
    const {config, storage} = await botConfig('ca-source')
    expect((await bot(['bot', 'start', '-c', config, '--oneshot'])).code).toBe(0)
    authority = readFileSync(join(storage, 'host_ca.pem'), 'utf8')
  }, 60_000)

  it('joins with one that is private, and refuses one in a directory others can write or that others can write', async () => {
    const good = caFile(join(tmp.path, 'ca-good'))
    expect((await bot(['bot', 'start', '-c', await withCaPath('ca-good', good), '--oneshot'])).code).toBe(0)

    const shared = join(tmp.path, 'ca-shared')
    const swappable = caFile(shared)
    chmodSync(shared, 0o777)
    expect(expectOneLineError(await bot(['bot', 'start', '-c', await withCaPath('ca-shared', swappable), '--oneshot']))).toContain(`bot: CA file: ${shared}, a parent of ${swappable}, is writable by others (mode 0777)`)

    const loose = caFile(join(tmp.path, 'ca-loose'))
    chmodSync(loose, 0o666)
    expect(expectOneLineError(await bot(['bot', 'start', '-c', await withCaPath('ca-loose', loose), '--oneshot']))).toBe(
      `bot: CA file ${loose} is writable by group or others (mode 0666), so another user could make the agent trust their server; chmod go-w ${loose}`,
    )
  }, 60_000)
})

describe('wid bot start after its instance was removed on the cluster', () => {
  const bot = widIn(join(tmp.path, 'removed-home'))
  const instanceOf = (storage: string) => (JSON.parse(readFileSync(join(storage, 'identity.json'), 'utf8')) as {instanceId: string}).instanceId

  it('joins again with the new token it is given, as the refusal says to', async () => {
    const path = join(tmp.path, 'removed-token')
    writeFileSync(path, `${await newToken()}\n`, {mode: 0o600})
    const {config, storage} = await botConfig('removed', {token: path})
    expect((await bot(['bot', 'start', '-c', config, '--oneshot'])).code).toBe(0)
    const first = instanceOf(storage)
    expect((await admin(['bots', 'instances', 'rm', `my-bot/${first}`])).code).toBe(0)

    // with the spent token still in place: the refusal of the renewal, and no join with that token
    // (an agent restarted in a loop would fill the address's failed-join budget, shared with logins)
    const joins = () => count(cluster.server.log(), '"path":"/v1/joinBot"')
    const joined = joins()
    const refused = expectOneLineError(await bot(['bot', 'start', '-c', config, '--oneshot']))
    expect(refused).toBe(`auth: bot instance ${first} of bot "my-bot" was removed; join again (with a new token; a bot that joins by a delegated method proves a fresh ID token)`)
    expect(joins()).toBe(joined)

    // with a new token: a new instance, and the outputs written
    writeFileSync(path, `${await newToken()}\n`, {mode: 0o600})
    const rejoined = await bot(['bot', 'start', '-c', config, '--oneshot'])
    expect(rejoined.code, rejoined.stderr).toBe(0)
    expect(instanceOf(storage)).not.toBe(first)
  }, 90_000)
})

describe('wid bot start with an expired identity', () => {
  it('does not try the spent token it joined with again, and says a new one is needed', async () => {
    const path = join(tmp.path, 'expired-token')
    writeFileSync(path, `${await newToken()}\n`, {mode: 0o600})
    const {config, storage} = await botConfig('expired', {token: path, ttl: '2s', renewal: '1s'})
    const bot = widIn(join(tmp.path, 'expired-home'))
    expect((await bot(['bot', 'start', '-c', config, '--oneshot'])).code).toBe(0)
    await new Promise((resolve) => setTimeout(resolve, 2500))
    const joins = () => count(cluster.server.log(), '"path":"/v1/joinBot"')
    const joined = joins()
    const refused = expectOneLineError(await bot(['bot', 'start', '-c', config, '--oneshot']))
    expect(refused).toBe(`bot: the identity in ${storage} has expired and onboarding.token holds no new token to join again (the one it joined with is spent); add a new token (wid bots add or wid tokens add)`)
    expect(joins()).toBe(joined)
  }, 60_000)
})

describe('wid bot start after a renewal it could not keep', () => {
  it('asks for it again, for the same key, and goes on instead of being taken for a copy and locked', async () => {
    const {config, storage} = await botConfig('lost-answer')
    const agent = startAgent(config, join(tmp.path, 'lost-home'))
    const generation = () => (JSON.parse(readFileSync(join(storage, 'identity.json'), 'utf8')) as {generation: number}).generation
    const renewals = () => count(cluster.server.log(), '"path":"/v1/renewBot","status":200')
    try {
      await within(30, () => agent.log().includes('output renewed'), agent.log)
      const before = generation()
      const renewed = renewals()
      // When the cluster renews the identity but the agent cannot keep the answer (as with a full disk)
      const blocker = join(storage, 'identity_key.pem')
      rmSync(blocker)
      mkdirSync(blocker)
      agent.child.kill('SIGUSR1')
      await within(20, () => renewals() > renewed && agent.log().includes('bot identity renewal failed'), agent.log)
      rmSync(blocker, {recursive: true})
      // Then a retry gets that generation again, and the instance is not locked
      await within(30, () => agent.log().includes('bot identity renewed'), agent.log)
      expect(generation()).toBe(before + 1)
      expect(agent.log()).not.toContain('locked')
      expect((await admin(['audit', 'ls', '--json'])).stdout).toMatch(/"repeated": ?true/)
    } finally {
      agent.child.kill('SIGKILL')
    }
  }, 90_000)
})
