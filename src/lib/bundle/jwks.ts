/** JWKS documents of the cluster's JWT-SVID keys, for OIDC relying parties such as AWS STS. */
import type {AuthorityKey} from '../services/authorities.js'
import {keyTypeInfo} from '../crypto/keys.js'

export interface Jwk {
  kty: string
  kid?: string
  use?: string
  alg?: string
  [member: string]: unknown
}

export interface Jwks {
  keys: Jwk[]
}

/** Every trusted JWT key with `use: sig`, `kid` and `alg`, as OIDC discovery serves it. */
export function buildJwks(keys: AuthorityKey[]): Jwks {
  return {
    keys: keys
      .filter((k) => k.publicJwk && k.kid)
      .map((k) => ({...k.publicJwk!, kty: k.publicJwk!.kty!, use: 'sig', kid: k.kid!, alg: keyTypeInfo(k.keyType).jwsAlg})),
  }
}
