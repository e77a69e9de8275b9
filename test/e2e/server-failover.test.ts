/**
 * Failover between two `wid server` processes on one PostgreSQL database (issue 14): a login
 * and the bot agent given both addresses go on through the second when the first is down (or
 * when its store is), and one line names both when neither answers.
 */
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {ISSUER_ROLE, WORKLOAD_IDENTITY} from '../helpers/design-documents.js'
import {expectOneLineError, tempDir, widIn} from '../helpers/cli.js'
import {startPostgres, storageConfig, type TestPostgres} from '../helpers/postgres.js'
import {freePort, inviteFile, startServersOnStore, type WidServer} from '../helpers/server.js'

const PASSWORD = 'correct horse battery staple'

interface Status {
  login: {proxy: string; servers: string[]; answered: string}
}

describe('failover between two servers on one PostgreSQL database', () => {
  const tmp = tempDir()
  const admin = widIn(join(tmp.path, 'admin-home'))
  const alice = widIn(join(tmp.path, 'alice'))
  let pg: TestPostgres
  let config: string
  let pin: string
  let ports: number[]
  let addresses: string[]
  let servers: WidServer[] = []

  /** A one-time invite of a new user with the issuer role, as a file for --invite-file. */
  const invite = async (user: string): Promise<string> => {
    const added = await admin(['users', 'add', user, '--roles', 'example-workload-identity-issuer', '-c', config])
    expect(added.code, added.stderr).toBe(0)
    return inviteFile(tmp.path, added.stdout.trim())
  }
  const login = (home: string, user: string, proxy: string, file: string) =>
    widIn(join(tmp.path, home))(['login', '--proxy', proxy, '--user', user, '--ca-pin', pin, '--password-stdin', '--invite-file', file], {input: `${PASSWORD}\n`})
  const status = async (): Promise<Status> => {
    const result = await alice(['status', '--json'])
    expect(result.code, result.stderr).toBe(0)
    return JSON.parse(result.stdout) as Status
  }
  /** `wid bot start --oneshot` with proxy_server listing both servers, and a fresh token. */
  const botOnce = async (name: string) => {
    const token = await admin(['tokens', 'add', '--bot-name', 'my-bot', '-c', config])
    expect(token.code, token.stderr).toBe(0)
    const yaml = join(tmp.path, `${name}.yaml`)
    writeFileSync(
      yaml,
      `version: v2\nproxy_server: ${addresses.join(',')}\nonboarding:\n  join_method: token\n  token: ${token.stdout.trim()}\n  ca_pins: [${pin}]\nstorage:\n  type: directory\n  path: ${join(tmp.path, `${name}-storage`)}\nservices:\n  - type: workload-identity-x509\n    selector: {name: example-workload-identity}\n    destination: {type: directory, path: ${join(tmp.path, `${name}-out`)}}\n`,
      {mode: 0o600},
    )
    return widIn(join(tmp.path, 'bot-home'))(['bot', 'start', '-c', yaml, '--oneshot'])
  }

  beforeAll(async () => {
    pg = await startPostgres()
    config = join(tmp.path, 'wid.yaml')
    storageConfig(config, await pg.createDatabase())
    servers = await startServersOnStore(tmp.path, config)
    ports = servers.map((s) => s.port)
    addresses = ports.map((port) => `127.0.0.1:${port}`)
    pin = (JSON.parse((await admin(['status', '-c', config, '--json'])).stdout) as {hostCaPins: string[]}).hostCaPins[0]!
    expect((await admin(['create', '-c', config, '-f', '-'], {input: `${WORKLOAD_IDENTITY}---\n${ISSUER_ROLE}`})).code).toBe(0)
    expect((await admin(['bots', 'add', 'my-bot', '--roles', 'example-workload-identity-issuer', '-c', config])).code).toBe(0)
  }, 120_000)
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()))
    await pg?.destroy()
    tmp.cleanup()
  })

  it('logs in through the second address when the first does not listen, and keeps the profile under the first', async () => {
    const closed = `127.0.0.1:${await freePort()}`
    const result = await login('carol', 'carol', `${closed},${addresses[0]}`, await invite('carol'))
    expect(result.code, result.stderr).toBe(0)
    expect(result.stderr).toContain(`logged in to`)
    expect(result.stderr).toContain(`at ${addresses[0]} as carol`)
    const profile = join(tmp.path, 'carol', 'profiles', closed.replace(':', '_'))
    expect(JSON.parse(readFileSync(join(profile, 'profile.json'), 'utf8'))).toMatchObject({proxy: closed, proxies: [closed, addresses[0]]})
    expect(readFileSync(join(profile, 'last-server'), 'utf8')).toBe(`${addresses[0]}\n`)
    const shown = await widIn(join(tmp.path, 'carol'))(['status'])
    expect(shown.stdout).toContain(`remote (${addresses[0]})`)
    expect(shown.stdout).toMatch(new RegExp(`Servers: +${closed}, ${addresses[0]}\n`))
    // After a logout, the way back names every server
    expect((await widIn(join(tmp.path, 'carol'))(['logout'])).code).toBe(0)
    const out = await widIn(join(tmp.path, 'carol'))(['status'])
    expect(expectOneLineError(out)).toContain(`wid login --proxy ${closed},${addresses[0]} --user carol logs in again`)
  }, 60_000)

  it('moves on from servers whose store is down only once they refuse requests unread, and comes back with the store', async () => {
    expect((await login('alice', 'alice', addresses.join(','), await invite('alice'))).code).toBe(0)
    await pg.stop()
    try {
      // Until a server's change feed notices, its read cache may still answer. A request that
      // meets the failure itself may have written: it is answered with it, never sent on. Once
      // a server has found its store down (a request or its own reads, whichever comes first),
      // it refuses requests unread, and when both do the line names both.
      const lines: string[] = []
      while (lines.length < 30 && !lines.at(-1)?.startsWith('remote: cannot reach any server')) {
        const result = await alice(['status'])
        lines.push(result.code === 0 ? 'answered from the cache' : expectOneLineError(result))
      }
      for (const line of lines.slice(0, -1)) expect(line).toMatch(/^backend: PostgreSQL at 127\.0\.0\.1:\d+ is unavailable|^answered from the cache$/)
      expect(lines.at(-1)).toBe(`remote: cannot reach any server: ${addresses[0]} (its store is unavailable), ${addresses[1]} (its store is unavailable) (use --local for the embedded cluster)`)
    } finally {
      await pg.start()
    }
    let back = await alice(['status', '--json'])
    for (let i = 0; i < 50 && back.code !== 0; i++) back = await alice(['status', '--json'])
    expect(back.code, back.stderr).toBe(0)
  }, 120_000)

  it('goes on through the second server when the first stops: commands and the agent', async () => {
    expect((await status()).login).toMatchObject({servers: addresses})
    await servers[0]!.stop()
    const issued = await alice(['svid', 'issue', '--name', 'example-workload-identity', '--output', join(tmp.path, 'svid')])
    expect(issued.code, issued.stderr).toBe(0)
    expect((await status()).login).toEqual(expect.objectContaining({proxy: addresses[0], servers: addresses, answered: addresses[1]}))
    const bot = await botOnce('bot-a')
    expect(bot.code, bot.stderr).toBe(0)
    expect(existsSync(join(tmp.path, 'bot-a-out', 'svid.pem'))).toBe(true)
  }, 60_000)

  it('names both servers and why in one line when neither answers', async () => {
    await servers[1]!.stop()
    const down = await alice(['status'])
    expect([down.code, expectOneLineError(down)]).toEqual([10, `remote: cannot reach any server: ${addresses[1]} (connection refused), ${addresses[0]} (connection refused) (use --local for the embedded cluster)`])
    const bot = await botOnce('bot-b')
    expect(bot.code).not.toBe(0)
    expect(bot.stderr).toContain(`cannot reach any server: ${addresses[0]} (connection refused), ${addresses[1]} (connection refused)`)
  }, 60_000)
})
