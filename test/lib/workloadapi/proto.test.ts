import {fileURLToPath} from 'node:url'
import protobuf from 'protobufjs'
import {beforeAll, describe, expect, it} from 'vitest'
import {workloadApiService} from '../../../src/lib/workloadapi/proto.js'

const PROTO = fileURLToPath(new URL('../../../../shared/spec/workload.proto', import.meta.url))

describe('Workload API messages against the official proto', () => {
  let official: protobuf.Root
  beforeAll(async () => {
    official = new protobuf.Root()
    official.resolvePath = (origin, target) => (target.startsWith('google/protobuf/') ? target : protobuf.util.path.resolve(origin, target))
    await official.load(PROTO, {keepCase: true})
  })

  it('X509SVIDResponse: ours decodes by the official layout, field for field', () => {
    const bytes = workloadApiService.FetchX509SVID.responseSerialize({
      svids: [{spiffe_id: 'spiffe://example.org/a', x509_svid: Buffer.from([1, 2]), x509_svid_key: Buffer.from([3]), bundle: Buffer.from([4, 5]), hint: 'h'}],
      crl: [],
      federated_bundles: {'spiffe://other.org': Buffer.from([6])},
    })
    const decoded = official.lookupType('X509SVIDResponse').toObject(official.lookupType('X509SVIDResponse').decode(bytes), {bytes: Array})
    expect(decoded).toEqual({
      svids: [{spiffe_id: 'spiffe://example.org/a', x509_svid: [1, 2], x509_svid_key: [3], bundle: [4, 5], hint: 'h'}],
      federated_bundles: {'spiffe://other.org': [6]},
    })
  })

  it('JWTSVIDRequest: the official encoding decodes to ours, defaults filled', () => {
    const type = official.lookupType('JWTSVIDRequest')
    const bytes = Buffer.from(type.encode(type.fromObject({audience: ['a', 'b']})).finish())
    expect(workloadApiService.FetchJWTSVID.requestDeserialize(bytes)).toEqual({audience: ['a', 'b'], spiffe_id: ''})
    expect(workloadApiService.FetchJWTSVID.requestDeserialize(Buffer.alloc(0))).toEqual({audience: [], spiffe_id: ''})
  })

  it('ValidateJWTSVIDResponse: claims round-trip through google.protobuf.Struct', () => {
    const claims = {sub: 'spiffe://example.org/a', aud: ['x', 'y'], exp: 1700000000, nested: {ok: true, none: null}}
    const bytes = workloadApiService.ValidateJWTSVID.responseSerialize({spiffe_id: 'spiffe://example.org/a', claims})
    const type = official.lookupType('ValidateJWTSVIDResponse')
    const viaOfficial = type.toObject(type.decode(bytes)) as {claims: {fields: Record<string, unknown>}}
    expect(Object.keys(viaOfficial.claims.fields).sort()).toEqual(['aud', 'exp', 'nested', 'sub'])
    expect(workloadApiService.ValidateJWTSVID.responseDeserialize(bytes)).toEqual({spiffe_id: 'spiffe://example.org/a', claims})
  })

  it('JWTBundlesResponse and X509BundlesResponse keep their maps', () => {
    const jwks = Buffer.from('{"keys":[]}')
    const jwt = workloadApiService.FetchJWTBundles
    expect(jwt.responseDeserialize(jwt.responseSerialize({bundles: {'spiffe://example.org': jwks}}))).toEqual({bundles: {'spiffe://example.org': jwks}})
    const x509 = workloadApiService.FetchX509Bundles
    expect(x509.responseDeserialize(x509.responseSerialize({crl: [], bundles: {'spiffe://example.org': Buffer.from([9])}}))).toEqual({crl: [], bundles: {'spiffe://example.org': Buffer.from([9])}})
  })
})
