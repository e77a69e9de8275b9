/**
 * Several `wid server` processes on one PostgreSQL database (issue 14): the cluster is created
 * once however many start together, admin commands act on the database with -c wid.yaml, and
 * what one server or command writes every server serves. A throwaway PostgreSQL per file.
 */
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {WORKLOAD_IDENTITY, ISSUER_ROLE} from '../helpers/design-documents.js'
import {expectOneLineError, tempDir, widIn} from '../helpers/cli.js'
import {startPostgres, storageConfig, type TestPostgres} from '../helpers/postgres.js'
import {freePort, getPublic, inviteFile, startServersOnStore, type WidServer} from '../helpers/server.js'

const PASSWORD = 'correct horse battery staple'

/** A public document's body, as a relying party fetches it. */
const fetchPublic = async (port: number, path: string) => (await getPublic(port, path)).body

describe('two servers on one PostgreSQL database', () => {
  const tmp = tempDir()
  const admin = widIn(join(tmp.path, 'admin-home'))
  let pg: TestPostgres
  let config: string
  let servers: WidServer[] = []

  beforeAll(async () => {
    pg = await startPostgres()
    const url = await pg.createDatabase()
    config = join(tmp.path, 'wid.yaml')
    storageConfig(config, url)
  }, 60_000)
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()))
    await pg?.destroy()
    tmp.cleanup()
  })

  it('started together on an empty database, create one cluster, and serve what either server or -c writes', async () => {
    // Given two servers behind one public address, started at the same moment on an empty database
    servers = await startServersOnStore(tmp.path, config)
    const ports = servers.map((s) => s.port)
    // Then they serve one cluster: the same JWT keys and the same X.509 CA
    const jwks = await Promise.all(ports.map((port) => fetchPublic(port, '/.well-known/jwks-oidc')))
    expect(JSON.parse(jwks[0]!).keys).toHaveLength(1)
    expect(jwks[1]).toBe(jwks[0])
    for (const server of servers) {
      expect(server.log()).toMatch(/data in postgresql:\/\/wid@127\.0\.0\.1:\d+\/wid_test_\d+/)
      expect(server.log()).not.toContain(pg.password)
    }

    // And the admin on a server host acts on the database with -c, as tctl does on an auth server
    const status = await admin(['status', '-c', config, '--json'])
    expect(status.code, status.stderr).toBe(0)
    const cluster = JSON.parse(status.stdout) as {backend: {kind: string; location: string}; dataDir?: string; hostCaPins: string[]}
    expect(cluster.backend.kind).toBe('postgresql')
    expect(cluster.dataDir).toBeUndefined()
    expect(status.stdout).not.toContain(pg.password)
    expect((await admin(['create', '-c', config, '-f', '-'], {input: `${WORKLOAD_IDENTITY}---\n${ISSUER_ROLE}`})).code).toBe(0)
    const invite = await admin(['users', 'add', 'alice', '--roles', 'example-workload-identity-issuer', '-c', config])
    expect(invite.code, invite.stderr).toBe(0)

    // When alice logs in through the second server and issues there
    const alice = widIn(join(tmp.path, 'alice'))
    const login = await alice(['login', '--proxy', `127.0.0.1:${ports[1]}`, '--user', 'alice', '--ca-pin', cluster.hostCaPins[0]!, '--password-stdin', '--invite-file', inviteFile(tmp.path, invite.stdout.trim())], {input: `${PASSWORD}\n`})
    expect(login.code, login.stderr).toBe(0)
    const issued = await alice(['svid', 'issue', '--name', 'example-workload-identity', '--output', join(tmp.path, 'svid')])
    expect(issued.code, issued.stderr).toBe(0)
    // Then the issuance is in the audit log that -c reads
    const audit = await admin(['audit', 'ls', '-c', config, '--json'])
    expect(audit.code, audit.stderr).toBe(0)
    expect(JSON.parse(audit.stdout)).toContainEqual(expect.objectContaining({type: 'svid.issued', actor: 'user:alice'}))

    // When the admin removes the identity through the database, the server that has it cached learns of it from its change feed
    expect((await admin(['rm', 'workload_identity/example-workload-identity', '-c', config])).code).toBe(0)
    const refused = await alice(['svid', 'issue', '--name', 'example-workload-identity', '--output', join(tmp.path, 'svid-2')])
    expect(refused.code).not.toBe(0)
    expect(expectOneLineError(refused)).toMatch(/example-workload-identity/)
  }, 120_000)

  it('refuses a postgresql storage without conn_string, and says one line when the database is unreachable', async () => {
    const missing = join(tmp.path, 'missing.yaml')
    writeFileSync(missing, 'storage:\n  type: postgresql\n')
    const refused = await admin(['status', '-c', missing])
    expect([refused.code, expectOneLineError(refused)]).toEqual([2, `${missing}:2:3: storage.conn_string: needed with type postgresql (e.g. postgresql://wid@db.example.com:5432/wid)`])
    const closed = join(tmp.path, 'closed.yaml')
    writeFileSync(closed, `storage:\n  type: postgresql\n  conn_string: postgresql://wid:secret-pw@127.0.0.1:${await freePort()}/wid\n`)
    const unreachable = await admin(['status', '-c', closed])
    const line = expectOneLineError(unreachable)
    expect(line).toMatch(/127\.0\.0\.1:\d+/)
    expect(line).not.toContain('secret-pw')
  })
})
