/**
 * validateJwtSvid against tokens signed with jose: what the SPIFFE JWT-SVID specification
 * accepts, and each refusal with its exact message.
 */
import {exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTHeaderParameters} from 'jose'
import {beforeAll, describe, expect, it} from 'vitest'
import type {Jwks} from '../../../src/lib/bundle/jwks.js'
import {validateJwtSvid} from '../../../src/lib/svid/jwt-validate.js'

const SUBJECT = 'spiffe://example.org/svc/api'
const NOW = new Date('2030-01-01T00:00:00Z')
const seconds = (date: Date) => Math.floor(date.getTime() / 1000)

let ecKey: CryptoKey
let rsaKey: CryptoKey
let otherKey: CryptoKey
let bundles: Map<string, Jwks>

beforeAll(async () => {
  const ec = await generateKeyPair('ES256')
  const rsa = await generateKeyPair('RS256')
  const other = await generateKeyPair('ES256')
  ecKey = ec.privateKey
  rsaKey = rsa.privateKey
  otherKey = other.privateKey
  const jwk = async (key: CryptoKey, kid: string, alg: string) => ({...(await exportJWK(key)), kid, use: 'sig', alg}) as Jwks['keys'][number]
  bundles = new Map([['example.org', {keys: [await jwk(ec.publicKey, 'ec-1', 'ES256'), await jwk(rsa.publicKey, 'rsa-1', 'RS256'), await jwk(other.publicKey, 'ec-2', 'ES256')]}]])
})

interface TokenOptions {
  header?: Partial<JWTHeaderParameters>
  claims?: Record<string, unknown>
  key?: CryptoKey
}

/** A JWT-SVID for SUBJECT and audience "api", valid at NOW, signed with the EC key under kid ec-1 unless told. */
function token(options: TokenOptions = {}): Promise<string> {
  const header = {alg: 'ES256', typ: 'JWT', kid: 'ec-1', ...options.header} as JWTHeaderParameters
  const claims = {sub: SUBJECT, aud: 'api', exp: seconds(NOW) + 300, iat: seconds(NOW), ...options.claims}
  return new SignJWT(claims).setProtectedHeader(header).sign(options.key ?? ecKey)
}

async function refusal(jwt: string | Promise<string>, audience = 'api'): Promise<{code: string; message: string}> {
  const error = await validateJwtSvid(await jwt, audience, bundles, NOW).then(
    () => {
      throw new Error('the token was accepted')
    },
    (thrown: unknown) => thrown as {code: string; message: string},
  )
  return {code: error.code, message: error.message}
}

const segment = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

describe('validateJwtSvid', () => {
  it('accepts an ES256 token and returns its subject and claims', async () => {
    const validated = await validateJwtSvid(await token(), 'api', bundles, NOW)
    expect(validated).toEqual({spiffeId: SUBJECT, claims: {sub: SUBJECT, aud: 'api', exp: seconds(NOW) + 300, iat: seconds(NOW)}})
  })

  it('accepts an RS256 token, a JOSE typ, no typ, and an audience among several', async () => {
    const rs = await token({header: {alg: 'RS256', kid: 'rsa-1'}, key: rsaKey})
    expect((await validateJwtSvid(rs, 'api', bundles, NOW)).spiffeId).toBe(SUBJECT)
    expect((await validateJwtSvid(await token({header: {typ: 'JOSE'}}), 'api', bundles, NOW)).spiffeId).toBe(SUBJECT)
    expect((await validateJwtSvid(await token({header: {typ: undefined}}), 'api', bundles, NOW)).spiffeId).toBe(SUBJECT)
    expect((await validateJwtSvid(await token({claims: {aud: ['web', 'api']}}), 'api', bundles, NOW)).spiffeId).toBe(SUBJECT)
  })

  it('refuses alg none and HS256', async () => {
    const none = `${segment({alg: 'none', typ: 'JWT', kid: 'ec-1'})}.${segment({sub: SUBJECT, aud: 'api', exp: seconds(NOW) + 300})}.`
    expect(await refusal(none)).toEqual({code: 'invalid_svid', message: 'jwtsvid: unsupported token signature algorithm "none"'})
    const hs = new SignJWT({sub: SUBJECT, aud: 'api', exp: seconds(NOW) + 300}).setProtectedHeader({alg: 'HS256', typ: 'JWT', kid: 'ec-1'}).sign(new Uint8Array(32))
    expect(await refusal(hs)).toEqual({code: 'invalid_svid', message: 'jwtsvid: unsupported token signature algorithm "HS256"'})
  })

  it('refuses a typ other than JWT or JOSE', async () => {
    expect(await refusal(token({header: {typ: 'at+jwt'}}))).toEqual({code: 'invalid_svid', message: 'jwtsvid: token header type not equal to either JWT or JOSE'})
  })

  it('refuses a token without a kid, and one whose kid the bundle lacks', async () => {
    expect(await refusal(token({header: {kid: undefined}}))).toEqual({code: 'invalid_svid', message: 'jwtsvid: token header missing key id'})
    expect(await refusal(token({header: {kid: 'gone'}}))).toEqual({code: 'invalid_svid', message: 'jwtsvid: no JWT authority "gone" found for trust domain "example.org"'})
  })

  it('refuses a subject that is not a SPIFFE ID, or missing', async () => {
    expect(await refusal(token({claims: {sub: 'https://example.org/svc/api'}}))).toEqual({
      code: 'invalid_svid',
      message: 'jwtsvid: token has an invalid subject claim: spiffeid: scheme is missing or invalid',
    })
    expect(await refusal(token({claims: {sub: undefined}}))).toEqual({code: 'invalid_svid', message: 'jwtsvid: token missing subject claim'})
  })

  it('refuses a subject of a trust domain without a bundle', async () => {
    expect(await refusal(token({claims: {sub: 'spiffe://other.org/svc/api'}}))).toEqual({code: 'invalid_svid', message: 'jwtsvid: no bundle found for trust domain "other.org"'})
  })

  it('refuses a signature by another key of the bundle than the kid names', async () => {
    expect(await refusal(token({key: otherKey}))).toEqual({code: 'invalid_svid', message: 'jwtsvid: token signature does not verify with its JWT authority'})
  })

  it('refuses an expired token and one without exp', async () => {
    expect(await refusal(token({claims: {exp: seconds(NOW) - 1}}))).toEqual({code: 'invalid_svid', message: 'jwtsvid: token has expired'})
    expect(await refusal(token({claims: {exp: undefined}}))).toEqual({code: 'invalid_svid', message: 'jwtsvid: token missing exp claim'})
  })

  it('refuses a token that is not valid yet (nbf), and accepts one whose nbf has passed', async () => {
    expect(await refusal(token({claims: {nbf: seconds(NOW) + 60}}))).toEqual({code: 'invalid_svid', message: 'jwtsvid: token is not valid yet'})
    expect(await refusal(token({claims: {nbf: 'soon'}}))).toEqual({code: 'invalid_svid', message: 'jwtsvid: token is not valid yet'})
    expect((await validateJwtSvid(await token({claims: {nbf: seconds(NOW) - 60}}), 'api', bundles, NOW)).spiffeId).toBe(SUBJECT)
  })

  it('refuses an audience that aud does not contain, as a string or an array', async () => {
    expect(await refusal(token(), 'web')).toEqual({code: 'invalid_svid', message: 'jwtsvid: token audience ["api"] does not contain "web"'})
    expect(await refusal(token({claims: {aud: ['api', 'db']}}), 'web')).toEqual({code: 'invalid_svid', message: 'jwtsvid: token audience ["api","db"] does not contain "web"'})
  })

  it('refuses malformed tokens', async () => {
    const good = (await token()).split('.')
    expect(await refusal('a.b')).toEqual({code: 'invalid_svid', message: 'jwtsvid: unable to parse JWT token: not a compact JWS'})
    expect(await refusal(`${good.join('.')}.extra`)).toEqual({code: 'invalid_svid', message: 'jwtsvid: unable to parse JWT token: not a compact JWS'})
    expect(await refusal(`!!.${good[1]}.${good[2]}`)).toEqual({code: 'invalid_svid', message: 'jwtsvid: unable to parse JWT token: malformed header'})
    expect(await refusal(`${segment([1])}.${good[1]}.${good[2]}`)).toEqual({code: 'invalid_svid', message: 'jwtsvid: unable to parse JWT token: malformed header'})
    expect(await refusal(`${good[0]}.bm90IGpzb24.${good[2]}`)).toEqual({code: 'invalid_svid', message: 'jwtsvid: unable to parse JWT token: malformed claims'})
  })

  it('refuses a payload altered after signing', async () => {
    const [header, , signature] = (await token()).split('.')
    const forged = `${header}.${segment({sub: 'spiffe://example.org/svc/admin', aud: 'api', exp: seconds(NOW) + 300})}.${signature}`
    expect(await refusal(forged)).toEqual({code: 'invalid_svid', message: 'jwtsvid: token signature does not verify with its JWT authority'})
  })
})
