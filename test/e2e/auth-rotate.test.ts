/**
 * `wid auth rotate` (issue 15) end to end: while SVIDs are issued continuously through two
 * servers on one PostgreSQL database, each X.509-SVID verified by openssl against the CAs
 * exported at that moment (through the other server) and each JWT-SVID by a JOSE verifier
 * against the JWKS that server publishes at that moment, a full rotation of the SPIFFE and the
 * JWT keys, and a rollback, give no failure; after standby the old keys verify nothing. The
 * phases are moved by an admin on a server host (-c wid.yaml), as with tctl.
 */
import {execFile} from 'node:child_process'
import {generateKeyPairSync} from 'node:crypto'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {promisify} from 'node:util'
import {createLocalJWKSet, jwtVerify, type JSONWebKeySet} from 'jose'
import {Agent, request} from 'undici'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {expectOneLineError, tempDir, widIn} from '../helpers/cli.js'
import {ISSUER_ROLE, WORKLOAD_IDENTITY} from '../helpers/design-documents.js'
import {startPostgres, storageConfig, type TestPostgres} from '../helpers/postgres.js'
import {getPublic, inviteFile, loginProfile, startServersOnStore, within, type WidServer} from '../helpers/server.js'

const PASSWORD = 'correct horse battery staple'
const run = promisify(execFile)

interface Checked {
  kind: 'x509' | 'jwt'
  phase: string
  ok: boolean
  detail: string
}

describe('CA rotation while SVIDs are issued and verified continuously (two servers, PostgreSQL)', () => {
  const tmp = tempDir()
  const admin = widIn(join(tmp.path, 'admin-home'))
  let pg: TestPostgres
  let config: string
  let servers: WidServer[] = []
  let agents: Agent[] = []

  beforeAll(async () => {
    pg = await startPostgres()
    config = join(tmp.path, 'wid.yaml')
    storageConfig(config, await pg.createDatabase())
    servers = await startServersOnStore(tmp.path, config)
    const ports = servers.map((s) => s.port)
    expect((await admin(['create', '-c', config, '-f', '-'], {input: `${WORKLOAD_IDENTITY}---\n${ISSUER_ROLE}`})).code).toBe(0)
    const invite = await admin(['users', 'add', 'alice', '--roles', 'example-workload-identity-issuer', '-c', config])
    const pin = (JSON.parse((await admin(['status', '-c', config, '--json'])).stdout) as {hostCaPins: string[]}).hostCaPins[0]!
    const aliceHome = join(tmp.path, 'alice')
    const login = await widIn(aliceHome)(['login', '--proxy', `127.0.0.1:${ports[0]}`, '--user', 'alice', '--ca-pin', pin, '--password-stdin', '--invite-file', inviteFile(tmp.path, invite.stdout.trim())], {input: `${PASSWORD}\n`})
    expect(login.code, login.stderr).toBe(0)
    // alice's login, used as a client would use it, against either server
    const profile = loginProfile(aliceHome, ports[0]!)
    agents = servers.map(() => new Agent({connect: {ca: profile.ca, cert: profile.cert, key: profile.key, checkServerIdentity: () => undefined}}))
  }, 90_000)
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.close()))
    await Promise.all(servers.map((s) => s.stop()))
    await pg?.destroy()
    tmp.cleanup()
  })

  async function call<T>(server: number, method: string, body: object): Promise<T> {
    const response = await request(`${servers[server]!.url}/v1/${method}`, {method: 'POST', dispatcher: agents[server], body: JSON.stringify(body), headers: {'content-type': 'application/json'}})
    const answer = (await response.body.json()) as {result: T; error?: {message: string}}
    if (answer.error) throw new Error(`${method}: ${answer.error.message}`)
    return answer.result
  }

  const publicKey = () => generateKeyPairSync('ec', {namedCurve: 'P-256'}).publicKey.export({type: 'spki', format: 'pem'}) as string
  const files = tempDir('wid-rotation-')
  let sequence = 0

  /** openssl verify of a leaf (PEM) against CA certificates (PEM): its answer, or why not. */
  async function opensslVerify(leaf: string, cas: string): Promise<{ok: boolean; detail: string}> {
    const n = sequence++
    const leafFile = join(files.path, `leaf-${n}.pem`)
    const caFile = join(files.path, `ca-${n}.pem`)
    writeFileSync(leafFile, leaf)
    writeFileSync(caFile, cas)
    try {
      const {stdout} = await run('openssl', ['verify', '-CAfile', caFile, leafFile])
      return {ok: stdout.trim().endsWith(': OK'), detail: stdout.trim()}
    } catch (error) {
      return {ok: false, detail: String((error as {stderr?: string}).stderr ?? error).trim().split('\n')[0]!}
    }
  }

  async function jwtVerifies(token: string, jwks: string): Promise<{ok: boolean; detail: string}> {
    try {
      await jwtVerify(token, createLocalJWKSet(JSON.parse(jwks) as JSONWebKeySet), {audience: 'rotation-test'})
      return {ok: true, detail: 'ok'}
    } catch (error) {
      return {ok: false, detail: (error as Error).message}
    }
  }

  /** One issuance of each kind through one server, each verified against what the other publishes now. */
  async function issueAndVerify(round: number, phase: string): Promise<Checked[]> {
    const [issuer, other] = round % 2 === 0 ? [0, 1] : [1, 0]
    const x509 = await call<{certificates: string[]}>(issuer, 'issueX509Svid', {name: 'example-workload-identity', publicKey: publicKey(), ttlSeconds: 600})
    const cas = await call<string>(other, 'exportTrust', {type: 'tls-spiffe'})
    const jwt = await call<{token: string}>(issuer, 'issueJwtSvid', {name: 'example-workload-identity', audiences: ['rotation-test'], ttlSeconds: 300})
    const jwks = (await getPublic(servers[other]!.port, '/workload-identity/jwt-jwks.json')).body
    return [
      {kind: 'x509', phase, ...(await opensslVerify(x509.certificates[0]!, cas))},
      {kind: 'jwt', phase, ...(await jwtVerifies(jwt.token, jwks))},
    ]
  }

  it('a full rotation of the SPIFFE and JWT keys, and a rollback, fail no verification; afterwards the old keys verify nothing', async () => {
    const checked: Checked[] = []
    let phase = 'before'
    let stop = false
    let steps = 0
    const before = {
      x509: (await call<{certificates: string[]}>(0, 'issueX509Svid', {name: 'example-workload-identity', publicKey: publicKey(), ttlSeconds: 3600})).certificates[0]!,
      jwt: (await call<{token: string}>(0, 'issueJwtSvid', {name: 'example-workload-identity', audiences: ['rotation-test'], ttlSeconds: 3600})).token,
    }
    // Issuing and verifying all along, alternating between the servers
    const issuing = (async () => {
      for (let round = 0; !stop; round++) checked.push(...(await issueAndVerify(round, phase)))
    })()
    const rounds = () => checked.length / 2
    /** Moves a phase with the admin's CLI, then lets at least three rounds run in it (and a second, for the servers' documents). */
    const step = async (type: string, next: string) => {
      const result = await admin(['auth', 'rotate', '-c', config, '--type', type, '--manual', '--phase', next, ...(next === 'update_clients' || next === 'standby' ? ['--force'] : [])])
      expect(result.code, result.stderr).toBe(0)
      phase = `${++steps} ${type}:${next}`
      const from = rounds()
      const since = Date.now()
      await within(30, () => rounds() >= from + 3 && Date.now() - since >= 1000, () => `rounds in ${phase}: ${rounds() - from}`)
    }
    try {
      for (const type of ['spiffe', 'jwt']) {
        for (const next of ['init', 'update_clients', 'update_servers', 'standby']) await step(type, next)
      }
      for (const next of ['init', 'update_clients', 'rollback', 'standby']) await step('spiffe', next)
    } finally {
      stop = true
      await issuing
    }
    // Then every SVID verified, in every phase
    expect(checked.filter((c) => !c.ok)).toEqual([])
    expect(new Set(checked.map((c) => c.phase)).size).toBe(13)
    expect(checked.filter((c) => c.phase === 'before')).not.toEqual([])
    // And the keys from before the rotation verify nothing any more, on either server
    const cas = await call<string>(1, 'exportTrust', {type: 'tls-spiffe'})
    expect((await opensslVerify(before.x509, cas)).ok).toBe(false)
    const jwks = (await getPublic(servers[1]!.port, '/workload-identity/jwt-jwks.json')).body
    expect(await jwtVerifies(before.jwt, jwks)).toMatchObject({ok: false, detail: expect.stringMatching(/no applicable key found/i)})
    // The rolled-back rotation left the CA that the first rotation brought
    const status = JSON.parse((await admin(['status', '-c', config, '--json'])).stdout) as {rotations: {type: string; phase: string; trusted: string[]}[]; caPins: string[]}
    expect(status.rotations.every((r) => r.phase === 'standby' && r.trusted.length === 1)).toBe(true)
    expect((await admin(['audit', 'ls', '-c', config, '--type', 'ca.rotation', '--json'])).stdout.match(/"ca\.rotation"/g)).toHaveLength(12)
  }, 180_000)
})

describe('wid auth rotate: bad input', () => {
  const tmp = tempDir()
  const wid = widIn(tmp.path)
  afterAll(() => tmp.cleanup())

  it('refuses contradictory flags and steps out of order in one line each, and shows a rotation under way', async () => {
    expect((await wid(['init', '--cluster-name', 'example.org'])).code).toBe(0)
    const cases: [string[], RegExp][] = [
      [['--type', 'spiffe', '--phase', 'init'], /--manual/],
      [['--type', 'spiffe', '--manual'], /--phase/],
      [['--type', 'spiffe', '--grace-period', '5x'], /^invalid --grace-period "5x" \(expected a duration such as 8h, 90m or 1h30m\)$/],
      [['--type', 'rsa', '--manual', '--phase', 'init'], /^invalid --type "rsa": expected one of spiffe, jwt, host, client$/],
      [['--type', 'spiffe', '--manual', '--phase', 'update_clients'], /^auth rotate: no rotation of the spiffe CA is under way; start one with --manual --phase init/],
    ]
    for (const [args, message] of cases) {
      const result = await wid(['auth', 'rotate', ...args])
      expect(result.code, args.join(' ')).not.toBe(0)
      expect(expectOneLineError(result)).toMatch(message)
    }
    expect((await wid(['auth', 'rotate', '--type', 'jwt', '--grace-period', '9h'])).code).toBe(0)
    const second = await wid(['auth', 'rotate', '--type', 'jwt'])
    expect(second.code).toBe(2)
    expect(expectOneLineError(second)).toMatch(/a rotation of the jwt CA is already under way \(phase init\)/)
    const status = await wid(['status'])
    expect(status.stdout).toMatch(/^Rotation: +jwt CA in phase init \(semi-automatic, update_clients at \S+; signing \S+\)$/m)
    const events = await wid(['audit', 'ls', '--type', 'ca.rotation'])
    expect(events.stdout).toMatch(/ca\.rotation +admin:\S+ +jwt CA: standby → init \(semi-automatic, signing \S+\)/)
  })
})
