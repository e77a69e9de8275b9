/**
 * SPIFFE bundles (the SPIFFE Trust Domain and Bundle spec): a JWK set with `x509-svid`
 * keys (one certificate in `x5c`, no `kid`) and `jwt-svid` keys (`kid` required), plus
 * `spiffe_sequence` and `spiffe_refresh_hint`.
 */
import {X509Certificate} from 'node:crypto'
import type {AuthorityKey} from '../services/authorities.js'
import type {Jwk} from './jwks.js'

export const DEFAULT_REFRESH_HINT_SECONDS = 300

export interface SpiffeBundle {
  keys: Jwk[]
  spiffe_sequence: number
  spiffe_refresh_hint: number
}

export function buildSpiffeBundle(
  x509Authorities: Uint8Array[],
  jwtKeys: AuthorityKey[],
  sequence: number,
  refreshHint = DEFAULT_REFRESH_HINT_SECONDS,
): SpiffeBundle {
  const x509Keys = x509Authorities.map((der): Jwk => {
    const jwk = new X509Certificate(der).publicKey.export({format: 'jwk'})
    return {...jwk, kty: jwk.kty!, use: 'x509-svid', x5c: [Buffer.from(der).toString('base64')]}
  })
  const jwtEntries = jwtKeys
    .filter((k) => k.publicJwk && k.kid)
    .map((k): Jwk => ({...k.publicJwk!, kty: k.publicJwk!.kty!, use: 'jwt-svid', kid: k.kid!}))
  return {keys: [...x509Keys, ...jwtEntries], spiffe_sequence: sequence, spiffe_refresh_hint: refreshHint}
}
