/**
 * A bot presents what its agent attested of workloads (workload.unix.*) with each item of
 * POST /v1/issueSvids to a running `wid server`: the identities' rules and templates are
 * evaluated with them, `all` issues every matching identity, each answer names the
 * attributes it depends on; a user presenting them is refused, and bodies outside the
 * schema are refused whole, naming the field.
 */
import {generateKeyPairSync, X509Certificate} from 'node:crypto'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import {Agent, request} from 'undici'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {PROJECT_ROOT, tempDir, widIn} from '../helpers/cli.js'
import {startBotCluster, type BotCluster} from '../helpers/bot-cluster.js'
import {inviteFile, loginProfile} from '../helpers/server.js'

type BotClient = typeof import('../../src/lib/cluster/bot-client.js')
type LoginModule = typeof import('../../src/lib/cluster/login.js')

const PASSWORD = 'correct horse battery staple'
const HASH = '0123456789abcdef'.repeat(4)
const publicKey = () => generateKeyPairSync('ec', {namedCurve: 'P-256'}).publicKey.export({type: 'spki', format: 'pem'}) as string
const dist = async <T>(path: string): Promise<T> => (await import(pathToFileURL(join(PROJECT_ROOT, 'dist', path)).href)) as T

const DOCUMENTS = [
  `kind: workload_identity
version: v1
metadata:
  name: per-uid
  labels: {team: a}
spec:
  spiffe:
    id: /svc/{{ workload.unix.uid }}
`,
  `kind: workload_identity
version: v1
metadata:
  name: uid-1000
  labels: {team: a}
spec:
  rules:
    allow:
      - conditions:
          - attribute: workload.unix.uid
            eq: {value: 1000}
  spiffe:
    id: /svc/uid-1000
`,
  `kind: workload_identity
version: v1
metadata:
  name: gid-50
  labels: {team: a}
spec:
  rules:
    allow:
      - conditions:
          - attribute: workload.unix.gid
            eq: {value: 50}
  spiffe:
    id: /svc/gid-50
`,
  `kind: role
version: v7
metadata:
  name: team-a
spec:
  allow:
    workload_identity_labels: {team: [a]}
    rules:
      - resources: [workload_identity]
        verbs: [list, read]
`,
]

interface Answer {
  status: number
  body: {result?: {results: Record<string, unknown>[]}; error?: {code: string; message: string}}
}

describe('workload attributes from a bot agent', () => {
  const tmp = tempDir()
  let cluster: BotCluster
  let bot: {certificate: string; key: string}
  let user: {certificate: string; key: string}
  let authority: string

  async function issueSvids(identity: {certificate: string; key: string}, body: object): Promise<Answer> {
    const agent = new Agent({connect: {ca: [authority], cert: identity.certificate, key: identity.key, checkServerIdentity: () => undefined}})
    try {
      const response = await request(`${cluster.server.url}/v1/issueSvids`, {method: 'POST', dispatcher: agent, headers: {'content-type': 'application/json'}, body: JSON.stringify(body)})
      return {status: response.statusCode, body: (await response.body.json()) as Answer['body']}
    } finally {
      await agent.close()
    }
  }

  beforeAll(async () => {
    cluster = await startBotCluster(tmp.path, {documents: DOCUMENTS, bot: 'agent', roles: ['team-a']})
    const proxy = `127.0.0.1:${cluster.port}`
    const found = await (await dist<LoginModule>('lib/cluster/login.js')).discoverCluster(proxy)
    authority = found.authority
    // The bot joins as its agent does
    const pair = generateKeyPairSync('ec', {namedCurve: 'P-256'})
    const joined = await (await dist<BotClient>('lib/cluster/bot-client.js')).joinBot(proxy, {authority, verifyHostname: found.verifyHostname}, {
      token: await cluster.newToken(),
      publicKey: pair.publicKey.export({type: 'spki', format: 'pem'}) as string,
    })
    bot = {certificate: joined.certificate, key: pair.privateKey.export({type: 'pkcs8', format: 'pem'}) as string}
    // And a user with the same role logs in
    const invite = (await cluster.admin(['users', 'add', 'ann', '--roles', 'team-a'])).stdout.trim()
    const annHome = join(tmp.path, 'ann')
    const login = await widIn(annHome)(['login', '--proxy', proxy, '--user', 'ann', '--ca-pin', cluster.pin, '--password-stdin', '--invite-file', inviteFile(tmp.path, invite)], {input: `${PASSWORD}\n`})
    expect(login.code, login.stderr).toBe(0)
    const profile = loginProfile(annHome, cluster.port)
    user = {certificate: profile.cert, key: profile.key}
  })
  afterAll(async () => {
    await cluster?.stop()
    tmp.cleanup()
  })

  it('evaluates rules and renders templates with each item\'s workload, and says what each answer depends on', async () => {
    const unix = (fields: object) => ({unix: {attested: true, pid: 4242, binary_path: '/usr/bin/app', binary_hash: HASH, ...fields}})
    const {status, body} = await issueSvids(bot, {
      items: [
        {type: 'x509', name: 'uid-1000', publicKey: publicKey(), workload: unix({uid: 1000, gid: 1000})},
        {type: 'x509', name: 'uid-1000', publicKey: publicKey(), workload: unix({uid: 1001, gid: 1001})},
        {type: 'jwt', name: 'per-uid', audiences: ['a'], workload: unix({uid: 33})},
        {type: 'jwt', name: 'per-uid', audiences: ['a'], workload: {unix: {attested: false}}},
        {type: 'x509', labels: {team: 'a'}, all: true, publicKey: publicKey(), workload: unix({uid: 1000, gid: 50})},
        {type: 'jwt', labels: {team: 'a'}, all: true, audiences: ['a'], workload: unix({uid: 7, gid: 7})},
      ],
    })
    expect(status).toBe(200)
    const results = body.result!.results
    // uid 1000 passes the rule; the certificate carries the identity's ID
    expect(results[0]).toMatchObject({x509: {spiffeId: 'spiffe://example.org/svc/uid-1000', workloadIdentity: 'uid-1000'}, dependsOn: ['workload.unix.uid']})
    const leaf = new X509Certificate((results[0] as {x509: {certificates: string[]}}).x509.certificates[0]!)
    expect(leaf.subjectAltName).toBe('URI:spiffe://example.org/svc/uid-1000')
    // uid 1001 does not
    expect(results[1]).toEqual({error: {code: 'access_denied', message: 'auth: workload identity "uid-1000": no matching rule found (allow[0]: workload.unix.uid is "1001", not "1000")'}})
    // The uid is rendered into the SPIFFE ID, and its absence refuses the identity
    expect(results[2]).toMatchObject({jwt: {spiffeId: 'spiffe://example.org/svc/33'}, dependsOn: ['workload.unix.uid']})
    expect(results[3]).toEqual({error: {code: 'access_denied', message: 'auth: cannot render spec.spiffe.id: attribute "workload.unix.uid" is not set'}})
    // all: every identity labelled team=a that this workload passes, by name
    const x509s = (results[4] as {x509s: {spiffeId: string}[]; dependsOn: string[]})
    expect(x509s.x509s.map((svid) => svid.spiffeId)).toEqual(['spiffe://example.org/svc/gid-50', 'spiffe://example.org/svc/1000', 'spiffe://example.org/svc/uid-1000'])
    expect(x509s.dependsOn).toEqual(['workload.unix.gid', 'workload.unix.uid'])
    expect(results[5]).toMatchObject({jwts: [{spiffeId: 'spiffe://example.org/svc/7', workloadIdentity: 'per-uid'}], dependsOn: ['workload.unix.gid', 'workload.unix.uid']})
    // And the audit log has the attested attributes with each SVID
    const audit = JSON.parse((await cluster.admin(['audit', 'ls', '--type', 'svid.issued', '--json'])).stdout) as {spiffe_id: string; workload?: unknown}[]
    expect(audit.filter((event) => event.spiffe_id === 'spiffe://example.org/svc/33').map((event) => event.workload)).toEqual([unix({uid: 33})])
    expect(audit).toHaveLength(6)
  })

  it('refuses workload attributes from a user, in one line', async () => {
    const {status, body} = await issueSvids(user, {
      items: [
        {type: 'jwt', name: 'per-uid', audiences: ['a'], workload: {unix: {attested: true, uid: 1000}}},
        {type: 'x509', name: 'uid-1000', publicKey: publicKey(), workload: {unix: {attested: true, uid: 1000}}},
        {type: 'jwt', labels: {team: 'a'}, audiences: ['a']},
      ],
    })
    expect(status).toBe(200)
    const refused = {error: {code: 'access_denied', message: "svid: workload attributes are accepted only from a bot agent's attestation"}}
    // The user may use the identities, but not claim to be a workload
    expect(body.result!.results.slice(0, 2)).toEqual([refused, refused])
    expect(body.result!.results[2]).toEqual({error: {code: 'access_denied', message: expect.stringMatching(/^auth: none of the workload identities labelled team=a can be issued: /) as string}})
  })

  it.each<[string, object]>([
    ['items[0].workload.unix.uid: must be a whole number', {uid: '1000'}],
    ['items[0].workload.unix.uid: must be >= 0', {uid: -1}],
    ['items[0].workload.unix.gid: must be a whole number', {gid: 50.5}],
    ['items[0].workload.unix.pid: must be <= 4294967295', {pid: 2 ** 32}],
    ['items[0].workload.unix.attested: must be true or false', {attested: 'yes'}],
    ['items[0].workload.unix.euid: unknown field (allowed: attested, pid, uid, gid, binary_path, binary_hash)', {euid: 0}],
    ['items[0].workload.unix.binary_hash: must be a SHA-256 hash: 64 lowercase hexadecimal digits', {binary_hash: HASH.toUpperCase()}],
    ['items[0].workload.unix.binary_hash: must be a SHA-256 hash: 64 lowercase hexadecimal digits', {binary_hash: HASH.slice(1)}],
    ['items[0].workload.unix.binary_path: must be at most 4096 characters', {binary_path: `/${'a'.repeat(4096)}`}],
    ['items[0].workload.unix.binary_path: must not be empty', {binary_path: ''}],
  ])('refuses the whole body with 400: %s', async (message, fields) => {
    const {status, body} = await issueSvids(bot, {items: [{type: 'jwt', name: 'per-uid', audiences: ['a'], workload: {unix: {attested: true, uid: 1, ...fields}}}]})
    expect([status, body.error]).toEqual([400, {code: 'bad_input', message: `api: issueSvids: ${message}`}])
  })

  it.each<[string, object]>([
    ['items[0].workload.unix.attested: missing required field', {type: 'jwt', name: 'per-uid', audiences: ['a'], workload: {unix: {uid: 1}}}],
    ['items[0].workload.docker: unknown field (allowed: unix)', {type: 'jwt', name: 'per-uid', audiences: ['a'], workload: {docker: {}}}],
    ['items[0].workload: must be a mapping', {type: 'jwt', name: 'per-uid', audiences: ['a'], workload: 'uid=0'}],
    ['items[0].all: must be true or false', {type: 'jwt', labels: {team: 'a'}, audiences: ['a'], all: 1}],
  ])('refuses the whole body with 400: %s', async (message, item) => {
    const {status, body} = await issueSvids(bot, {items: [item]})
    expect([status, body.error]).toEqual([400, {code: 'bad_input', message: `api: issueSvids: ${message}`}])
  })

  it('refuses all without labels in that item only', async () => {
    const {body} = await issueSvids(bot, {items: [{type: 'jwt', name: 'per-uid', all: true, audiences: ['a']}]})
    expect(body.result!.results).toEqual([{error: {code: 'bad_input', message: 'svid: "all" applies to a labels selector only'}}])
  })
})
