/**
 * The API boundary of `wid server`: every /v1/ body is checked against its schema
 * (schemas/api/<method>.json) before it reaches the cluster, so a body of the wrong shape
 * gets 400 naming the field, never a 500 with a stack trace in the log.
 */
import {generateKeyPairSync} from 'node:crypto'
import {join} from 'node:path'
import {Client} from 'undici'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {tempDir, widIn} from '../helpers/cli.js'
import {WORKLOAD_IDENTITY} from '../helpers/design-documents.js'
import {inviteFile, loginProfile, startWidServer, type WidServer} from '../helpers/server.js'

const PASSWORD = 'correct horse battery staple'
const publicKey = generateKeyPairSync('ec', {namedCurve: 'P-256'}).publicKey.export({type: 'spki', format: 'pem'}) as string
const ROLE = {kind: 'role', version: 'v7', metadata: {name: 'r'}, spec: {}}
const TEN_YEARS = 10 * 366 * 24 * 3600

/** [method, the message after `api: <method>: `, a body with one thing wrong] */
const BAD_BODIES: [string, string, object][] = [
  ['login', 'user: must be a string', {user: ['alice'], password: PASSWORD, publicKey}],
  ['login', 'password: must be a string', {user: 'alice', password: 5, publicKey}],
  ['login', 'publicKey: must be a string', {user: 'alice', password: PASSWORD, publicKey: 123}],
  ['login', 'publicKey: missing required field', {user: 'alice', password: PASSWORD}],
  ['login', 'invite: must be a string', {user: 'alice', password: PASSWORD, publicKey, invite: 5}],
  ['login', 'ttlSeconds: must be a whole number', {user: 'alice', password: PASSWORD, publicKey, ttlSeconds: '1h'}],
  ['login', 'otp: unknown field (allowed: user, password, invite, publicKey, ttlSeconds)', {user: 'alice', password: PASSWORD, publicKey, otp: '123456'}],
  ['status', 'verbose: unknown field', {verbose: true}],
  ['whoami', 'name: unknown field', {name: 'root'}],
  ['issueX509Svid', 'path: must be a string', {path: 123, publicKey}],
  ['issueX509Svid', 'publicKey: must be a string', {name: 'example-workload-identity', publicKey: 123}],
  ['issueX509Svid', 'publicKey: missing required field', {path: '/svc/a'}],
  ['issueX509Svid', 'dnsSans: must be a list', {path: '/svc/a', publicKey, dnsSans: 'abc'}],
  ['issueX509Svid', 'ipSans[0]: must be a string', {path: '/svc/a', publicKey, ipSans: [1]}],
  ['issueX509Svid', 'ttlSeconds: must be a whole number', {path: '/svc/a', publicKey, ttlSeconds: 1.5}],
  ['issueX509Svid', 'labels.app: must be a string', {labels: {app: 1}, publicKey}],
  ['issueX509Svid', 'audiences: unknown field (allowed: path, name, labels, publicKey, ttlSeconds, dnsSans, ipSans, workload)', {path: '/svc/a', publicKey, audiences: ['x']}],
  ['issueJwtSvid', 'audiences: must be a list', {name: 'example-workload-identity', audiences: 'sts'}],
  ['issueJwtSvid', 'audiences[0]: must be a string', {name: 'example-workload-identity', audiences: [1, 2]}],
  ['issueJwtSvid', 'audiences: missing required field', {name: 'example-workload-identity'}],
  ['issueJwtSvid', 'name: must be a string', {name: ['example-workload-identity'], audiences: ['sts']}],
  ['exportTrust', 'type: missing required field', {}],
  ['exportTrust', 'type: must be one of tls-spiffe, jwks, spiffe-bundle', {type: 'pem'}],
  ['watchTrust', 'since: must be a whole number', {since: '5'}],
  ['watchTrust', 'since: must be >= 0', {since: -1}],
  ['applyResource', 'resource: must be a mapping', {resource: 'x', mode: 'create'}],
  ['applyResource', 'mode: missing required field', {resource: ROLE}],
  ['applyResource', 'mode: must be one of create, upsert', {resource: ROLE, mode: 'merge'}],
  ['applyResource', 'mode: must be a mapping', {resource: ROLE, mode: 3}],
  ['applyResource', 'mode.revision: must be a whole number', {resource: ROLE, mode: {revision: '3'}}],
  ['getResource', 'kind: must be a string', {kind: 1, name: 'r'}],
  ['getResource', 'name: missing required field', {kind: 'role'}],
  ['listResources', 'kind: must be a string', {kind: ['role']}],
  ['deleteResource', 'name: must be a string', {kind: 'role', name: 5}],
  ['addBot', 'roles: must be a list', {name: 'b', roles: 'access', tokenTtlSeconds: 60}],
  ['addBot', 'tokenTtlSeconds: must be >= 1', {name: 'b', roles: [], tokenTtlSeconds: 0}],
  ['addBot', 'traits: must be a list', {name: 'b', roles: [], tokenTtlSeconds: 60, traits: {team: ['a']}}],
  ['addBotToken', `ttlSeconds: must be <= ${TEN_YEARS}`, {botName: 'b', ttlSeconds: 1e20}],
  ['addBotToken', 'botName: missing required field', {ttlSeconds: 60}],
  ['updateRoles', 'kind: must be one of bot, user', {kind: 'role', name: 'x', change: {add: []}}],
  ['updateRoles', 'change.add: must be a list', {kind: 'user', name: 'x', change: {add: 'editor'}}],
  ['updateRoles', 'change: must NOT have more than 1 properties', {kind: 'user', name: 'x', change: {add: [], set: []}}],
  ['updateRoles', 'change: must NOT have fewer than 1 properties', {kind: 'user', name: 'x', change: {}}],
  ['resetUser', 'inviteTtlSeconds: must be a whole number', {name: 'x', inviteTtlSeconds: '24h'}],
  ['addUser', 'traits: must be a mapping', {name: 'x', roles: [], inviteTtlSeconds: 60, traits: []}],
  ['addUser', 'roles[0]: must be a string', {name: 'x', roles: [1], inviteTtlSeconds: 60}],
  ['listAudit', 'since: must be a string', {since: 5}],
  ['listAudit', 'type: must be a string', {type: ['svid.issued']}],
  ['joinBot', 'token: missing required field', {publicKey}],
  ['joinBot', 'token: must be a string', {token: 5, publicKey}],
  ['joinBot', 'ttlSeconds: must be a whole number', {token: 'abc', publicKey, ttlSeconds: '1h'}],
  ['joinBot', 'bot: unknown field (allowed: token, publicKey, ttlSeconds)', {token: 'abc', publicKey, bot: 'b'}],
  ['renewBot', 'publicKey: missing required field', {}],
  ['joinBot', 'idToken: missing required field', {method: 'github', token: 'ci', publicKey}],
  ['joinBot', 'method: must be one of kubernetes, github, gitlab', {method: 'token', token: 'ci', idToken: 'x', publicKey}],
  ['joinBot', 'secret: unknown field (allowed: method, token, idToken, publicKey, ttlSeconds)', {method: 'gitlab', token: 'ci', idToken: 'x', publicKey, secret: 'y'}],
  ['renewBot', 'generation: unknown field (allowed: publicKey, idToken, ttlSeconds)', {publicKey, generation: 2}],
  ['issueSvids', 'items: missing required field', {}],
  ['issueSvids', 'items: must have at least 1 item(s)', {items: []}],
  ['issueSvids', 'items: must NOT have more than 100 items', {items: Array(101).fill({type: 'jwt', name: 'example-workload-identity', audiences: ['a']})}],
  ['issueSvids', 'items[0].publicKey: missing required field', {items: [{type: 'x509', name: 'example-workload-identity'}]}],
  ['issueSvids', 'items[1].audiences: must be a list', {items: [{type: 'jwt', name: 'x', audiences: ['a']}, {type: 'jwt', name: 'x', audiences: 'a'}]}],
  ['listBotInstances', 'bot: must be a string', {bot: 5}],
  ['deleteBotInstance', 'id: missing required field', {bot: 'b'}],
  ['rotateAuthority', 'automatic: must be true or false', {type: 'jwt', automatic: 'yes'}],
  ['rotateAuthority', 'caTtlSeconds: must be >= 1', {type: 'jwt', automatic: true, caTtlSeconds: 0}],
  ['auditEvents', 'limit: must be <= 1000', {limit: 5000}],
  ['auditEvents', 'after.revision: missing required field', {after: {key: '/audit/x'}}],
  ['auditRetention', 'retentionSeconds: unknown field', {retentionSeconds: 3600}],
  ['setAuditRetention', 'retentionSeconds: must be a whole number', {retentionSeconds: '720h'}],
  ['pruneAudit', 'before: missing required field', {}],
  // and what a schema cannot say
  ['listAudit', 'since: must be an ISO 8601 time (RFC 3339, years 1000 to 9999)', {since: 'yesterday'}],
  ['auditEvents', 'since: must be an ISO 8601 time (RFC 3339, years 1000 to 9999)', {since: 'yesterday'}],
  ['pruneAudit', 'before: must be an ISO 8601 time (RFC 3339, years 1000 to 9999)', {before: 'now'}],
]

describe('wid server checks every API body against its schema', () => {
  const tmp = tempDir()
  const serverHome = join(tmp.path, 'server')
  const admin = widIn(serverHome)
  let server: WidServer
  let client: Client
  let watcher: Client
  let anonymous: Client

  beforeAll(async () => {
    // Given a server and alice, who may do everything (so that only the body decides)
    expect((await admin(['init', '--cluster-name', 'example.org'])).code).toBe(0)
    server = await startWidServer(serverHome)
    expect((await admin(['create', '-f', '-'], {input: WORKLOAD_IDENTITY})).code).toBe(0)
    const invite = (await admin(['users', 'add', 'alice', '--roles', 'editor,access'])).stdout.trim()
    const pin = JSON.parse((await admin(['status', '--json'])).stdout).hostCaPins[0]
    const home = join(tmp.path, 'alice')
    const loggedIn = await widIn(home)(['login', '--proxy', `127.0.0.1:${server.port}`, '--user', 'alice', '--invite-file', inviteFile(tmp.path, invite), '--ca-pin', pin, '--password-stdin'], {input: PASSWORD})
    expect(loggedIn.code, loggedIn.stderr).toBe(0)
    const {key, cert, ca} = loginProfile(home, server.port)
    client = new Client(server.url, {connect: {ca, cert, key, checkServerIdentity: () => undefined}})
    // a long poll holds its connection: it waits on a connection of its own
    watcher = new Client(server.url, {connect: {ca, cert, key, checkServerIdentity: () => undefined}})
    anonymous = new Client(server.url, {connect: {ca, checkServerIdentity: () => undefined}})
  })
  afterAll(async () => {
    await client?.close()
    await watcher?.close()
    await anonymous?.close()
    await server?.stop()
    tmp.cleanup()
  })

  const call = async (method: string, body: object, via?: Client) => {
    const response = await (via ?? (method === 'login' || method === 'joinBot' ? anonymous : client)).request({
      path: `/v1/${method}`,
      method: 'POST',
      headers: {'content-type': 'application/json'},
      body: JSON.stringify(body),
    })
    return {status: response.statusCode, body: (await response.body.json()) as {result?: unknown; error?: {code: string; message: string}}}
  }

  it.each(BAD_BODIES)('%s: 400 "%s"', async (method, message, body) => {
    expect(await call(method, body)).toEqual({status: 400, body: {error: {code: 'bad_input', message: `api: ${method}: ${message}`}}})
  })

  it('keeps serving, with no failed request and no stack trace in its log, and accepts what the clients send', async () => {
    // (the table above ran first)
    expect(server.log()).not.toMatch(/request failed|"stack"|\n\s+at /)
    expect((await call('status', {})).status).toBe(200)
    // Bodies as RemoteCluster and wid login send them, with their optional fields
    for (const type of ['tls-spiffe', 'jwks', 'spiffe-bundle']) expect((await call('exportTrust', {type})).status).toBe(200)
    expect((await call('issueX509Svid', {name: 'example-workload-identity', publicKey, ttlSeconds: 600})).status).toBe(200)
    expect((await call('issueJwtSvid', {name: 'example-workload-identity', audiences: ['sts.amazonaws.com'], ttlSeconds: 600})).status).toBe(200)
    expect((await call('listAudit', {since: new Date(0).toISOString(), type: 'svid.issued'})).status).toBe(200)
    expect(await call('auditEvents', {after: {revision: 0}, since: new Date(0).toISOString(), limit: 10})).toMatchObject({status: 200, body: {result: {more: expect.any(Boolean)}}})
    expect((await call('applyResource', {resource: ROLE, mode: 'create'})).status).toBe(200)
    expect((await call('applyResource', {resource: ROLE, mode: 'upsert'})).status).toBe(200)
    expect((await call('updateRoles', {kind: 'user', name: 'alice', change: {add: ['editor']}})).status).toBe(200)
    // And traits given to addUser and addBot are kept, as in local mode
    expect((await call('addUser', {name: 'tina', roles: ['access'], traits: {team: ['blue']}, inviteTtlSeconds: 60})).status).toBe(200)
    expect(await call('getResource', {kind: 'user', name: 'tina'})).toMatchObject({status: 200, body: {result: {spec: {traits: {team: ['blue']}}}}})
    expect((await call('addBot', {name: 'robo', roles: ['access'], traits: [{name: 'team', values: ['red']}], tokenTtlSeconds: 60})).status).toBe(200)
    expect(await call('getResource', {kind: 'bot', name: 'robo'})).toMatchObject({status: 200, body: {result: {spec: {traits: [{name: 'team', values: ['red']}]}}}})
    expect(await call('listBotInstances', {})).toEqual({status: 200, body: {result: []}})
    expect(await call('listBotInstances', {bot: 'robo'})).toEqual({status: 200, body: {result: []}})
    expect((await call('issueSvids', {items: [{type: 'jwt', name: 'example-workload-identity', audiences: ['a'], ttlSeconds: 600}]})).status).toBe(200)
    // A CA's automatic rotation, set through the server, is the cluster's: the local admin of its store sees it
    expect(await call('rotateAuthority', {type: 'jwt', automatic: true, caTtlSeconds: 144 * 3600})).toMatchObject({status: 200, body: {result: {automatic: {caTtl: '144h'}}}})
    expect(JSON.parse((await admin(['status', '--json'])).stdout).rotations).toContainEqual(expect.objectContaining({type: 'jwt', automatic: expect.objectContaining({caTtl: '144h'})}))
    // And a login with the optional fields wid login sends
    const login = await call('login', {user: 'alice', password: PASSWORD, publicKey, ttlSeconds: 600})
    expect(login.status).toBe(200)
  })

  it('watchTrust answers the trust state at once without since, and a caller that has it once a rotation through the server changes it', async () => {
    const now = await call('watchTrust', {})
    expect(now).toMatchObject({status: 200, body: {result: {sequence: expect.any(Number), signing: {spiffe: expect.any(String), jwt: expect.any(String)}}}})
    const before = now.body.result as {sequence: number; signing: {spiffe: string; jwt: string}}
    const waiting = call('watchTrust', {since: before.sequence}, watcher)
    // (the spiffe CA: the jwt CA rotates automatically since the test above, which refuses manual steps)
    expect((await call('rotateAuthority', {type: 'spiffe', phase: 'init'})).status).toBe(200)
    const after = (await waiting).body.result as typeof before
    expect(after.sequence).toBeGreaterThan(before.sequence)
    // init trusts the new key; the old one still signs
    expect(after.signing).toEqual(before.signing)
    expect((await call('rotateAuthority', {type: 'spiffe', phase: 'update_clients', force: true})).status).toBe(200)
    const signing = (await call('watchTrust', {since: after.sequence})).body.result as typeof before
    expect(signing.signing.spiffe).not.toBe(before.signing.spiffe)
    expect(signing.signing.jwt).toBe(before.signing.jwt)
  })
})
