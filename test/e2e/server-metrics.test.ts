/**
 * `wid server start --diag-addr`: /metrics in Prometheus text format on a plain-HTTP address
 * of its own, checked by Prometheus' own parser (promtool) and by the counts it must show
 * after SVIDs are issued and logins fail.
 */
import {generateKeyPairSync} from 'node:crypto'
import {writeFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {join} from 'node:path'
import {Agent, request} from 'undici'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {expectOneLineError, tempDir, widIn} from '../helpers/cli.js'
import {ISSUER_ROLE, WORKLOAD_IDENTITY} from '../helpers/design-documents.js'
import {promtoolProblems, sample} from '../helpers/prometheus.js'
import {freePort, getPublic, inviteFile, loginProfile, startWidServer, type WidServer} from '../helpers/server.js'

const PASSWORD = 'correct horse battery staple'
const publicKey = generateKeyPairSync('ec', {namedCurve: 'P-256'}).publicKey.export({type: 'spki', format: 'pem'}) as string

describe('wid server start --diag-addr', () => {
  const tmp = tempDir()
  const serverHome = join(tmp.path, 'server')
  const admin = widIn(serverHome)
  const aliceHome = join(tmp.path, 'alice')
  const alice = widIn(aliceHome)
  let server: WidServer
  let diag: string
  let pin: string

  const get = async (path: string) => {
    const response = await fetch(`http://${diag}${path}`)
    return {status: response.status, type: response.headers.get('content-type'), body: await response.text()}
  }

  beforeAll(async () => {
    expect((await admin(['init', '--cluster-name', 'example.org'])).code).toBe(0)
    diag = `127.0.0.1:${await freePort()}`
    server = await startWidServer(serverHome, undefined, ['--diag-addr', diag])
    expect((await admin(['create', '-f', '-'], {input: `${WORKLOAD_IDENTITY}---\n${ISSUER_ROLE}`})).code).toBe(0)
    const invite = (await admin(['users', 'add', 'alice', '--roles', 'example-workload-identity-issuer'])).stdout.trim()
    pin = JSON.parse((await admin(['status', '--json'])).stdout).hostCaPins[0]
    const loggedIn = await alice(['login', '--proxy', `127.0.0.1:${server.port}`, '--user', 'alice', '--invite-file', inviteFile(tmp.path, invite), '--ca-pin', pin, '--password-stdin'], {input: `${PASSWORD}\n`})
    expect(loggedIn.code, loggedIn.stderr).toBe(0)
  })
  afterAll(async () => {
    await server?.stop()
    tmp.cleanup()
  })

  it('serves /metrics that promtool accepts, with the counts of what the server did', async () => {
    // Given the server says where its diagnostics listen, and they answer
    expect(server.log()).toContain(`diagnostics on http://${diag}`)
    expect((await get('/healthz')).status).toBe(200)
    expect(await get('/readyz')).toMatchObject({status: 200, body: '{"status":"ready"}\n'})
    // When alice issues an X.509-SVID and a JWT-SVID
    for (const type of [[], ['--type', 'jwt', '--audience', 'sts.amazonaws.com']]) {
      const issued = await alice(['svid', 'issue', '--name', 'example-workload-identity', ...type, '--output', join(tmp.path, `svid-${type.length}`)])
      expect(issued.code, issued.stderr).toBe(0)
    }
    // And someone logs in as alice with a wrong password: once with wid, four more times by hand, then once more, over the limit of 5
    const wrong = await widIn(join(tmp.path, 'mallory'))(['login', '--proxy', `127.0.0.1:${server.port}`, '--user', 'alice', '--ca-pin', pin, '--password-stdin'], {input: 'not the password\n'})
    expectOneLineError(wrong)
    const agent = new Agent({connect: {ca: loginProfile(aliceHome, server.port).ca, checkServerIdentity: () => undefined}})
    const post = async (path: string, body: object) => (await request(`${server.url}${path}`, {method: 'POST', dispatcher: agent, headers: {'content-type': 'application/json'}, body: JSON.stringify(body)})).statusCode
    const statuses = []
    for (let i = 0; i < 5; i++) statuses.push(await post('/v1/login', {user: 'alice', password: 'still not it', publicKey}))
    expect(statuses).toEqual([403, 403, 403, 403, 403])
    // And a bot tries to join with a token that does not exist
    expect(await post('/v1/joinBot', {token: 'no-such-token-0123456789', publicKey})).toBe(403)
    await agent.close()
    // Then /metrics is Prometheus text that promtool finds nothing wrong with
    const metrics = await get('/metrics')
    expect(metrics.status).toBe(200)
    expect(metrics.type).toMatch(/^text\/plain; version=0\.0\.4/)
    expect(promtoolProblems(metrics.body)).toBe('')
    // And it counts what happened: the SVIDs by type, the logins by result, the join, the requests by route and code
    const value = (name: string, labels: Record<string, string> = {}) => sample(metrics.body, name, labels)
    expect(value('wid_server_svids_issued_total', {type: 'x509'})).toBe(1)
    expect(value('wid_server_svids_issued_total', {type: 'jwt'})).toBe(1)
    expect(value('wid_server_logins_total', {result: 'ok'})).toBe(1)
    expect(value('wid_server_logins_total', {result: 'failed'})).toBe(5)
    expect(value('wid_server_logins_total', {result: 'locked'})).toBe(1)
    expect(value('wid_server_bot_joins_total', {result: 'failed'})).toBe(1)
    expect(value('wid_server_requests_total', {route: '/v1/login', code: '200'})).toBe(1)
    expect(value('wid_server_requests_total', {route: '/v1/login', code: '403'})).toBe(6)
    expect(value('wid_server_requests_total', {route: '/v1/issueJwtSvid', code: '200'})).toBe(1)
    expect(value('wid_server_request_duration_seconds_count', {route: '/v1/login'})).toBe(7)
    // And the store's and the process' figures are there
    expect(value('wid_server_read_cache_hits_total')).toBeGreaterThan(0)
    expect(value('wid_server_store_write_seconds_count')).toBeGreaterThan(0)
    expect(value('wid_server_trust_watches_waiting')).toBe(0)
    expect(value('process_open_fds')).toBeGreaterThan(0)
    expect(value('nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0)
  })

  it('is not served on the public HTTPS listener', async () => {
    const answer = await getPublic(server.port, '/metrics')
    expect(answer.status).toBe(404)
    expect(answer.body).not.toContain('wid_server_')
  })

  it('refuses a --diag-addr or diag_addr that is not HOST:PORT, and one in use, in one line', async () => {
    const start = (args: string[]) => admin(['server', 'start', '--listen', '127.0.0.1:0', ...args])
    expect(expectOneLineError(await start(['--diag-addr', 'localhost']))).toBe('server: --diag-addr "localhost" is not HOST:PORT (e.g. 127.0.0.1:3001)')
    const config = join(tmp.path, 'wid.yaml')
    writeFileSync(config, 'diag_addr: "127.0.0.1:99999"\n')
    expect(expectOneLineError(await start(['-c', config]))).toBe(`server: ${config}: diag_addr "127.0.0.1:99999" is not HOST:PORT (e.g. 127.0.0.1:3001)`)
    const taken = createServer()
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    const address = `127.0.0.1:${(taken.address() as {port: number}).port}`
    try {
      expect(expectOneLineError(await start(['--diag-addr', address]))).toBe(`server: cannot listen on --diag-addr ${address}: the address is in use`)
    } finally {
      taken.close()
    }
  })
})
