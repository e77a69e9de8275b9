/**
 * JWT-SVID validation as the SPIFFE JWT-SVID specification and go-spiffe's jwtsvid.ParseAndValidate
 * do it: a compact JWS with an allowed `alg` and `typ`, a `kid` found in the JWT bundle of the
 * subject's trust domain, a valid signature, a SPIFFE ID subject, `exp` in the future and the
 * audience among `aud`.
 */
import type {Jwks} from '../bundle/jwks.js'
import {ASYMMETRIC_JWS_ALGORITHMS} from '../crypto/keys.js'
import {WidError} from '../errors.js'
import {SpiffeId} from '../spiffeid/index.js'


export interface ValidatedJwtSvid {
  spiffeId: string
  claims: Record<string, unknown>
}

function invalid(reason: string): WidError {
  return new WidError('invalid_svid', `jwtsvid: ${reason}`)
}

function decodeSegment(segment: string | undefined, what: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment ?? '', 'base64url').toString('utf8'))
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>
  } catch {
    // reported below
  }
  throw invalid(`unable to parse JWT token: malformed ${what}`)
}

/** Validates `token` for `audience` against the JWT bundles, keyed by trust domain name. */
export async function validateJwtSvid(token: string, audience: string, bundles: Map<string, Jwks>, now = new Date()): Promise<ValidatedJwtSvid> {
  const parts = token.split('.')
  if (parts.length !== 3) throw invalid('unable to parse JWT token: not a compact JWS')
  const header = decodeSegment(parts[0], 'header')
  const claims = decodeSegment(parts[1], 'claims')
  if (typeof header.alg !== 'string' || !ASYMMETRIC_JWS_ALGORITHMS.includes(header.alg)) throw invalid(`unsupported token signature algorithm "${String(header.alg)}"`)
  if (header.typ !== undefined && header.typ !== 'JWT' && header.typ !== 'JOSE') throw invalid(`token header type not equal to either JWT or JOSE`)
  if (typeof header.kid !== 'string' || header.kid === '') throw invalid('token header missing key id')
  if (typeof claims.sub !== 'string') throw invalid('token missing subject claim')
  let spiffeId: SpiffeId
  try {
    spiffeId = SpiffeId.parse(claims.sub)
  } catch (error) {
    throw invalid(`token has an invalid subject claim: ${(error as Error).message}`)
  }
  const bundle = bundles.get(spiffeId.trustDomain.name)
  if (!bundle) throw invalid(`no bundle found for trust domain "${spiffeId.trustDomain.name}"`)
  const jwk = bundle.keys.find((key) => key.kid === header.kid)
  if (!jwk) throw invalid(`no JWT authority "${header.kid}" found for trust domain "${spiffeId.trustDomain.name}"`)
  const {compactVerify, importJWK} = await import('jose')
  try {
    const {use: _use, alg: _alg, ...material} = jwk
    await compactVerify(token, await importJWK(material, header.alg), {algorithms: [header.alg]})
  } catch {
    throw invalid('token signature does not verify with its JWT authority')
  }
  if (typeof claims.exp !== 'number') throw invalid('token missing exp claim')
  if (claims.exp * 1000 <= now.getTime()) throw invalid('token has expired')
  if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || claims.nbf * 1000 > now.getTime())) throw invalid('token is not valid yet')
  const aud = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud : []
  if (!aud.includes(audience)) throw invalid(`token audience ${JSON.stringify(aud)} does not contain ${JSON.stringify(audience)}`)
  return {spiffeId: spiffeId.toString(), claims}
}
