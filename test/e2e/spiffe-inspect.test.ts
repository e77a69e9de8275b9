/**
 * `wid spiffe-inspect` (the built CLI) against a test-only Workload API server that serves
 * the official proto, against endpoints that refuse, stay silent or are not there, and against
 * the bot agent's own Workload API.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {chmodSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:net'
import {join} from 'node:path'
import * as grpc from '@grpc/grpc-js'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import {expectOneLineError, tempDir, widIn, WID_BIN, type RunResult} from '../helpers/cli.js'
import {within} from '../helpers/server.js'
import {behaviourFor, makeMaterial, startFakeWorkloadApi, type FakeWorkloadApi, type Material} from '../helpers/workload-api.js'

describe('wid spiffe-inspect', () => {
  const tmp = tempDir()
  const wid = widIn(join(tmp.path, 'home'))
  const socket = join(tmp.path, 'agent.sock')
  const path = `unix://${socket}`
  let material: Material
  let fake: FakeWorkloadApi

  beforeAll(async () => {
    material = await makeMaterial(tmp.path)
    fake = await startFakeWorkloadApi(socket, behaviourFor(material))
  })
  beforeEach(() => {
    fake.behaviour = behaviourFor(material)
    fake.calls.length = 0
  })
  afterAll(async () => {
    await fake.close()
    tmp.cleanup()
  })

  it('shows the X.509-SVID, the trust bundles, the JWT-SVID and the JWT bundles, asking with the security header', async () => {
    const result = await wid(['spiffe-inspect', '--path', path, '--audience', 'example.com'])
    expect(result.code, result.stderr).toBe(0)
    expect(result.stderr).toBe('')
    const out = result.stdout
    expect(out).toContain(`Workload API: ${path}`)
    expect(out).toMatch(/X\.509-SVIDs:\n {2}spiffe:\/\/example\.org\/svc\/foo \(default\)\n {4}Hint: +web\n/)
    expect(out).toMatch(new RegExp(`Not after: +${material.notAfter.toISOString().replace(/\./g, '\\.')} \\(\\d+h\\d*m?\\d*s? left\\)`))
    expect(out).toMatch(/Key type: +ec-p256/)
    expect(out).toMatch(/URI SANs: +spiffe:\/\/example\.org\/svc\/foo/)
    expect(out).toMatch(/DNS SANs: +foo\.example\.org/)
    expect(out).toMatch(/IP SANs: +10\.0\.0\.1/)
    expect(out).toMatch(/Chain: +verified against the bundle \(1 CA\)/)
    expect(out).toMatch(/Trust bundles:\n {2}example\.org: 1 CA\n {4}O=SPIFFE, CN=example\.org CA, expires /)
    expect(out).toMatch(/ {2}other\.org \(federated\): 1 CA\n/)
    expect(out).toMatch(/JWT-SVIDs \(audience example\.com\):\n {2}spiffe:\/\/example\.org\/svc\/foo \(default\)\n {4}Hint: +web\n {4}Audience: +example\.com\n {4}Expires: +\S+ \(\d+m\d*s? left\)\n {4}Signature: +verified with the JWT bundle\n/)
    expect(out).toMatch(/JWT bundles:\n {2}example\.org: key ids jwt-key-1\n?$/)
    expect(out).not.toContain(material.jwt)
    expect(fake.calls.map((c) => c.method).sort()).toEqual(['FetchJWTBundles', 'FetchJWTSVID', 'FetchX509SVID'])
    expect(fake.calls.every((c) => c.header === 'true')).toBe(true)
    expect(fake.calls.find((c) => c.method === 'FetchJWTSVID')!.request).toEqual({audience: ['example.com'], spiffe_id: ''})
  })

  it('--json prints the same as one object; the address comes from SPIFFE_ENDPOINT_SOCKET without --path; the audience is example.com by default', async () => {
    const result = await wid(['spiffe-inspect', '--json'], {env: {SPIFFE_ENDPOINT_SOCKET: path}})
    expect(result.code, result.stderr).toBe(0)
    const report = JSON.parse(result.stdout)
    expect(Object.keys(report)).toEqual(['endpoint', 'x509Svids', 'trustBundles', 'audience', 'jwtSvids', 'jwtBundles'])
    expect(report.endpoint).toBe(path)
    expect(report.x509Svids).toHaveLength(1)
    expect(report.x509Svids[0]).toMatchObject({spiffeId: 'spiffe://example.org/svc/foo', hint: 'web', default: true, notAfter: material.notAfter.toISOString(), keyMatches: true, problems: []})
    expect(report.trustBundles.map((b: {trustDomain: string; federated: boolean}) => [b.trustDomain, b.federated])).toEqual([
      ['example.org', false],
      ['other.org', true],
    ])
    expect(report.audience).toEqual(['example.com'])
    expect(report.jwtSvids).toHaveLength(1)
    expect(report.jwtBundles).toEqual([{trustDomain: 'example.org', keyIds: ['jwt-key-1'], problems: []}])
    expect(fake.calls.map((c) => c.method).sort()).toEqual(['FetchJWTBundles', 'FetchJWTSVID', 'FetchX509SVID'])
    expect(fake.calls.find((c) => c.method === 'FetchJWTSVID')!.request).toEqual({audience: ['example.com'], spiffe_id: ''})
  })

  it('shows control characters from the endpoint escaped', async () => {
    const x509 = fake.behaviour.x509 as {svids: {hint: string}[]}
    x509.svids[0]!.hint = 'web\x1b]0;owned\x07'
    const result = await wid(['spiffe-inspect', '--path', path])
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toContain('Hint:        web\\x1b]0;owned\\x07')
    expect(result.stdout).not.toContain('\x1b')
  })

  it('a refusal prints the gRPC status line and exits 5', async () => {
    fake.behaviour.x509 = {status: grpc.status.PERMISSION_DENIED, details: 'no identity issued'}
    const result = await wid(['spiffe-inspect', '--path', path, '--audience', 'example.com'])
    expect(expectOneLineError(result)).toBe('spiffe-inspect: FetchX509SVID: PermissionDenied: no identity issued')
    expect(result.code).toBe(5)
    expect(result.stdout).toBe('')
  })

  it('--json with a refusal prints the error as JSON', async () => {
    fake.behaviour.jwtSvid = {status: grpc.status.INVALID_ARGUMENT, details: 'audience must be specified'}
    const result = await wid(['spiffe-inspect', '--path', path, '--audience', 'example.com', '--json'])
    expect(result.code).toBe(2)
    expect(JSON.parse(result.stdout)).toEqual({error: {code: 'bad_input', message: 'spiffe-inspect: FetchJWTSVID: InvalidArgument: audience must be specified'}})
  })

  describe('an endpoint that does not answer', () => {
    let silent: Server
    const silentSocket = join(tmp.path, 'silent.sock')
    beforeAll(async () => {
      // Accepts connections, reads what comes and never says a word (no HTTP/2 settings, no answer).
      silent = createServer((connection) => connection.resume())
      await new Promise<void>((resolve) => silent.listen(silentSocket, resolve))
    })
    afterAll(() => new Promise<void>((resolve) => silent.close(() => resolve())))

    it('is given up on after --timeout: one status line, exit 10', async () => {
      const started = Date.now()
      const result = await wid(['spiffe-inspect', '--path', `unix://${silentSocket}`, '--timeout', '1s'])
      expect(expectOneLineError(result)).toMatch(/^spiffe-inspect: FetchX509SVID: (DeadlineExceeded|Unavailable): /)
      expect(result.code).toBe(10)
      expect(Date.now() - started).toBeLessThan(8000)
    })
  })

  it('no socket at the address: Unavailable, exit 10', async () => {
    const result = await wid(['spiffe-inspect', '--path', `unix://${join(tmp.path, 'absent.sock')}`])
    expect(expectOneLineError(result)).toMatch(/^spiffe-inspect: FetchX509SVID: Unavailable: .*connect ENOENT .*absent\.sock$/)
    expect(result.code).toBe(10)
  })

  const bad: [string, string[], NodeJS.ProcessEnv, string][] = [
    ['a relative unix path', ['--path', 'unix://agent.sock'], {}, 'spiffe-inspect: invalid --path "unix://agent.sock": workload endpoint unix socket path is not absolute (expected unix:///ABSOLUTE/PATH or tcp://IP:PORT, e.g. unix:///run/wid/workload.sock)'],
    ['a host name', ['--path', 'tcp://localhost:8081'], {}, 'spiffe-inspect: invalid --path "tcp://localhost:8081": workload endpoint tcp socket URI host component must be an IP:port (expected unix:///ABSOLUTE/PATH or tcp://IP:PORT, e.g. unix:///run/wid/workload.sock)'],
    ['a bare path in the environment', [], {SPIFFE_ENDPOINT_SOCKET: '/run/agent.sock'}, 'spiffe-inspect: invalid SPIFFE_ENDPOINT_SOCKET "/run/agent.sock": workload endpoint socket URI must have a "tcp" or "unix" scheme (expected unix:///ABSOLUTE/PATH or tcp://IP:PORT, e.g. unix:///run/wid/workload.sock)'],
    ['no address at all', [], {SPIFFE_ENDPOINT_SOCKET: ''}, 'spiffe-inspect: give the Workload API address: --path unix:///PATH (or set SPIFFE_ENDPOINT_SOCKET)'],
    ['a bad timeout', ['--path', path, '--timeout', '10'], {}, 'invalid --timeout "10" (expected a duration such as 8h, 90m or 1h30m)'],
    ['an empty audience', ['--path', path, '--audience', ''], {}, 'spiffe-inspect: --audience must not be empty'],
  ]
  it.each(bad)('%s: one line, exit 2, nothing asked', async (_what, args, env, message) => {
    const result = await wid(['spiffe-inspect', ...args], {env})
    expect(expectOneLineError(result)).toBe(message)
    expect(result.code).toBe(2)
    expect(fake.calls).toEqual([])
  })
})

describe('wid spiffe-inspect against the bot agent (wid bot start)', () => {
  const tmp = tempDir('wid-inspect-agent-')
  const home = join(tmp.path, 'home')
  const wid = widIn(home)
  const socket = join(tmp.path, 'run', 'workload.sock')
  let agent: ChildProcess
  let log = ''

  beforeAll(async () => {
    // Other users must reach the socket: its directory's parents are traversable.
    chmodSync(tmp.path, 0o755)
    const uid = process.getuid!()
    const identity = `kind: workload_identity\nversion: v1\nmetadata:\n  name: inspected\n  labels: {app: inspect}\nspec:\n  rules:\n    allow:\n      - conditions:\n          - attribute: workload.unix.uid\n            eq: {value: ${uid}}\n  spiffe:\n    id: /svc/inspected\n    hint: inspected\n`
    const role = 'kind: role\nversion: v6\nmetadata:\n  name: inspect-issuer\nspec:\n  allow:\n    workload_identity_labels: {app: [inspect]}\n    rules:\n      - resources: [workload_identity]\n        verbs: [list, read]\n'
    expect((await wid(['init', '--cluster-name', 'example.org'])).code).toBe(0)
    for (const doc of [identity, role]) expect((await wid(['create', '-f', '-'], {input: doc})).code).toBe(0)
    expect((await wid(['bots', 'add', 'inspect-bot', '--roles', 'inspect-issuer'])).code).toBe(0)
    const config = join(tmp.path, 'bot.yaml')
    writeFileSync(config, `version: v2\nstorage:\n  type: directory\n  path: ${join(tmp.path, 'storage')}\nservices:\n  - type: workload-identity-api\n    listen: unix://${socket}\n    selector:\n      labels:\n        app: [inspect]\n`)
    agent = spawn(process.execPath, [WID_BIN, 'bot', 'start', '-c', config, '--local', '--bot', 'inspect-bot'], {env: {...process.env, WID_HOME: home, DEBUG: ''}, stdio: ['ignore', 'pipe', 'pipe']})
    agent.stdout!.on('data', (d) => (log += d))
    agent.stderr!.on('data', (d) => (log += d))
    await within(20, () => log.includes('workload api listening'), () => log)
  }, 60_000)
  afterAll(async () => {
    if (agent?.exitCode === null) {
      agent.kill('SIGTERM')
      await new Promise((resolve) => agent.once('exit', resolve))
    }
    tmp.cleanup()
  })

  it('shows the SVID the agent issued to this process, its chain and JWT-SVID verified against the agent\'s bundles', async () => {
    const result = await wid(['spiffe-inspect', '--json', '--audience', 'example.com'], {env: {SPIFFE_ENDPOINT_SOCKET: `unix://${socket}`}})
    expect(result.code, result.stderr).toBe(0)
    const report = JSON.parse(result.stdout)
    expect(report.x509Svids.map((s: {spiffeId: string; hint: string; problems: string[]}) => [s.spiffeId, s.hint, s.problems])).toEqual([['spiffe://example.org/svc/inspected', 'inspected', []]])
    expect(report.x509Svids[0].bundle).toMatchObject({verified: true})
    expect(report.trustBundles.map((b: {trustDomain: string}) => b.trustDomain)).toEqual(['example.org'])
    expect(report.jwtSvids).toHaveLength(1)
    expect(report.jwtSvids[0]).toMatchObject({spiffeId: 'spiffe://example.org/svc/inspected', audiences: ['example.com'], signatureVerified: true, problems: []})
    expect(report.jwtBundles[0].trustDomain).toBe('example.org')
    expect(report.jwtBundles[0].keyIds.length).toBeGreaterThan(0)
  })

  it('another user, whom no rule allows, gets the agent\'s PermissionDenied line', async () => {
    const result = await new Promise<RunResult>((resolve, reject) => {
      // as CI runs it: no SHELL, and a uid with no passwd entry
      const {SHELL: _shell, ...env} = process.env
      const child = spawn('setpriv', ['--reuid=2000', '--regid=2000', '--clear-groups', process.execPath, WID_BIN, 'spiffe-inspect', '--path', `unix://${socket}`], {env: {...env, HOME: tmp.path, DEBUG: ''}})
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (d) => (stdout += d))
      child.stderr.on('data', (d) => (stderr += d))
      child.on('error', reject)
      child.on('close', (code) => resolve({code: code ?? -1, stdout, stderr}))
    })
    expect(expectOneLineError(result)).toBe('spiffe-inspect: FetchX509SVID: PermissionDenied: no identity issued')
    expect(result.code).toBe(5)
  })
})
