/** Creating CA keys and turning stored authorities into signers. */
import {
  basicConstraints,
  buildCertificate,
  encodeName,
  KeyUsage,
  keyIdentifier,
  keyUsage,
  OID,
  randomSerial,
  readCertificateFields,
  subjectAltName,
  subjectKeyIdentifier,
} from '../crypto/certificate.js'
import {exportPkcs8Pem, exportSpkiDer, generateKeyPair, importPrivateKeyPem, keyTypeInfo, type KeyType} from '../crypto/keys.js'
import {decodePem, encodePem} from '../crypto/pem.js'
import {WidError} from '../errors.js'
import type {AuthorityKey, CertAuthority} from '../services/authorities.js'
import type {TrustDomain} from '../spiffeid/index.js'
import type {SigningAuthority} from '../svid/x509.js'
import {isoString} from '../time.js'

const CA_VALIDITY_YEARS = 10
/** A CA's notBefore is backdated, as an SVID's is, for relying parties whose clock is behind. */
const CA_BACKDATE_MS = 60_000

/**
 * A self-signed X.509 CA: CA=true, keyCertSign+cRLSign. The SPIFFE CA carries the URI SAN
 * `spiffe://<td>`; the host CA (server TLS) and client CA (user and bot certificates of
 * remote mode) are named by their purpose instead. It is valid for `lifetimeSeconds` from
 * its backdated notBefore (an automatically rotated CA's ca_ttl), or else for ten years.
 */
export async function newX509AuthorityKey(
  trustDomain: TrustDomain,
  keyType: KeyType,
  now: Date,
  purpose: 'spiffe' | 'host' | 'client' = 'spiffe',
  lifetimeSeconds?: number,
): Promise<AuthorityKey> {
  const keys = await generateKeyPair(keyType)
  const spki = await exportSpkiDer(keys.publicKey)
  const serial = randomSerial()
  const name = encodeName([
    {oid: OID.organization, value: trustDomain.name},
    {oid: OID.commonName, value: purpose === 'spiffe' ? trustDomain.name : `${trustDomain.name} ${purpose} CA`},
    {oid: OID.serialNumber, value: Buffer.from(serial).toString('hex')},
  ])
  const notBefore = new Date(now.getTime() - CA_BACKDATE_MS)
  const notAfter = lifetimeSeconds === undefined ? new Date(now) : new Date(notBefore.getTime() + lifetimeSeconds * 1000)
  if (lifetimeSeconds === undefined) notAfter.setUTCFullYear(notAfter.getUTCFullYear() + CA_VALIDITY_YEARS)
  const certificate = buildCertificate({
    serial,
    issuer: name,
    subject: name,
    notBefore,
    notAfter,
    subjectPublicKeyInfo: spki,
    signer: {privateKey: keys.privateKey, type: keyType},
    extensions: [
      basicConstraints(true),
      keyUsage([KeyUsage.keyCertSign, KeyUsage.cRLSign]),
      subjectKeyIdentifier(keyIdentifier(spki)),
      ...(purpose === 'spiffe' ? [subjectAltName([{type: 'uri', value: trustDomain.idString()}], false)] : []),
    ],
  })
  return {keyType, privateKey: await exportPkcs8Pem(keys.privateKey), certificate: encodePem('CERTIFICATE', certificate)}
}

/**
 * An RS256 JWT-SVID signing key whose `kid` is its RFC 7638 thumbprint. A JWT key has no
 * expiry of its own: an automatically rotated one gets a scheduled life of
 * `lifetimeSeconds` (its ca_ttl), which no JWT-SVID it signs outlives.
 */
export async function newJwtAuthorityKey(now?: Date, lifetimeSeconds?: number): Promise<AuthorityKey> {
  const {calculateJwkThumbprint} = await import('jose')
  const keys = await generateKeyPair('rsa-2048')
  const jwk = await crypto.subtle.exportKey('jwk', keys.publicKey)
  const publicJwk = {kty: jwk.kty!, n: jwk.n!, e: jwk.e!}
  const kid = await calculateJwkThumbprint(publicJwk, 'sha256')
  const life = now && lifetimeSeconds !== undefined ? {notBefore: isoString(now), notAfter: isoString(new Date(now.getTime() + lifetimeSeconds * 1000))} : {}
  return {keyType: 'rsa-2048', privateKey: await exportPkcs8Pem(keys.privateKey), kid, publicJwk, ...life}
}

/** Stored CA keys that do not parse are damage to the store, not bad input. */
function importStoredKey(authority: CertAuthority, pem: string): ReturnType<typeof importPrivateKeyPem> {
  try {
    return importPrivateKeyPem(pem)
  } catch {
    throw new WidError('state', `auth: the stored ${authority.type} authority key is damaged`)
  }
}

function activeKey(authority: CertAuthority): AuthorityKey & {privateKey: string} {
  const key = authority.activeKeys.find((k) => k.privateKey)
  if (!key?.privateKey) throw new WidError('state', `auth: the ${authority.type} authority has no active signing key`)
  return key as AuthorityKey & {privateKey: string}
}

export function certificateDer(key: AuthorityKey): Uint8Array {
  const block = key.certificate ? decodePem(key.certificate)[0] : undefined
  if (!block) throw new WidError('state', 'auth: stored authority key has no certificate')
  return block.der
}

export function x509Signer(authority: CertAuthority): SigningAuthority {
  const key = activeKey(authority)
  const fields = readCertificateFields(certificateDer(key))
  const {privateKey, type} = importStoredKey(authority, key.privateKey)
  return {subject: fields.subject, keyId: keyIdentifier(fields.subjectPublicKeyInfo), privateKey, keyType: type, notAfter: fields.notAfter}
}

export interface JwtSigner {
  kid: string
  alg: 'RS256' | 'ES256' | 'ES384'
  privateKey: CryptoKey
  /** The end of the key's scheduled life (automatic rotation), which no JWT-SVID it signs outlives. */
  notAfter?: Date
}

export function jwtSigner(authority: CertAuthority): JwtSigner {
  const key = activeKey(authority)
  if (!key.kid) throw new WidError('state', 'auth: stored JWT key has no kid')
  const {privateKey, type} = importStoredKey(authority, key.privateKey)
  return {kid: key.kid, alg: keyTypeInfo(type).jwsAlg, privateKey, ...(key.notAfter ? {notAfter: new Date(key.notAfter)} : {})}
}
