/**
 * A bot joins a running `wid server` with the token of `wid bots add`, renews, issues SVIDs
 * in a batch, and is locked when a copy of its identity renews too; an editor lists and
 * removes its instances with `wid bots instances`. The bot's side is the built
 * dist/lib/cluster/bot-client.js, as the agent calls it.
 */
import {generateKeyPairSync, X509Certificate} from 'node:crypto'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import {Agent, request} from 'undici'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {expectOneLineError, PROJECT_ROOT, tempDir, widIn} from '../helpers/cli.js'
import {ISSUER_ROLE, WORKLOAD_IDENTITY} from '../helpers/design-documents.js'
import {freePort, inviteFile, startWidServer, type WidServer} from '../helpers/server.js'

type BotClient = typeof import('../../src/lib/cluster/bot-client.js')
type LoginModule = typeof import('../../src/lib/cluster/login.js')
type BotIdentity = import('../../src/lib/auth/bot-join.js').BotIdentity

const PASSWORD = 'correct horse battery staple'
const UNKNOWN = 'join: the token is not known to the cluster (it may have been used already, or removed)'

const dist = async <T>(path: string): Promise<T> => (await import(pathToFileURL(join(PROJECT_ROOT, 'dist', path)).href)) as T

function newKey(): {key: string; publicKey: string} {
  const pair = generateKeyPairSync('ec', {namedCurve: 'P-256'})
  return {key: pair.privateKey.export({type: 'pkcs8', format: 'pem'}) as string, publicKey: pair.publicKey.export({type: 'spki', format: 'pem'}) as string}
}

/** What a rejected promise threw: its code and message. */
async function thrown(promise: Promise<unknown>): Promise<{code: string; message: string}> {
  const error = (await promise.then(
    () => undefined,
    (e: unknown) => e,
  )) as {code: string; message: string} | undefined
  expect(error, 'expected a refusal').toBeDefined()
  return {code: error!.code, message: error!.message}
}

describe('a bot joins, renews, issues in batches and is locked when copied', () => {
  const tmp = tempDir()
  const serverHome = join(tmp.path, 'server')
  const admin = widIn(serverHome)
  const editor = widIn(join(tmp.path, 'editor'))
  let server: WidServer
  let proxy: string
  let authority: {authority: string; verifyHostname: boolean}
  let client: BotClient
  let token: string

  /** POST /v1/<method> with a bot's identity. */
  async function callAs(identity: {certificate: string; key: string}, method: string, body: object): Promise<{status: number; body: {result?: unknown; error?: {code: string; message: string}}}> {
    const agent = new Agent({connect: {ca: [authority.authority], cert: identity.certificate, key: identity.key, checkServerIdentity: () => undefined}})
    try {
      const response = await request(`${server.url}/v1/${method}`, {method: 'POST', dispatcher: agent, headers: {'content-type': 'application/json'}, body: JSON.stringify(body)})
      return {status: response.statusCode, body: (await response.body.json()) as never}
    } finally {
      await agent.close()
    }
  }

  beforeAll(async () => {
    expect((await admin(['init', '--cluster-name', 'example.org'])).code).toBe(0)
    server = await startWidServer(serverHome)
    proxy = `127.0.0.1:${server.port}`
    expect((await admin(['create', '-f', '-'], {input: `${WORKLOAD_IDENTITY}---\n${ISSUER_ROLE}`})).code).toBe(0)
    // An editor (the preset role) logs in and adds the bot
    const invite = (await admin(['users', 'add', 'ed', '--roles', 'editor'])).stdout.trim()
    const pin = JSON.parse((await admin(['status', '--json'])).stdout).hostCaPins[0]
    const login = await editor(['login', '--proxy', proxy, '--user', 'ed', '--ca-pin', pin, '--password-stdin', '--invite-file', inviteFile(tmp.path, invite)], {input: `${PASSWORD}\n`})
    expect(login.code, login.stderr).toBe(0)
    const added = await editor(['bots', 'add', 'my-bot', '--roles', 'example-workload-identity-issuer', '--json'])
    expect(added.code, added.stderr).toBe(0)
    token = JSON.parse(added.stdout).token
    client = await dist<BotClient>('lib/cluster/bot-client.js')
    const identity = await (await dist<LoginModule>('lib/cluster/login.js')).discoverCluster(proxy)
    expect(identity.pin).toBe(pin)
    authority = {authority: identity.authority, verifyHostname: identity.verifyHostname}
  })
  afterAll(async () => {
    await server?.stop()
    tmp.cleanup()
  })

  let first: BotIdentity & {key: string}
  let second: BotIdentity & {key: string}

  it('joins with the token of wid bots add, once', async () => {
    // When the bot joins with a key of its own
    const {key, publicKey} = newKey()
    const joined = await client.joinBot(proxy, authority, {token, publicKey, ttlSeconds: 1800})
    first = {...joined, key}
    // Then it is an instance of my-bot at generation 1, with a 30-minute certificate for its key
    expect(joined).toMatchObject({botName: 'my-bot', generation: 1, clusterName: 'example.org'})
    expect(joined.instanceId).toMatch(/^[0-9a-f]{32}$/)
    expect(new X509Certificate(joined.certificate).subject).toBe(`OU=bot\nCN=my-bot\nserialNumber=${joined.instanceId}\npseudonym=1`)
    expect(Date.parse(joined.notAfter) - Date.now()).toBeGreaterThan(1700_000)
    expect(Date.parse(joined.notAfter) - Date.now()).toBeLessThanOrEqual(1800_000)
    // And the token is used up
    expect(await thrown(client.joinBot(proxy, authority, {token, publicKey: newKey().publicKey}))).toEqual({code: 'access_denied', message: UNKNOWN})
  })

  it('renews to the next generation', async () => {
    const {key, publicKey} = newKey()
    const renewed = await client.renewBot(proxy, authority, first, {publicKey})
    second = {...renewed, key}
    expect(renewed).toMatchObject({botName: 'my-bot', instanceId: first.instanceId, generation: 2})
    expect(new X509Certificate(renewed.certificate).subject).toMatch(/\npseudonym=2$/)
  })

  it('issues a batch of SVIDs, one refused item failing only itself', async () => {
    const {status, body} = await callAs(second, 'issueSvids', {
      items: [
        {type: 'x509', name: 'example-workload-identity', publicKey: newKey().publicKey},
        {type: 'x509', path: '/svc/not-mine', publicKey: newKey().publicKey},
        {type: 'jwt', name: 'example-workload-identity', audiences: ['sts.amazonaws.com']},
      ],
    })
    expect(status).toBe(200)
    const {results} = body.result as {results: Record<string, {spiffeId?: string; code?: string; message?: string}>[]}
    expect(results.map((r) => Object.keys(r)[0])).toEqual(['x509', 'error', 'jwt'])
    expect(results[0]!.x509!.spiffeId).toBe('spiffe://example.org/svc/example-service')
    expect(results[1]!.error).toEqual({code: 'access_denied', message: 'auth: bot "my-bot" may not issue spiffe path /svc/not-mine: no role allows it (add a role with allow.spiffe: [{path: /svc/not-mine}])'})
    expect(results[2]!.jwt!.spiffeId).toBe('spiffe://example.org/svc/example-service')
    // And a body outside the schema is refused whole
    const empty = await callAs(second, 'issueSvids', {items: []})
    expect([empty.status, empty.body.error]).toEqual([400, {code: 'bad_input', message: 'api: issueSvids: items: must have at least 1 item(s)'}])
  })

  it('lists the instance for the editor (wid bots instances ls)', async () => {
    const listed = await editor(['bots', 'instances', 'ls'])
    expect(listed.code, listed.stderr).toBe(0)
    const [header, , row] = listed.stdout.split('\n')
    expect(header).toMatch(/^BOT +INSTANCE +JOIN METHOD +CREATED +LAST SEEN +GENERATION +LOCKED$/)
    expect(row).toMatch(new RegExp(`^my-bot +${first.instanceId} +token +\\S+ +\\S+ +2 +no$`))
  })

  it('refuses a bot certificate that names no instance, even one the client CA signed', async () => {
    // Given such a certificate, made here with the cluster's own client CA (no join makes one)
    const {SqliteBackend} = await dist<typeof import('../../src/lib/backend/sqlite.js')>('lib/backend/sqlite.js')
    const {getAuthority} = await dist<typeof import('../../src/lib/services/authorities.js')>('lib/services/authorities.js')
    const {x509Signer} = await dist<typeof import('../../src/lib/auth/authorities.js')>('lib/auth/authorities.js')
    const {issueClientCertificate} = await dist<typeof import('../../src/lib/auth/tls-certificates.js')>('lib/auth/tls-certificates.js')
    const backend = await SqliteBackend.open(join(serverHome, 'wid.db'))
    const {key, publicKey} = newKey()
    let certificate: string
    try {
      const {authority: clientCa} = await getAuthority(backend, 'client')
      const spki = new Uint8Array(Buffer.from(publicKey.replace(/-----[^-]+-----|\s/g, ''), 'base64'))
      certificate = issueClientCertificate(x509Signer(clientCa), {kind: 'bot', name: 'my-bot'}, spki, new Date(), 600).certificate
    } finally {
      await backend.close()
    }
    // When it calls, Then it is refused before any method runs
    const answer = await callAs({certificate, key}, 'whoami', {})
    expect(answer.status).toBe(401)
    expect(answer.body.error?.message).toBe('api: the bot certificate names no bot instance; join again with a new token')
  })

  it('locks the instance when the copied first identity renews: both copies are refused, wherever they call', async () => {
    // When the first identity (a copy, left behind) renews
    const locked = await thrown(client.renewBot(proxy, authority, first, {publicKey: newKey().publicKey}))
    const message = `auth: bot instance ${first.instanceId} of bot "my-bot" is locked: its identity was used from two places (generation 1 presented, 2 expected); remove it (wid bots instances rm my-bot/${first.instanceId}) and join again`
    expect(locked).toEqual({code: 'access_denied', message})
    // Then the current identity is refused too, for renewals and issuance
    expect(await thrown(client.renewBot(proxy, authority, second, {publicKey: newKey().publicKey}))).toEqual({code: 'access_denied', message})
    const issue = await callAs(second, 'issueSvids', {items: [{type: 'jwt', name: 'example-workload-identity', audiences: ['a']}]})
    expect([issue.status, issue.body.error]).toEqual([403, {code: 'access_denied', message}])
    // And the editor sees it locked, and the audit log has it
    const listed = JSON.parse((await editor(['bots', 'instances', 'ls', 'my-bot', '--json'])).stdout)
    expect(listed).toMatchObject([{bot: 'my-bot', id: first.instanceId, generation: 2, locked: {reason: 'its identity was used from two places (generation 1 presented, 2 expected)'}}])
    expect((await editor(['bots', 'instances', 'ls'])).stdout).toMatch(/ 2 +yes, \S+\n$/)
    const audit = JSON.parse((await editor(['audit', 'ls', '--type', 'bot.instance_locked', '--json'])).stdout)
    expect(audit).toMatchObject([{actor: 'bot:my-bot', name: 'my-bot', instance: first.instanceId, presented: 1, expected: 2}])
  })

  it('removes the instance (wid bots instances rm), and the bot joins again with a new token', async () => {
    const removed = await editor(['bots', 'instances', 'rm', `my-bot/${first.instanceId}`])
    expect(removed.code, removed.stderr).toBe(0)
    expect(removed.stderr).toContain(`bot instance ${first.instanceId} of bot "my-bot" has been deleted`)
    expect((await editor(['bots', 'instances', 'ls'])).stdout).toBe('no bot instances\n')
    // Removed, its identity is told to join again
    expect(await thrown(client.renewBot(proxy, authority, second, {publicKey: newKey().publicKey}))).toEqual({
      code: 'access_denied',
      message: `auth: bot instance ${first.instanceId} of bot "my-bot" was removed; join again (with a new token; a bot that joins by a delegated method proves a fresh ID token)`,
    })
    // And removing it again, or naming no instance, is one line and its exit code
    const again = await editor(['bots', 'instances', 'rm', `my-bot/${first.instanceId}`])
    expect([expectOneLineError(again), again.code]).toEqual([`bot instance ${first.instanceId} of bot "my-bot" not found`, 3])
    const noId = await editor(['bots', 'instances', 'rm', 'my-bot'])
    expect([expectOneLineError(noId), noId.code]).toEqual(['bots instances rm: expected BOT/ID (wid bots instances ls shows them), got "my-bot"', 2])
    const noBot = await editor(['bots', 'instances', 'ls', 'no-such-bot'])
    expect([expectOneLineError(noBot), noBot.code]).toEqual(['bot "no-such-bot" not found', 3])
    // A new token joins as a new instance
    const added = await editor(['tokens', 'add', '--type', 'bot', '--bot-name', 'my-bot', '--json'])
    expect(added.code, added.stderr).toBe(0)
    const rejoined = await client.joinBot(proxy, authority, {token: JSON.parse(added.stdout).token, publicKey: newKey().publicKey})
    expect(rejoined.instanceId).not.toBe(first.instanceId)
    expect(rejoined.generation).toBe(1)
  })

  it('removes the instances with the bot (wid bots rm)', async () => {
    expect((await editor(['bots', 'rm', 'my-bot'])).code).toBe(0)
    expect((await editor(['bots', 'instances', 'ls'])).stdout).toBe('no bot instances\n')
  })

  it('tells a server that cannot be reached as unavailable', async () => {
    const closed = `127.0.0.1:${await freePort()}`
    const refused = await thrown(client.joinBot(closed, authority, {token: 'x'.repeat(32), publicKey: newKey().publicKey}))
    expect(refused.code).toBe('unavailable')
    expect(refused.message).toMatch(new RegExp(`^join: cannot reach ${closed}: `))
  })
})
