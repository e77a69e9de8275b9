import {mkdirSync} from 'node:fs'
import {join} from 'node:path'
import * as grpc from '@grpc/grpc-js'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import {WidError} from '../../../src/lib/errors.js'
import {parseEndpoint} from '../../../src/lib/workloadapi/address.js'
import {WorkloadApiClient} from '../../../src/lib/workloadapi/client.js'
import {inspectWorkloadApi} from '../../../src/lib/workloadapi/inspect.js'
import {tempDir} from '../../helpers/cli.js'
import {behaviourFor, makeMaterial, startFakeWorkloadApi, type FakeWorkloadApi, type Material} from '../../helpers/workload-api.js'

async function failure(promise: Promise<unknown>): Promise<WidError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(WidError)
  return error as WidError
}

describe('WorkloadApiClient and inspectWorkloadApi against a gRPC server built from the official proto', () => {
  const tmp = tempDir()
  const socket = join(tmp.path, 'agent.sock')
  const endpoint = {network: 'unix' as const, path: socket}
  let material: Material
  let fake: FakeWorkloadApi
  let client: WorkloadApiClient

  beforeAll(async () => {
    material = await makeMaterial(tmp.path)
    fake = await startFakeWorkloadApi(socket, behaviourFor(material))
    client = await WorkloadApiClient.connect(endpoint, {timeoutMs: 5000, errorPrefix: 'test'})
  })
  beforeEach(() => {
    fake.behaviour = behaviourFor(material)
    fake.calls.length = 0
  })
  afterAll(async () => {
    client.close()
    await fake.close()
    tmp.cleanup()
  })

  it('sends the security header on every call, and reads each answer', async () => {
    const x509 = await client.fetchX509Context()
    expect(x509.svids[0]!.spiffe_id).toBe('spiffe://example.org/svc/foo')
    expect(Buffer.from(x509.svids[0]!.x509_svid).equals(material.leafDer)).toBe(true)
    expect(Object.keys(x509.federated_bundles)).toEqual(['spiffe://other.org'])
    const jwt = await client.fetchJwtSvid(['example.com', 'other'], 'spiffe://example.org/svc/foo')
    expect(jwt.svids[0]!.svid).toBe(material.jwt)
    const bundles = await client.fetchJwtBundles()
    expect(JSON.parse(Buffer.from(bundles.bundles['spiffe://example.org']!).toString())).toEqual(material.jwks)
    const validated = await client.validateJwtSvid('example.com', material.jwt)
    expect(validated).toEqual({spiffe_id: 'spiffe://example.org/svc/foo', claims: {sub: 'spiffe://example.org/svc/foo'}})
    expect(fake.calls.map((c) => [c.method, c.header])).toEqual([
      ['FetchX509SVID', 'true'],
      ['FetchJWTSVID', 'true'],
      ['FetchJWTBundles', 'true'],
      ['ValidateJWTSVID', 'true'],
    ])
    expect(fake.calls[1]!.request).toEqual({audience: ['example.com', 'other'], spiffe_id: 'spiffe://example.org/svc/foo'})
  })

  it('a refusal names the RPC and the status: PermissionDenied is access_denied, InvalidArgument bad_input', async () => {
    fake.behaviour.x509 = {status: grpc.status.PERMISSION_DENIED, details: 'no identity issued'}
    const denied = await failure(client.fetchX509Context())
    expect([denied.code, denied.message]).toEqual(['access_denied', 'test: FetchX509SVID: PermissionDenied: no identity issued'])
    fake.behaviour.jwtSvid = {status: grpc.status.INVALID_ARGUMENT, details: 'audience must be specified'}
    const invalid = await failure(client.fetchJwtSvid([]))
    expect([invalid.code, invalid.message]).toEqual(['bad_input', 'test: FetchJWTSVID: InvalidArgument: audience must be specified'])
    const unimplemented = await failure(client.fetchX509Bundles())
    expect([unimplemented.code, unimplemented.message]).toEqual(['unavailable', 'test: FetchX509Bundles: Unimplemented: not served'])
  })

  it('a stream with no message within the deadline is DeadlineExceeded', async () => {
    fake.behaviour.jwtBundles = undefined
    const quick = await WorkloadApiClient.connect(endpoint, {timeoutMs: 300})
    const error = await failure(quick.fetchJwtBundles())
    quick.close()
    expect(error.code).toBe('unavailable')
    expect(error.message).toMatch(/^workloadapi: FetchJWTBundles: DeadlineExceeded: /)
  })

  it('talks TCP as well: tcp://127.0.0.1:PORT', async () => {
    const overTcp = await startFakeWorkloadApi('', behaviourFor(material), {tcp: true})
    try {
      const report = await inspectWorkloadApi(parseEndpoint(`tcp://127.0.0.1:${overTcp.port}`), {audience: [], timeoutMs: 5000, now: new Date()})
      expect(report.endpoint).toBe(`tcp://127.0.0.1:${overTcp.port}`)
      expect(report.x509Svids[0]!.spiffeId).toBe('spiffe://example.org/svc/foo')
      expect(overTcp.calls.map((c) => c.header)).toEqual(['true', 'true'])
    } finally {
      await overTcp.close()
    }
  })

  it('no socket is Unavailable', async () => {
    const absent = await WorkloadApiClient.connect({network: 'unix', path: join(tmp.path, 'absent.sock')})
    const error = await failure(absent.fetchX509Context())
    absent.close()
    expect(error.code).toBe('unavailable')
    expect(error.message).toMatch(/^workloadapi: FetchX509SVID: Unavailable: .*ENOENT/)
    expect(error.message).not.toMatch(/Resolution note/)
  })

  it('inspects the X.509 context, the trust bundles, a JWT-SVID and the JWT bundles', async () => {
    const report = await inspectWorkloadApi(endpoint, {audience: ['example.com'], timeoutMs: 5000, now: new Date()})
    expect(report.endpoint).toBe(`unix://${socket}`)
    expect(report.x509Svids).toHaveLength(1)
    const svid = report.x509Svids[0]!
    expect(svid).toMatchObject({spiffeId: 'spiffe://example.org/svc/foo', hint: 'web', default: true, keyType: 'ec-p256', dnsSans: ['foo.example.org'], ipSans: ['10.0.0.1'], keyMatches: true, problems: []})
    expect(svid.notAfter).toBe(material.notAfter.toISOString())
    expect(svid.bundle).toEqual({certificates: 1, verified: true})
    expect(report.trustBundles.map((b) => [b.trustDomain, b.federated, b.certificates.map((c) => c.subject), b.problems])).toEqual([
      ['example.org', false, ['O=SPIFFE, CN=example.org CA'], []],
      ['other.org', true, ['O=SPIFFE, CN=other.org CA'], []],
    ])
    expect(report.jwtSvids).toHaveLength(1)
    expect(report.jwtSvids[0]).toMatchObject({spiffeId: 'spiffe://example.org/svc/foo', hint: 'web', audiences: ['example.com'], signatureVerified: true, problems: []})
    expect(report.jwtBundles).toEqual([{trustDomain: 'example.org', keyIds: ['jwt-key-1'], problems: []}])
  })

  it('reports what is wrong with the answer instead of trusting it', async () => {
    // Given an SVID named for another ID, a key that is not the leaf's, and a JWT bundle with another key
    const otherDir = join(tmp.path, 'other')
    mkdirSync(otherDir)
    const other = await makeMaterial(otherDir)
    fake.behaviour.x509 = {svids: [{spiffe_id: 'spiffe://example.org/svc/bar', x509_svid: material.leafDer, x509_svid_key: other.keyDer, bundle: material.otherCaDer, hint: ''}]}
    fake.behaviour.jwtBundles = {bundles: {'spiffe://example.org': Buffer.from(JSON.stringify({keys: [{kty: 'oct', k: 'c2VjcmV0', kid: 'hmac'}]})), 'spiffe://bad.org': Buffer.from('not json')}}
    const report = await inspectWorkloadApi(endpoint, {audience: ['example.com'], timeoutMs: 5000, now: new Date()})
    const svid = report.x509Svids[0]!
    expect(svid.problems).toContain('spiffe-inspect: the response names "spiffe://example.org/svc/bar" but the certificate is for "spiffe://example.org/svc/foo"')
    expect(svid.problems).toContain('svid: certificate signed by unknown authority')
    expect(svid.problems).toContain('svid: leaf certificate does not match private key')
    expect(svid.keyMatches).toBe(false)
    expect(report.jwtSvids[0]!.signatureVerified).toBe(false)
    expect(report.jwtSvids[0]!.problems[0]).toMatch(/^spiffe-inspect: the JWT-SVID's signature does not verify with the JWT bundle of example.org/)
    expect(report.jwtBundles[1]).toEqual({trustDomain: 'bad.org', keyIds: [], problems: ['spiffe-inspect: the JWT bundle of bad.org is not a JWKS document']})
  })

  it('an SVID without a bundle is shown, its chain not verified', async () => {
    fake.behaviour.x509 = {svids: [{spiffe_id: 'spiffe://example.org/svc/foo', x509_svid: material.leafDer, x509_svid_key: material.keyDer}]}
    const report = await inspectWorkloadApi(endpoint, {audience: [], timeoutMs: 5000, now: new Date()})
    expect(report.x509Svids[0]!.bundle).toBeUndefined()
    expect(report.x509Svids[0]!.problems).toEqual(['spiffe-inspect: no bundle came with the SVID, so its chain is not verified'])
    expect(report.trustBundles[0]).toEqual({trustDomain: 'example.org', federated: false, certificates: [], problems: ['spiffe-inspect: the bundle of example.org is empty']})
  })

  it('ignores http_proxy: a TCP endpoint is dialled directly', async () => {
    const overTcp = await startFakeWorkloadApi('', behaviourFor(material), {tcp: true})
    const saved = {http_proxy: process.env.http_proxy, grpc_proxy: process.env.grpc_proxy}
    process.env.http_proxy = process.env.grpc_proxy = 'http://127.0.0.1:9'
    try {
      const viaTcp = await WorkloadApiClient.connect(parseEndpoint(`tcp://127.0.0.1:${overTcp.port}`), {timeoutMs: 5000})
      expect((await viaTcp.fetchX509Context()).svids).toHaveLength(1)
      viaTcp.close()
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name]
        else process.env[name] = value
      }
      await overTcp.close()
    }
  })

  it('an SVID that is not DER certificates is an error that names it', async () => {
    fake.behaviour.x509 = {svids: [{spiffe_id: 'spiffe://example.org/svc/foo', x509_svid: Buffer.from('garbage'), x509_svid_key: material.keyDer, bundle: material.caDer}]}
    const error = await failure(inspectWorkloadApi(endpoint, {audience: [], timeoutMs: 5000, now: new Date()}))
    expect([error.code, error.message]).toEqual(['invalid_svid', 'spiffe-inspect: the X.509-SVID of "spiffe://example.org/svc/foo" is not concatenated DER certificates'])
  })
})
