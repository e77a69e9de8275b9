/** A cluster for the bot agent's tests: `wid init`, resources, a bot, and `wid server start` on a free loopback port. */
import {join} from 'node:path'
import {expect} from 'vitest'
import {widIn} from './cli.js'
import {freePort, startWidServer, type WidServer} from './server.js'

export interface BotCluster {
  serverHome: string
  admin: ReturnType<typeof widIn>
  port: number
  /** The host CA pin the agent's onboarding.ca_pins names. */
  pin: string
  server: WidServer
  /** A new one-time join token of the bot. */
  newToken(): Promise<string>
  /** The head of an agent's bot.yaml: this server, a new join token, its pin, and `storage` as the agent's storage directory. */
  agentYaml(storage: string): Promise<string>
  /** Starts the server again on the same port (after a test stopped it). */
  restart(): Promise<void>
  stop(): Promise<void>
}

export async function startBotCluster(dir: string, options: {documents: string[]; bot: string; roles: string[]}): Promise<BotCluster> {
  const serverHome = join(dir, 'server')
  const admin = widIn(serverHome)
  expect((await admin(['init', '--cluster-name', 'example.org'])).code).toBe(0)
  const port = await freePort()
  // The server starts while the admin, in local mode beside it (as an operator may), adds the
  // documents (one stream, one run of wid) and the bot: none of it waits for another.
  const [server, status] = await Promise.all([
    startWidServer(serverHome, port),
    admin(['status', '--json']),
    (async () => {
      const created = await admin(['create', '-f', '-'], {input: options.documents.map((doc) => (doc.endsWith('\n') ? doc : `${doc}\n`)).join('---\n')})
      expect(created.code, created.stderr).toBe(0)
      expect((await admin(['bots', 'add', options.bot, '--roles', options.roles.join(',')])).code).toBe(0)
    })(),
  ])
  const pin = (JSON.parse(status.stdout) as {hostCaPins: string[]}).hostCaPins[0]!
  const cluster: BotCluster = {
    serverHome,
    admin,
    port,
    pin,
    server,
    newToken: async () => {
      const result = await admin(['tokens', 'add', '--bot-name', options.bot])
      expect(result.code).toBe(0)
      return result.stdout.trim()
    },
    agentYaml: async (storage) =>
      `version: v2\nproxy_server: 127.0.0.1:${port}\nonboarding:\n  join_method: token\n  token: ${await cluster.newToken()}\n  ca_pins: [${pin}]\nstorage:\n  type: directory\n  path: ${storage}\n`,
    restart: async () => {
      cluster.server = await startWidServer(serverHome, port)
    },
    stop: async () => {
      await cluster.server.stop()
    },
  }
  return cluster
}
