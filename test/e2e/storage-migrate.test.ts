/**
 * Growing up (issue 14 item 6): `wid storage migrate -c wid.yaml` copies an embedded cluster
 * into an empty PostgreSQL database, and the server started on it serves the same trust
 * domain: SVIDs issued before still verify, new ones chain to the same CA, the JWT keys are
 * the same, a user logged in before keeps working, and invites, bots, tokens and the audit
 * log came along. A throwaway PostgreSQL.
 */
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {ISSUER_ROLE, WORKLOAD_IDENTITY} from '../helpers/design-documents.js'
import {expectOneLineError, tempDir, widIn} from '../helpers/cli.js'
import {openssl} from '../helpers/openssl.js'
import {closedPort, startPostgres, storageConfig, type TestPostgres} from '../helpers/postgres.js'
import {freePort, getPublic, inviteFile, startWidServer, type WidServer} from '../helpers/server.js'

const PASSWORD = 'correct horse battery staple'

/** A public document's body, as a relying party fetches it. */
const fetchPublic = async (port: number, path: string) => (await getPublic(port, path)).body

describe('wid storage migrate: an embedded cluster into PostgreSQL', () => {
  const tmp = tempDir()
  const home = join(tmp.path, 'home')
  const wid = widIn(home)
  let pg: TestPostgres
  let config: string
  let server: WidServer | undefined

  beforeAll(async () => {
    pg = await startPostgres()
    config = join(tmp.path, 'wid.yaml')
    storageConfig(config, await pg.createDatabase())
  }, 60_000)
  afterAll(async () => {
    await server?.stop()
    await pg?.destroy()
    tmp.cleanup()
  })

  it('copies the cluster; the server on the database serves the same trust domain to the same logins, users and audit', async () => {
    // Given an embedded cluster with a workload identity, two users invited to issue from it, a bot, and an SVID issued
    const port = await freePort()
    expect((await wid(['init', '--cluster-name', 'example.org', '--public-addr', `https://127.0.0.1:${port}`])).code).toBe(0)
    expect((await wid(['create', '-f', '-'], {input: `${WORKLOAD_IDENTITY}---\n${ISSUER_ROLE}`})).code).toBe(0)
    const invites = {alice: '', bob: ''}
    for (const name of ['alice', 'bob'] as const) {
      const invite = await wid(['users', 'add', name, '--roles', 'example-workload-identity-issuer'])
      expect(invite.code, invite.stderr).toBe(0)
      invites[name] = inviteFile(tmp.path, invite.stdout.trim())
    }
    expect((await wid(['bots', 'add', 'my-bot', '--roles', 'access'])).code).toBe(0)
    const oldSvid = join(tmp.path, 'old-svid')
    expect((await wid(['svid', 'issue', '--output', oldSvid, '/svc/example-service'])).code).toBe(0)
    // And alice logged in to the single server that served it
    const pin = (JSON.parse((await wid(['status', '--json'])).stdout) as {hostCaPins: string[]}).hostCaPins[0]!
    const login = (user: 'alice' | 'bob') =>
      widIn(join(tmp.path, user))(['login', '--proxy', `127.0.0.1:${port}`, '--user', user, '--ca-pin', pin, '--password-stdin', '--invite-file', invites[user]], {input: `${PASSWORD}\n`})
    server = await startWidServer(home, port)
    const aliceLogin = await login('alice')
    expect(aliceLogin.code, aliceLogin.stderr).toBe(0)
    await server.stop()
    server = undefined
    // What relying parties had of it
    const oldCa = join(tmp.path, 'old-ca.pem')
    writeFileSync(oldCa, (await wid(['auth', 'export', '--type', 'tls-spiffe'])).stdout)
    const oldJwks = JSON.parse((await wid(['auth', 'export', '--type', 'jwks'])).stdout) as unknown
    const oldBundle = JSON.parse((await wid(['auth', 'export', '--type', 'spiffe-bundle'])).stdout) as {keys: unknown[]; spiffe_sequence: number}
    const oldAudit = JSON.parse((await wid(['audit', 'ls', '--json'])).stdout) as unknown[]
    const oldTokens = JSON.parse((await wid(['tokens', 'ls', '--json'])).stdout) as unknown[]
    expect(oldTokens).toHaveLength(1)

    // When it is copied into the empty database that wid.yaml names
    const migrated = await wid(['storage', 'migrate', '-c', config])
    // Then it says what it copied, where to, and what to do next, never the password
    expect(migrated.code, migrated.stderr).toBe(0)
    expect(migrated.stderr).toMatch(new RegExp(`^✔ copied \\d+ items of cluster example\\.org from ${home} into postgresql://wid@127\\.0\\.0\\.1:\\d+/wid_test_\\d+\\n`))
    expect(migrated.stderr).toContain(`next: start the servers with wid server start -c ${config}`)
    expect(migrated.stderr).not.toContain(pg.password)

    // And a server started on the database, in a home of its own, serves the same trust domain
    server = await startWidServer(join(tmp.path, 'server-home'), port, ['-c', config])
    expect(server.log()).not.toContain('public address changed')
    const status = JSON.parse((await wid(['status', '-c', config, '--json'])).stdout) as {clusterName: string; hostCaPins: string[]}
    expect([status.clusterName, status.hostCaPins[0]]).toEqual(['example.org', pin])
    const newCa = join(tmp.path, 'new-ca.pem')
    writeFileSync(newCa, (await wid(['auth', 'export', '--type', 'tls-spiffe', '-c', config])).stdout)
    // The SVID issued before verifies against the bundle exported now (openssl as the peer)
    expect(openssl(['verify', '-CAfile', newCa, join(oldSvid, 'svid.pem')])).toContain(': OK')
    // The same JWT keys, and the same SPIFFE bundle under the same sequence number (never a lower one)
    expect(JSON.parse(await fetchPublic(port, '/.well-known/jwks-oidc'))).toEqual(oldJwks)
    const bundle = JSON.parse(await fetchPublic(port, '/webapi/spiffe/bundle.json')) as typeof oldBundle
    expect(bundle.keys).toEqual(oldBundle.keys)
    expect(bundle.spiffe_sequence).toBe(oldBundle.spiffe_sequence)

    // And alice, logged in before the move, issues through the new server without logging in again, under the same CA
    const aliceSvid = join(tmp.path, 'alice-svid')
    const issued = await widIn(join(tmp.path, 'alice'))(['svid', 'issue', '--name', 'example-workload-identity', '--output', aliceSvid])
    expect(issued.code, issued.stderr).toBe(0)
    expect(openssl(['verify', '-CAfile', oldCa, join(aliceSvid, 'svid.pem')])).toContain(': OK')
    // And bob redeems the invite made before the move
    const bobLogin = await login('bob')
    expect(bobLogin.code, bobLogin.stderr).toBe(0)

    // And the bot, its join token and the audit log came along: the events from before come first, then the new ones
    expect(JSON.parse((await wid(['bots', 'ls', '-c', config, '--json'])).stdout)).toEqual([{bot: 'my-bot', roles: ['access']}])
    expect(JSON.parse((await wid(['tokens', 'ls', '-c', config, '--json'])).stdout)).toEqual(oldTokens)
    const audit = JSON.parse((await wid(['audit', 'ls', '-c', config, '--json'])).stdout) as {type: string; actor: string}[]
    expect(audit.slice(0, oldAudit.length)).toEqual(oldAudit)
    expect(audit.slice(oldAudit.length)).toContainEqual(expect.objectContaining({type: 'svid.issued', actor: 'user:alice'}))

    // And a second copy into the database, which now holds the cluster, is refused
    const again = await wid(['storage', 'migrate', '-c', config])
    expect(again.code).toBe(4)
    expect(expectOneLineError(again)).toMatch(/^storage migrate: postgresql:\/\/wid@127\.0\.0\.1:\d+\/wid_test_\d+ is not empty \(it holds \d+ items\); copy into a new, empty database$/)
  }, 120_000)

  it('refuses, in one line each: no cluster to copy, a SQLite target, an unreachable database, an unreadable configuration', async () => {
    const empty = join(tmp.path, 'empty')
    mkdirSync(empty)
    const noCluster = await wid(['storage', 'migrate', '-c', config, '--from', empty])
    expect([noCluster.code, expectOneLineError(noCluster)]).toEqual([3, `storage migrate: no cluster in ${empty} to copy (--from names the data directory of the embedded cluster)`])

    const sqlite = join(tmp.path, 'sqlite.yaml')
    writeFileSync(sqlite, `data_dir: ${join(tmp.path, 'data')}\n`)
    const toSqlite = await wid(['storage', 'migrate', '-c', sqlite])
    expect([toSqlite.code, expectOneLineError(toSqlite)]).toEqual([2, `storage migrate: ${sqlite} names SQLite storage; the copy goes into PostgreSQL (storage: {type: postgresql, conn_string: …})`])

    const source = join(tmp.path, 'source')
    expect((await widIn(source)(['init', '--cluster-name', 'example.org'])).code).toBe(0)
    const closed = join(tmp.path, 'closed.yaml')
    writeFileSync(closed, `storage:\n  type: postgresql\n  conn_string: postgresql://wid:secret-pw@127.0.0.1:${await closedPort()}/wid\n`)
    const unreachable = await wid(['storage', 'migrate', '-c', closed, '--from', source])
    expect(unreachable.code).toBe(10)
    expect(expectOneLineError(unreachable)).toMatch(/^backend: PostgreSQL at 127\.0\.0\.1:\d+ is unavailable \(connection refused\); try again$/)

    const missing = join(tmp.path, 'missing.yaml')
    const unreadable = await wid(['storage', 'migrate', '-c', missing])
    expect([unreadable.code, expectOneLineError(unreadable)]).toEqual([3, `server: cannot read ${missing}: no such file`])
    const noConfig = await wid(['storage', 'migrate'])
    expect([noConfig.code, expectOneLineError(noConfig)]).toEqual([2, 'missing required flag --config'])
  })
})
