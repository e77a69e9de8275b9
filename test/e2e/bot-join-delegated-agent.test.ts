/**
 * The agent's side of delegated joins (issue 13 item 3): the built `wid bot start` joins a real
 * `wid server` with no shared secret, from a GitHub Actions runner (its token endpoint
 * simulated over HTTP, as the runner serves it), a GitLab CI job (the ID token in its
 * environment) and a Kubernetes pod (the projected token file); each issues an SVID from a
 * `join.*` template, a daemon proves a fresh ID token at every renewal and keeps its instance,
 * and what is missing or refused is one line.
 */
import {spawn} from 'node:child_process'
import {X509Certificate} from 'node:crypto'
import {readFileSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {expectOneLineError, tempDir, WID_BIN, widIn} from '../helpers/cli.js'
import {jwksOf, signingKey, signToken, type SigningKey} from '../helpers/oidc-issuer.js'
import {startWidServer, within, type WidServer} from '../helpers/server.js'

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
  spiffe: {id: "/ci/{{ join.github.repository }}/{{ join.github.ref_type }}"}
---
kind: workload_identity
version: v1
metadata: {name: gitlab-ci, labels: {team: ci}}
spec:
  spiffe: {id: "/ci/{{ join.gitlab.project_path }}"}
---
kind: workload_identity
version: v1
metadata: {name: pod, labels: {team: ci}}
spec:
  spiffe: {id: "/k8s/{{ join.kubernetes.service_account.namespace }}/{{ join.kubernetes.service_account.name }}"}
`

const tokens = (jwks: string) => `kind: token
version: v2
metadata: {name: github-ci}
spec:
  roles: [Bot]
  bot_name: ci
  join_method: github
  github:
    static_jwks: '${jwks}'
    allow: [{repository: acme/app}]
---
kind: token
version: v2
metadata: {name: gitlab-ci}
spec:
  roles: [Bot]
  bot_name: ci
  join_method: gitlab
  gitlab:
    static_jwks: '${jwks}'
    allow: [{namespace_path: acme}]
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
    static_jwks: {jwks: '${jwks}'}
    allow: [{service_account: "ci:builder"}]
`

/** What the agent must not find in the test's own environment. */
const CLEAN_ENV = {ACTIONS_ID_TOKEN_REQUEST_URL: '', ACTIONS_ID_TOKEN_REQUEST_TOKEN: '', TBOT_GITLAB_JWT: '', KUBERNETES_TOKEN_PATH: ''}
const RUNNER_TOKEN = 'runner-request-token'

describe('wid bot start with a delegated join method', () => {
  const tmp = tempDir('wid-delegated-agent-')
  const admin = widIn(join(tmp.path, 'server'))
  const bot = widIn(join(tmp.path, 'bot-home'))
  let server: WidServer
  let pin: string
  let key: SigningKey
  let runner: Server
  let runnerUrl: string
  /** The audiences the runner was asked for, one per ID token it handed out. */
  const runnerAudiences: string[] = []
  const now = () => Math.floor(Date.now() / 1000)

  const githubToken = (audience: string) =>
    signToken(key, {iss: 'https://token.actions.githubusercontent.com', aud: audience, sub: 'repo:acme/app:ref:refs/heads/main', repository: 'acme/app', repository_owner: 'acme', ref_type: 'branch', exp: now() + 300})
  const gitlabToken = (namespace: string) =>
    signToken(key, {iss: 'https://gitlab.com', aud: 'example.org', sub: `project_path:${namespace}/app:ref_type:branch:ref:main`, project_path: `${namespace}/app`, namespace_path: namespace, exp: now() + 300})
  const podToken = () =>
    signToken(key, {
      iss: 'https://kubernetes.default.svc',
      aud: ['example.org'],
      sub: 'system:serviceaccount:ci:builder',
      'kubernetes.io': {namespace: 'ci', serviceaccount: {name: 'builder'}, pod: {name: 'builder-7d9f'}},
      exp: now() + 600,
    })

  /** An agent configuration: the method, its token resource, and one X.509 output from the workload identity `name`. */
  function config(id: string, method: string, token: string, name: string, extra = ''): {file: string; out: string; storage: string} {
    const out = join(tmp.path, `out-${id}`)
    const storage = join(tmp.path, `storage-${id}`)
    const file = join(tmp.path, `${id}.yaml`)
    writeFileSync(
      file,
      `version: v2
proxy_server: 127.0.0.1:${server.port}
onboarding:
  join_method: ${method}
  token: ${token}
  ca_pins: ["${pin}"]
${extra}storage: {type: directory, path: ${storage}}
services:
  - type: workload-identity-x509
    selector: {name: ${name}}
    destination: {type: directory, path: ${out}}
`,
      {mode: 0o600},
    )
    return {file, out, storage}
  }

  const spiffeIdIn = (out: string) => new X509Certificate(readFileSync(join(out, 'svid.pem'))).subjectAltName
  const runnerEnv = {...CLEAN_ENV, ACTIONS_ID_TOKEN_REQUEST_URL: '', ACTIONS_ID_TOKEN_REQUEST_TOKEN: RUNNER_TOKEN}

  beforeAll(async () => {
    key = await signingKey('ci-1', 'ES256')
    expect((await admin(['init', '--cluster-name', 'example.org'])).code).toBe(0)
    expect((await admin(['create', '-f', '-'], {input: DOCUMENTS})).code).toBe(0)
    expect((await admin(['bots', 'add', 'ci', '--roles', 'ci-issuer'])).code).toBe(0)
    const applied = await admin(['create', '-f', '-'], {input: tokens(jwksOf([key]))})
    expect(applied.code, applied.stderr).toBe(0)
    pin = (JSON.parse((await admin(['status', '--json'])).stdout) as {hostCaPins: string[]}).hostCaPins[0]!
    server = await startWidServer(join(tmp.path, 'server'))
    // The runner's token endpoint: the request token as bearer, the audience as a parameter, {value} back
    runner = createServer((req, res) => {
      const query = new URL(req.url!, 'http://runner').searchParams
      if (req.headers.authorization !== `Bearer ${RUNNER_TOKEN}` || query.get('api-version') !== '2.0') return res.writeHead(401).end()
      const audience = query.get('audience') ?? ''
      runnerAudiences.push(audience)
      void githubToken(audience).then((value) => res.writeHead(200, {'content-type': 'application/json'}).end(JSON.stringify({count: value.length, value})))
    })
    await new Promise<void>((resolve) => runner.listen(0, '127.0.0.1', resolve))
    runnerUrl = `http://127.0.0.1:${(runner.address() as AddressInfo).port}/_apis/distributedtask/hubs/Actions/plans/1/jobs/2/idtoken?api-version=2.0`
    runnerEnv.ACTIONS_ID_TOKEN_REQUEST_URL = runnerUrl
  }, 60_000)
  afterAll(async () => {
    await server?.stop()
    if (runner) await new Promise((resolve) => runner.close(resolve))
    tmp.cleanup()
  })

  it('GitHub Actions: --oneshot asks the runner for a token for the cluster name, joins, and issues /ci/<repository>/<ref_type>', async () => {
    const {file, out} = config('github', 'github', 'github-ci', 'github-ci')
    const result = await bot(['bot', 'start', '-c', file, '--oneshot'], {env: runnerEnv})
    expect(result.code, result.stderr).toBe(0)
    expect(spiffeIdIn(out)).toBe('URI:spiffe://example.org/ci/acme/app/branch')
    expect(runnerAudiences).toEqual(['example.org'])
  }, 60_000)

  it('GitLab CI: --oneshot joins with the token in TBOT_GITLAB_JWT and issues /ci/<project_path>', async () => {
    const {file, out} = config('gitlab', 'gitlab', 'gitlab-ci', 'gitlab-ci')
    const result = await bot(['bot', 'start', '-c', file, '--oneshot'], {env: {...CLEAN_ENV, TBOT_GITLAB_JWT: await gitlabToken('acme')}})
    expect(result.code, result.stderr).toBe(0)
    expect(spiffeIdIn(out)).toBe('URI:spiffe://example.org/ci/acme/app')
  }, 60_000)

  it('Kubernetes: --oneshot joins with the projected token of onboarding.kubernetes.token_path, renews from storage with a rotated one in KUBERNETES_TOKEN_PATH, and joins again when its instance is removed', async () => {
    const tokenFile = join(tmp.path, 'sa-token')
    writeFileSync(tokenFile, `${await podToken()}\n`, {mode: 0o600})
    const {file, out, storage} = config('k8s', 'kubernetes', 'k8s', 'pod', `  kubernetes: {token_path: ${tokenFile}}\n`)
    const first = await bot(['bot', 'start', '-c', file, '--oneshot'], {env: CLEAN_ENV})
    expect(first.code, first.stderr).toBe(0)
    expect(spiffeIdIn(out)).toBe('URI:spiffe://example.org/k8s/ci/builder')
    const joined = JSON.parse(readFileSync(join(storage, 'identity.json'), 'utf8')) as {instanceId: string; generation: number; joinMethod: string; tokenId: string}
    expect(joined).toMatchObject({generation: 1, joinMethod: 'kubernetes', tokenId: 'k8s'})

    // The kubelet rotated the token, and the configuration now leaves the path to the environment: the renewal proves the new one
    const rotated = join(tmp.path, 'sa-token-rotated')
    writeFileSync(rotated, await podToken(), {mode: 0o600})
    const again = config('k8s-2', 'kubernetes', 'k8s', 'pod')
    writeFileSync(again.file, readFileSync(again.file, 'utf8').replace(again.storage, storage))
    const second = await bot(['bot', 'start', '-c', again.file, '--oneshot'], {env: {...CLEAN_ENV, KUBERNETES_TOKEN_PATH: rotated}})
    expect(second.code, second.stderr).toBe(0)
    expect(JSON.parse(readFileSync(join(storage, 'identity.json'), 'utf8'))).toMatchObject({instanceId: joined.instanceId, generation: 2})

    // The instance is removed: the cluster refuses the stored identity, and the agent proves its token again (no new secret needed)
    expect((await admin(['bots', 'instances', 'rm', `ci/${joined.instanceId}`])).code).toBe(0)
    const third = await bot(['bot', 'start', '-c', again.file, '--oneshot'], {env: {...CLEAN_ENV, KUBERNETES_TOKEN_PATH: rotated}})
    expect(third.code, third.stderr).toBe(0)
    // …and says so: a copy of the identity elsewhere would be the other reason
    expect(third.stderr).toContain('the cluster refused the bot instance; joining again by the delegated method as a new instance')
    expect(third.stderr).toContain(joined.instanceId)
    const rejoined = JSON.parse(readFileSync(join(storage, 'identity.json'), 'utf8')) as {instanceId: string; generation: number}
    expect(rejoined.instanceId).not.toBe(joined.instanceId)
    expect(rejoined.generation).toBe(1)
  }, 60_000)

  it('the daemon proves a fresh ID token from the runner at each renewal of its identity, keeping its instance', async () => {
    const {file, out, storage} = config('daemon', 'github', 'github-ci', 'github-ci')
    writeFileSync(file, readFileSync(file, 'utf8') + 'credential_ttl: 20s\nrenewal_interval: 2s\n')
    const asked = runnerAudiences.length
    const child = spawn(process.execPath, [WID_BIN, 'bot', 'start', '-c', file], {env: {...process.env, ...runnerEnv, WID_HOME: join(tmp.path, 'daemon-home'), DEBUG: ''}, stdio: ['ignore', 'pipe', 'pipe']})
    let log = ''
    child.stderr.on('data', (d) => (log += d))
    child.stdout.on('data', (d) => (log += d))
    const generation = () => (JSON.parse(readFileSync(join(storage, 'identity.json'), 'utf8')) as {generation: number}).generation
    try {
      await within(30, () => log.includes('output renewed'), () => log)
      await within(30, () => generation() >= 3, () => log)
    } finally {
      child.kill('SIGTERM')
      await new Promise((resolve) => child.once('exit', resolve))
    }
    expect(spiffeIdIn(out)).toBe('URI:spiffe://example.org/ci/acme/app/branch')
    const {instanceId} = JSON.parse(readFileSync(join(storage, 'identity.json'), 'utf8')) as {instanceId: string}
    // Each renewal is audited with the method, the token resource and the claims the matching rule compared
    const audit = JSON.parse((await admin(['audit', 'ls', '--json', '--type', 'bot.renewed'])).stdout) as Record<string, unknown>[]
    const renewals = audit.filter((event) => event.instance === instanceId)
    expect(renewals.length).toBeGreaterThanOrEqual(2)
    for (const event of renewals) expect(event).toMatchObject({method: 'github', token_id: 'github-ci', claims: {repository: 'acme/app'}})
    // One ID token for the join and one for every renewal, each asked for the cluster name
    expect(runnerAudiences.length - asked).toBeGreaterThanOrEqual(1 + renewals.length)
    expect(new Set(runnerAudiences)).toEqual(new Set(['example.org']))
    const instances = JSON.parse((await admin(['bots', 'instances', 'ls', 'ci', '--json'])).stdout) as {id: string; joinMethod: string; generation: number}[]
    expect(instances.find((i) => i.id === instanceId)).toMatchObject({joinMethod: 'github', generation: generation()})
  }, 90_000)

  it('refuses in one line: no matching allow rule, a missing variable, a missing token file', async () => {
    const gitlab = config('refused-gitlab', 'gitlab', 'gitlab-ci', 'gitlab-ci')
    const refused = await bot(['bot', 'start', '-c', gitlab.file, '--oneshot'], {env: {...CLEAN_ENV, TBOT_GITLAB_JWT: await gitlabToken('evil')}})
    expect(expectOneLineError(refused)).toBe('join: the ID token (namespace_path "evil") matches no allow rule of the token "gitlab-ci"; check spec.gitlab.allow')

    const github = config('refused-github', 'github', 'github-ci', 'github-ci')
    expect(expectOneLineError(await bot(['bot', 'start', '-c', github.file, '--oneshot'], {env: CLEAN_ENV}))).toBe(
      'bot: join_method github: ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set; GitHub Actions sets both for a job with permissions: id-token: write',
    )
    expect(expectOneLineError(await bot(['bot', 'start', '-c', gitlab.file, '--oneshot'], {env: CLEAN_ENV}))).toBe(
      'bot: join_method gitlab: TBOT_GITLAB_JWT is not set; give the job id_tokens: {TBOT_GITLAB_JWT: {aud: example.org}} in .gitlab-ci.yml',
    )

    const missing = join(tmp.path, 'no-such-token')
    const k8s = config('refused-k8s', 'kubernetes', 'k8s', 'pod')
    expect(expectOneLineError(await bot(['bot', 'start', '-c', k8s.file, '--oneshot'], {env: {...CLEAN_ENV, KUBERNETES_TOKEN_PATH: missing}}))).toBe(
      `bot: join_method kubernetes: no service account token at ${missing} (KUBERNETES_TOKEN_PATH); project one with the audience example.org into the pod, and give its path in onboarding.kubernetes.token_path or KUBERNETES_TOKEN_PATH`,
    )
  }, 60_000)
})
