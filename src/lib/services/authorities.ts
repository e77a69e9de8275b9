/**
 * Certificate authorities as stored: each has active keys (used to sign) and additional
 * trusted keys (still published in bundles), so that rotation can add and retire keys
 * without a gap in trust.
 */
import type {Backend, Item} from '../backend/backend.js'
import type {KeyType} from '../crypto/keys.js'
import {WidError} from '../errors.js'
import {parseStored} from './cluster-config.js'

/** spiffe: X.509-SVIDs; jwt: JWT-SVIDs; host: the server's TLS certificates; client: remote users' and bots' certificates. */
export type AuthorityType = 'spiffe' | 'jwt' | 'host' | 'client'

export interface AuthorityKey {
  keyType: KeyType
  /** PKCS#8 PEM; absent for keys that are trusted but held elsewhere. */
  privateKey?: string
  /** X.509 authorities: the CA certificate, PEM. */
  certificate?: string
  /** JWT authorities: the RFC 7638 thumbprint and the public JWK. */
  kid?: string
  publicJwk?: Record<string, string>
  /** JWT keys made under automatic rotation: their scheduled life (X.509 keys have their certificate's validity). */
  notBefore?: string
  notAfter?: string
}

export interface CertAuthority {
  type: AuthorityType
  clusterName: string
  activeKeys: AuthorityKey[]
  additionalTrustedKeys: AuthorityKey[]
}

export interface StoredAuthority {
  authority: CertAuthority
  revision: number
}

export const authorityKey = (type: AuthorityType): string => `/authorities/${type}`

export async function getAuthority(backend: Backend, type: AuthorityType): Promise<StoredAuthority> {
  const item = await getAuthorityItem(backend, type)
  return {authority: parseAuthority(item), revision: item.revision}
}

/** The stored item, unparsed: callers that cache by revision skip the parse. */
export async function getAuthorityItem(backend: Backend, type: AuthorityType): Promise<Item> {
  const item = await backend.get(authorityKey(type))
  if (!item) throw new WidError('state', `auth: the ${type} authority is missing from the backend; was the cluster initialised?`)
  return item
}

export function parseAuthority(item: Item): CertAuthority {
  const authority = parseStored<CertAuthority>(item.value, item.key)
  if (!authority || !Array.isArray(authority.activeKeys) || !Array.isArray(authority.additionalTrustedKeys)) {
    throw new WidError('state', `backend: stored authority at ${item.key} is damaged (no key lists)`)
  }
  return authority
}

/** Active keys first, then additional trusted keys: everything a relying party should trust. */
export function trustedKeys(authority: CertAuthority): AuthorityKey[] {
  return [...authority.activeKeys, ...authority.additionalTrustedKeys]
}
