/**
 * `wid spiffe-inspect` (the built CLI) against a test-only Workload API server that serves
 * the official proto, and against endpoints that refuse, stay silent or are not there.
 */
import {createServer, type Server} from 'node:net'
import {join} from 'node:path'
import * as grpc from '@grpc/grpc-js'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import {expectOneLineError, tempDir, widIn} from '../helpers/cli.js'
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

  it('--json prints the same as one object; the address comes from SPIFFE_ENDPOINT_SOCKET without --path', async () => {
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
    expect(report.audience).toEqual([])
    expect(report.jwtSvids).toEqual([])
    expect(report.jwtBundles).toEqual([{trustDomain: 'example.org', keyIds: ['jwt-key-1'], problems: []}])
    expect(fake.calls.map((c) => c.method).sort()).toEqual(['FetchJWTBundles', 'FetchX509SVID'])
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
