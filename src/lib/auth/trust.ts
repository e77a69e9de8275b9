/** The cluster's public trust material, as every export and published document shows it: never a private key. */
import type {Backend} from '../backend/backend.js'
import {buildJwks} from '../bundle/jwks.js'
import {buildSpiffeBundle} from '../bundle/spiffe-bundle.js'
import {authorityKey, getAuthority, parseAuthority, trustedKeys, type AuthorityType} from '../services/authorities.js'
import {certificateDer} from './authorities.js'
import {AUTHORITY_TYPES, keyId, refreshHintSeconds, rotationStatus, type RotationStatus} from './rotation.js'

export const TRUST_EXPORT_TYPES = ['tls-spiffe', 'jwks', 'spiffe-bundle'] as const
export type TrustExportType = (typeof TRUST_EXPORT_TYPES)[number]

/** PEM certificates of every trusted key of an X.509 authority: the signing one first. */
export async function trustedCertificates(backend: Backend, type: AuthorityType): Promise<string[]> {
  return trustedKeys((await getAuthority(backend, type)).authority).map((k) => k.certificate!)
}

/** Every trusted key, from a rotation's init until its standby: the new key before it signs, the old one after. */
export async function exportTrust(backend: Backend, type: TrustExportType): Promise<string> {
  if (type === 'tls-spiffe') return (await trustedCertificates(backend, 'spiffe')).join('')
  if (type === 'jwks') {
    const {authority} = await getAuthority(backend, 'jwt')
    return JSON.stringify(buildJwks(trustedKeys(authority)), null, 2) + '\n'
  }
  const spiffe = await getAuthority(backend, 'spiffe')
  const jwt = await getAuthority(backend, 'jwt')
  const bundle = buildSpiffeBundle(
    trustedKeys(spiffe.authority).map(certificateDer),
    trustedKeys(jwt.authority),
    Math.max(spiffe.revision, jwt.revision),
    refreshHintSeconds([spiffe.authority, jwt.authority]),
  )
  return JSON.stringify(bundle, null, 2) + '\n'
}

/** Each stored CA's rotation: phase, signing key, trusted keys. */
export async function rotationStatuses(backend: Backend): Promise<RotationStatus[]> {
  const items = await Promise.all(AUTHORITY_TYPES.map((type) => backend.get(authorityKey(type))))
  return items.filter((item) => item !== undefined).map((item) => rotationStatus(parseAuthority(item)))
}

/**
 * What a trust watch reports: `sequence` changes with every change of the SPIFFE or JWT
 * authority (it is the SPIFFE bundle's `spiffe_sequence`: the store revision of the later
 * write), and `signing` names the key each of them signs with (as keyId does), so that a
 * client tells a key newly trusted (init) from a new signing key (update_clients).
 */
export interface TrustState {
  sequence: number
  signing: {spiffe: string; jwt: string}
}

export async function trustState(backend: Backend): Promise<TrustState> {
  const [spiffe, jwt] = await Promise.all([getAuthority(backend, 'spiffe'), getAuthority(backend, 'jwt')])
  return {sequence: Math.max(spiffe.revision, jwt.revision), signing: {spiffe: keyId(spiffe.authority.activeKeys[0]!), jwt: keyId(jwt.authority.activeKeys[0]!)}}
}
