/**
 * A host CA rotation with two `wid server` processes on one PostgreSQL database: each learns
 * of every step from the change feed and presents a certificate of the host CA key that
 * signs, and a user logged in to both follows the rotation.
 */
import {createHash, X509Certificate} from 'node:crypto'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {tempDir, widIn} from '../helpers/cli.js'
import {startPostgres, storageConfig, type TestPostgres} from '../helpers/postgres.js'
import {eventually, getPublic, inviteFile, startServersOnStore, type WidServer} from '../helpers/server.js'

const PASSWORD = 'correct horse battery staple'
const pinOf = (pem: string) => `sha256:${createHash('sha256').update(new X509Certificate(pem).publicKey.export({type: 'spki', format: 'der'})).digest('hex')}`


describe('a host CA rotation with two servers on one PostgreSQL database', () => {
  const tmp = tempDir()
  const admin = widIn(join(tmp.path, 'admin-home'))
  let pg: TestPostgres
  let config: string
  let servers: WidServer[] = []

  beforeAll(async () => {
    pg = await startPostgres()
    config = join(tmp.path, 'wid.yaml')
    storageConfig(config, await pg.createDatabase())
  }, 60_000)
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()))
    await pg?.destroy()
    tmp.cleanup()
  })

  it('is followed by both servers and by a user logged in to both', async () => {
    servers = await startServersOnStore(tmp.path, config)
    const ports = servers.map((s) => s.port)
    const hostPins = async () => (JSON.parse((await admin(['status', '-c', config, '--json'])).stdout) as {hostCaPins: string[]}).hostCaPins
    const [old] = await hostPins()
    const invite = (await admin(['users', 'add', 'alice', '--roles', 'access', '-c', config])).stdout.trim()
    const userHome = join(tmp.path, 'alice')
    const alice = widIn(userHome)
    const proxies = ports.map((port) => `127.0.0.1:${port}`).join(',')
    const login = await alice(['login', '--proxy', proxies, '--user', 'alice', '--ca-pin', old!, '--password-stdin', '--invite-file', inviteFile(tmp.path, invite)], {input: `${PASSWORD}\n`})
    expect(login.code, login.stderr).toBe(0)
    const trusted = () => (readFileSync(join(userHome, 'profiles', `127.0.0.1_${ports[0]}`, 'host-ca.pem'), 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map(pinOf)
    const follows = (pins: string[]) => eventually(15, async () => (await alice(['status'])).code === 0 && trusted().join(',') === pins.join(','), () => `alice trusts ${pins.join(',')}`)
    const presented = (port: number) => getPublic(port, '/webapi/find').then((answer) => (JSON.parse(answer.body) as {loginPin: string}).loginPin)
    const rotate = async (phase: string) => expect((await admin(['auth', 'rotate', '--type', 'host', '--manual', '--phase', phase, '-c', config])).code).toBe(0)

    await rotate('init')
    const fresh = (await hostPins())[1]!
    await follows([old!, fresh])
    await rotate('update_clients')
    await rotate('update_servers')
    for (const port of ports) await eventually(10, async () => (await presented(port)) === fresh, () => `the server on ${port} presents the new host CA`)
    await follows([fresh, old!])
    await rotate('standby')
    await follows([fresh])
  }, 120_000)
})
