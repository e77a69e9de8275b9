import {generateKeyPairSync, X509Certificate} from 'node:crypto'
import {beforeAll, describe, expect, it} from 'vitest'
import {AuthServer, type Caller} from '../../../src/lib/auth/auth-server.js'
import {initializeCluster} from '../../../src/lib/auth/init.js'
import {MemoryBackend} from '../../../src/lib/backend/memory.js'
import type {WorkloadIdentity} from '../../../src/lib/resources/types.js'
import {putResource} from '../../../src/lib/services/resources.js'
import {rejection} from '../../helpers/errors.js'

const admin: Caller = {kind: 'admin', name: 'root'}
const NOW = new Date('2026-11-23T10:00:00Z')
const publicKeyPem = (type: 'ec' | 'rsa' = 'ec') =>
  (type === 'ec' ? generateKeyPairSync('ec', {namedCurve: 'P-256'}) : generateKeyPairSync('rsa', {modulusLength: 2048})).publicKey.export({
    type: 'spki',
    format: 'pem',
  }) as string

describe('AuthServer issuance (frozen clock, in-memory backend)', () => {
  let auth: AuthServer
  let caCertificate: X509Certificate

  beforeAll(async () => {
    const backend = new MemoryBackend()
    const init = await initializeCluster(backend, {clusterName: 'example.org', defaultClusterName: 'unused', now: NOW})
    expect(init.created).toBe(true)
    auth = await AuthServer.open(backend, () => NOW)
    caCertificate = new X509Certificate(await auth.exportTrust('tls-spiffe'))
  })

  it('mints an X.509-SVID signed by the CA with the requested lifetime', async () => {
    // Given a client public key, When the admin asks for /svc/foo for 2h
    const svid = await auth.issueX509Svid(admin, {path: '/svc/foo', publicKey: publicKeyPem(), ttlSeconds: 7200, dnsSans: ['Foo.Example.com'], ipSans: ['::1']})
    // Then the certificate chains to the CA and carries the SPIFFE ID and SANs
    const leaf = new X509Certificate(svid.certificates[0]!)
    expect(leaf.verify(caCertificate.publicKey)).toBe(true)
    expect(leaf.checkIssued(caCertificate)).toBe(true)
    expect(leaf.subjectAltName).toBe('URI:spiffe://example.org/svc/foo, DNS:foo.example.com, IP Address:0:0:0:0:0:0:0:1')
    expect(leaf.ca).toBe(false)
    expect(svid.spiffeId).toBe('spiffe://example.org/svc/foo')
    expect(svid.notBefore).toBe('2026-11-23T09:59:00.000Z')
    expect(svid.notAfter).toBe('2026-11-23T12:00:00.000Z')
    expect(new Date(leaf.validTo).toISOString()).toBe(svid.notAfter)
    // (as hex numbers: DER adds a 00 sign byte when the top bit is set, and a serial may start with a 0 digit)
    expect(svid.serial.replace(/^0+/, '')).toBe(leaf.serialNumber.toLowerCase().replace(/^0+/, ''))
    expect(svid.bundle).toHaveLength(1)
  })

  it('gives each certificate a distinct random 128-bit serial', async () => {
    const serials = new Set<string>()
    for (let i = 0; i < 50; i++) serials.add((await auth.issueX509Svid(admin, {path: '/svc/foo', publicKey: publicKeyPem()})).serial)
    expect(serials.size).toBe(50)
    for (const serial of serials) expect(serial.length).toBeLessThanOrEqual(32)
  })

  it('certifies RSA-2048 client keys', async () => {
    const svid = await auth.issueX509Svid(admin, {path: '/svc/rsa', publicKey: publicKeyPem('rsa')})
    const leaf = new X509Certificate(svid.certificates[0]!)
    expect(leaf.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048)
  })

  it('refuses TTLs above 24h, naming the maximum', async () => {
    const error = await rejection(auth.issueX509Svid(admin, {path: '/svc/foo', publicKey: publicKeyPem(), ttlSeconds: 24 * 3600 + 1}))
    expect(error.message).toBe('svid: requested TTL 24h1s exceeds the maximum of 24h')
    expect((await rejection(auth.issueJwtSvid(admin, {path: '/svc/foo', audiences: ['a'], ttlSeconds: 25 * 3600}))).message).toMatch(/maximum of 24h/)
  })

  it('refuses a bad path, SAN or public key', async () => {
    expect((await rejection(auth.issueX509Svid(admin, {path: '/a/../b', publicKey: publicKeyPem()}))).message).toBe('spiffeid: path cannot contain dot segments')
    expect((await rejection(auth.issueX509Svid(admin, {path: '/a', publicKey: publicKeyPem(), dnsSans: ['-bad.example']}))).message).toMatch(/invalid DNS SAN/)
    expect((await rejection(auth.issueX509Svid(admin, {path: '/a', publicKey: publicKeyPem(), ipSans: ['1.2.3']}))).message).toMatch(/invalid IP SAN/)
    expect((await rejection(auth.issueX509Svid(admin, {path: '/a', publicKey: 'not a key'}))).message).toMatch(/PUBLIC KEY/)
  })

  it('signs JWT-SVIDs with the issuer, subject and audiences of the request', async () => {
    const {jwtVerify, createLocalJWKSet} = await import('jose')
    const jwks = JSON.parse(await auth.exportTrust('jwks'))
    const svid = await auth.issueJwtSvid(admin, {path: '/svc/jwt', audiences: ['sts.amazonaws.com'], ttlSeconds: 600})
    const {payload, protectedHeader} = await jwtVerify(svid.token, createLocalJWKSet(jwks), {currentDate: NOW, audience: 'sts.amazonaws.com'})
    expect(protectedHeader).toEqual({alg: 'RS256', kid: jwks.keys[0].kid, typ: 'JWT'})
    expect(payload).toEqual({
      iss: 'https://example.org/workload-identity',
      sub: 'spiffe://example.org/svc/jwt',
      aud: 'sts.amazonaws.com',
      iat: NOW.getTime() / 1000,
      exp: NOW.getTime() / 1000 + 600,
      jti: svid.jti,
    })
    const error = await rejection(auth.issueJwtSvid(admin, {path: '/svc/jwt', audiences: [' ']}))
    expect(error.message).toMatch(/at least one non-empty audience/)
  })

  it('status reports the CA pin and key id', async () => {
    const status = await auth.status()
    expect(status.clusterName).toBe('example.org')
    expect(status.caPins).toHaveLength(1)
    expect(status.caPins[0]).toMatch(/^sha256:[0-9a-f]{64}$/)
    expect(status.jwtKeyIds).toEqual([JSON.parse(await auth.exportTrust('jwks')).keys[0].kid])
  })
})

describe('the trust domain\'s own ID is never an SVID', () => {
  const BARE = "svid: an SVID needs a SPIFFE ID path: spiffe://example.org alone is the trust domain's own ID (the CA's); give a path such as /svc/foo"
  let auth: AuthServer

  beforeAll(async () => {
    const backend = new MemoryBackend()
    await initializeCluster(backend, {clusterName: 'example.org', defaultClusterName: 'unused', now: NOW})
    // A workload identity whose spec.spiffe.id renders to "": stored without the checks of
    // wid create (as by an older version), the one way a stored id can render empty
    const empty: WorkloadIdentity = {kind: 'workload_identity', version: 'v1', metadata: {name: 'empty'}, spec: {spiffe: {id: ''}}}
    await backend.atomicWrite([], [putResource(empty)])
    auth = await AuthServer.open(backend, () => NOW)
  })

  it.each(['x509', 'jwt'] as const)('refuses the empty path for a %s-SVID', async (type) => {
    // Given the local admin, who may issue any path
    // When it asks for the path "" (what an API client can send)
    const issue = type === 'x509' ? auth.issueX509Svid(admin, {path: '', publicKey: publicKeyPem()}) : auth.issueJwtSvid(admin, {path: '', audiences: ['a']})
    // Then nothing is signed for spiffe://example.org
    const error = await rejection(issue)
    expect([error.code, error.message]).toEqual(['bad_input', BARE])
  })

  it.each(['x509', 'jwt'] as const)('refuses a workload identity whose id renders empty for a %s-SVID', async (type) => {
    // Given the workload identity "empty", When the admin issues from it
    const issue = type === 'x509' ? auth.issueX509Svid(admin, {name: 'empty', publicKey: publicKeyPem()}) : auth.issueJwtSvid(admin, {name: 'empty', audiences: ['a']})
    // Then it is refused, naming the identity
    const error = await rejection(issue)
    expect([error.code, error.message]).toEqual(['access_denied', `auth: workload identity "empty" renders spec.spiffe.id to "", which is not a valid path: ${BARE}`])
  })
})

describe('initializeCluster', () => {
  it('creates exactly one cluster when raced', async () => {
    const backend = new MemoryBackend()
    const results = await Promise.all(
      Array.from({length: 5}, () => initializeCluster(backend, {defaultClusterName: 'race.example', now: NOW})),
    )
    expect(results.filter((r) => r.created)).toHaveLength(1)
    expect(new Set(results.map((r) => JSON.stringify(r.config))).size).toBe(1)
  })

  it('refuses an invalid cluster name and a non-https public address', async () => {
    const backend = new MemoryBackend()
    expect((await rejection(initializeCluster(backend, {clusterName: 'Bad_Name!', defaultClusterName: 'x', now: NOW}))).code).toBe('bad_input')
    expect((await rejection(initializeCluster(backend, {defaultClusterName: 'x.org', publicAddr: 'ftp://x', now: NOW}))).message).toMatch(/must use https/)
    expect(await backend.list('')).toEqual([])
  })
})
