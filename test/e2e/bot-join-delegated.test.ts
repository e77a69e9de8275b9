/**
 * Bots join a running `wid server` with no shared secret (issue 13): an ID token that GitHub
 * Actions, GitLab CI or a Kubernetes cluster signed, checked against a token resource; the
 * instance issues with its join.* attributes in templates and renews by proving a fresh token.
 * The issuers are a local HTTPS OIDC issuer (its CA given in the server's join.ca_file) and a
 * static JWKS.
 */
import {generateKeyPairSync, X509Certificate} from 'node:crypto'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import {Agent, request} from 'undici'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {PROJECT_ROOT, tempDir, widIn} from '../helpers/cli.js'
import {jwksOf, signingKey, signToken, startOidcIssuer, unsignedToken, type OidcIssuer, type SigningKey} from '../helpers/oidc-issuer.js'
import {startWidServer, type WidServer} from '../helpers/server.js'

type LoginModule = typeof import('../../src/lib/cluster/login.js')
type BotIdentity = import('../../src/lib/auth/bot-join.js').BotIdentity
type Answer = {status: number; body: {result?: unknown; error?: {code: string; message: string}} & Partial<BotIdentity>}

const DOCUMENTS = `kind: role
version: v7
metadata: {name: ci-issuer}
spec:
  allow:
    workload_identity_labels: {team: ci}
    rules: [{resources: [workload_identity], verbs: [read, list]}]
---
kind: workload_identity
version: v1
metadata: {name: github-ci, labels: {team: ci}}
spec:
  rules:
    allow: [{conditions: [{attribute: join.meta.join_method, eq: {value: github}}]}]
  spiffe: {id: "/ci/{{ join.github.repository }}"}
---
kind: workload_identity
version: v1
metadata: {name: gitlab-ci, labels: {team: ci}}
spec:
  spiffe: {id: "/ci/{{ join.gitlab.project_path }}/{{ join.meta.join_token_name }}"}
---
kind: workload_identity
version: v1
metadata: {name: pod, labels: {team: ci}}
spec:
  spiffe: {id: "/k8s/{{ join.kubernetes.service_account.namespace }}/{{ join.kubernetes.service_account.name }}/{{ join.kubernetes.pod.name }}"}
`

const tokens = (host: string, k8sJwks: string) => `kind: token
version: v2
metadata: {name: github-ci}
spec:
  roles: [Bot]
  bot_name: ci
  join_method: github
  github:
    enterprise_server_host: "${host}"
    allow: [{repository: acme/app, ref: refs/heads/main}]
---
kind: token
version: v2
metadata: {name: gitlab-ci}
spec:
  roles: [Bot]
  bot_name: ci
  join_method: gitlab
  gitlab:
    domain: "${host}"
    allow: [{namespace_path: acme, ref_protected: true}]
---
kind: token
version: v2
metadata: {name: k8s}
spec:
  roles: [Bot]
  bot_name: ci
  join_method: kubernetes
  kubernetes:
    type: static_jwks
    static_jwks: {jwks: '${k8sJwks}'}
    allow: [{service_account: "ci:builder"}]
`

function newKey(): {key: string; publicKey: string} {
  const pair = generateKeyPairSync('ec', {namedCurve: 'P-256'})
  return {key: pair.privateKey.export({type: 'pkcs8', format: 'pem'}) as string, publicKey: pair.publicKey.export({type: 'spki', format: 'pem'}) as string}
}

describe('delegated joins through wid server', () => {
  const tmp = tempDir()
  const home = join(tmp.path, 'server')
  const admin = widIn(home)
  let server: WidServer
  let issuer: OidcIssuer
  let ciKey: SigningKey
  let k8sKey: SigningKey
  let ca: string
  const now = () => Math.floor(Date.now() / 1000)

  /** POST /v1/<method>, anonymous or as a bot. */
  async function post(method: string, body: object, identity?: {certificate: string; key: string}): Promise<Answer> {
    const agent = new Agent({connect: {ca: [ca], checkServerIdentity: () => undefined, ...(identity ? {cert: identity.certificate, key: identity.key} : {})}})
    try {
      const response = await request(`${server.url}/v1/${method}`, {method: 'POST', dispatcher: agent, headers: {'content-type': 'application/json'}, body: JSON.stringify(body)})
      return {status: response.statusCode, body: (await response.body.json()) as never}
    } finally {
      await agent.close()
    }
  }

  const github = (extra: Record<string, unknown> = {}) =>
    signToken(ciKey, {
      iss: `${issuer.origin}/_services/token`,
      aud: 'example.org',
      sub: 'repo:acme/app:ref:refs/heads/main',
      repository: 'acme/app',
      repository_owner: 'acme',
      ref: 'refs/heads/main',
      exp: now() + 300,
      ...extra,
    })
  const gitlab = (extra: Record<string, unknown> = {}) =>
    signToken(ciKey, {iss: issuer.origin, aud: 'example.org', sub: 'project_path:acme/app:ref_type:branch:ref:main', project_path: 'acme/app', namespace_path: 'acme', ref_protected: 'true', exp: now() + 300, ...extra})
  const pod = (extra: Record<string, unknown> = {}) =>
    signToken(k8sKey, {
      iss: 'https://kubernetes.default.svc',
      aud: ['example.org'],
      sub: 'system:serviceaccount:ci:builder',
      'kubernetes.io': {namespace: 'ci', serviceaccount: {name: 'builder'}, pod: {name: 'builder-7d9f'}},
      exp: now() + 600,
      ...extra,
    })

  async function joined(method: string, token: string, idToken: string): Promise<BotIdentity & {key: string}> {
    const {key, publicKey} = newKey()
    const answer = await post('joinBot', {method, token, idToken, publicKey})
    expect(answer.status, JSON.stringify(answer.body)).toBe(200)
    return {...(answer.body as BotIdentity), key}
  }

  async function spiffeIdOf(identity: {certificate: string; key: string}, name: string): Promise<string> {
    const answer = await post('issueX509Svid', {name, publicKey: newKey().publicKey}, identity)
    expect(answer.status, JSON.stringify(answer.body)).toBe(200)
    return (answer.body.result as {spiffeId: string}).spiffeId
  }

  beforeAll(async () => {
    ciKey = await signingKey('ci-1', 'RS256')
    k8sKey = await signingKey('k8s-1', 'ES256')
    issuer = await startOidcIssuer(tmp.path, [ciKey])
    writeFileSync(join(tmp.path, 'issuer-ca.pem'), issuer.ca)
    writeFileSync(join(tmp.path, 'wid.yaml'), 'join:\n  ca_file: issuer-ca.pem\n')
    expect((await admin(['init', '--cluster-name', 'example.org'])).code).toBe(0)
    expect((await admin(['create', '-f', '-'], {input: DOCUMENTS})).code).toBe(0)
    expect((await admin(['bots', 'add', 'ci', '--roles', 'ci-issuer'])).code).toBe(0)
    const applied = await admin(['create', '-f', '-'], {input: tokens(issuer.origin.slice('https://'.length), jwksOf([k8sKey]))})
    expect(applied.code, applied.stderr).toBe(0)
    server = await startWidServer(home, undefined, ['-c', join(tmp.path, 'wid.yaml')])
    const login = await import(pathToFileURL(join(PROJECT_ROOT, 'dist', 'lib', 'cluster', 'login.js')).href) as LoginModule
    ca = (await login.discoverCluster(`127.0.0.1:${server.port}`)).authority
  })
  afterAll(async () => {
    await server?.stop()
    await issuer?.close()
    tmp.cleanup()
  })

  it('GitHub Actions (Enterprise Server issuer over HTTPS): joins, issues /ci/<repository>, renews with a fresh token keeping its instance', async () => {
    const identity = await joined('github', 'github-ci', await github())
    expect(identity).toMatchObject({botName: 'ci', generation: 1, clusterName: 'example.org'})
    expect(new X509Certificate(identity.certificate).subject).toBe(`OU=bot\nCN=ci\nserialNumber=${identity.instanceId}\npseudonym=1`)
    expect(await spiffeIdOf(identity, 'github-ci')).toBe('spiffe://example.org/ci/acme/app')
    // A renewal without a fresh ID token is refused; with one, the instance moves to generation 2
    const bare = await post('renewBot', {publicKey: newKey().publicKey}, identity)
    expect([bare.status, bare.body.error]).toEqual([
      403,
      {code: 'access_denied', message: `renew: bot instance ${identity.instanceId} joined by github: each renewal proves a fresh ID token (idToken)`},
    ])
    const {key, publicKey} = newKey()
    const renewed = await post('renewBot', {publicKey, idToken: await github()}, identity)
    expect(renewed.status, JSON.stringify(renewed.body)).toBe(200)
    expect(renewed.body.result).toMatchObject({botName: 'ci', instanceId: identity.instanceId, generation: 2})
    const second = {certificate: (renewed.body.result as BotIdentity).certificate, key}
    expect(await spiffeIdOf(second, 'github-ci')).toBe('spiffe://example.org/ci/acme/app')
    // A renewal whose token no longer matches is refused, and the instance is not moved on
    const stale = await post('renewBot', {publicKey: newKey().publicKey, idToken: await github({ref: 'refs/heads/dev'})}, second)
    expect(stale.body.error).toEqual({
      code: 'access_denied',
      message: 'join: the ID token (ref "refs/heads/dev", repository "acme/app") matches no allow rule of the token "github-ci"; check spec.github.allow',
    })
  })

  it('GitLab CI (self-managed domain): joins and issues with join.gitlab.* and join.meta.*', async () => {
    const identity = await joined('gitlab', 'gitlab-ci', await gitlab())
    expect(await spiffeIdOf(identity, 'gitlab-ci')).toBe('spiffe://example.org/ci/acme/app/gitlab-ci')
    // And a template on another method's attribute is refused naming it
    const other = await post('issueX509Svid', {name: 'pod', publicKey: newKey().publicKey}, identity)
    expect(other.body.error?.message).toMatch(/join\.kubernetes\.service_account\.namespace/)
  })

  it('Kubernetes (static JWKS): joins and issues /k8s/<namespace>/<service account>/<pod>', async () => {
    const identity = await joined('kubernetes', 'k8s', await pod())
    expect(await spiffeIdOf(identity, 'pod')).toBe('spiffe://example.org/k8s/ci/builder/builder-7d9f')
  })

  it.each([
    ['github', 'github-ci', () => github({repository: 'acme/other'}), 'join: the ID token (ref "refs/heads/main", repository "acme/other") matches no allow rule of the token "github-ci"; check spec.github.allow'],
    ['gitlab', 'gitlab-ci', () => gitlab({aud: 'gitlab.com'}), 'join: the ID token\'s audience is "gitlab.com", which does not include the cluster name "example.org"; request the token for the audience example.org'],
    ['kubernetes', 'k8s', async () => unsignedToken({sub: 'system:serviceaccount:ci:builder', aud: 'example.org'}), 'join: the ID token is signed with "none", which is not accepted (only RS256, RS384, RS512, ES256, ES384, ES512, PS256, PS384, PS512)'],
    ['github', 'k8s', () => github(), 'join: the token "k8s" is for join_method kubernetes, not github'],
    ['gitlab', 'nope', () => gitlab(), 'join: the cluster has no token "nope" (wid get token lists them)'],
  ])('refuses a %s join with token %s in one line, audited with what decided', async (method, token, make, message) => {
    const idToken = await make()
    const answer = await post('joinBot', {method, token, idToken, publicKey: newKey().publicKey})
    expect([answer.status, answer.body.error]).toEqual([403, {code: 'access_denied', message}])
    const audit = JSON.parse((await admin(['audit', 'ls', '--json'])).stdout) as Record<string, unknown>[]
    expect(audit.filter((event) => event.type === 'bot.join_failed').at(-1)).toMatchObject({reason: message, method, token_id: token})
    expect(JSON.stringify(audit)).not.toContain(idToken)
  })

  it('audits each join with its method, token and the claims the matching rule compared', async () => {
    const audit = JSON.parse((await admin(['audit', 'ls', '--json', '--type', 'bot.joined'])).stdout) as Record<string, unknown>[]
    expect(audit.map(({method, token_id, rule, claims}) => ({method, token_id, rule, claims}))).toEqual([
      {method: 'github', token_id: 'github-ci', rule: 0, claims: {repository: 'acme/app', ref: 'refs/heads/main'}},
      {method: 'gitlab', token_id: 'gitlab-ci', rule: 0, claims: {namespace_path: 'acme', ref_protected: 'true'}},
      {method: 'kubernetes', token_id: 'k8s', rule: 0, claims: {service_account: 'ci:builder'}},
    ])
    const failed = JSON.parse((await admin(['audit', 'ls', '--json', '--type', 'bot.join_failed'])).stdout) as Record<string, unknown>[]
    expect(failed[0]).toMatchObject({method: 'github', token_id: 'github-ci', claims: {repository: 'acme/other', ref: 'refs/heads/main'}})
  })
})
