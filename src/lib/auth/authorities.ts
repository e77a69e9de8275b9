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

const CA_VALIDITY_YEARS = 10

/**
 * A self-signed X.509 CA: CA=true, keyCertSign+cRLSign. The SPIFFE CA carries the URI SAN
 * `spiffe://<td>`; the host CA (server TLS) and client CA (user and bot certificates of
 * remote mode) are named by their purpose instead.
 */
export async function newX509AuthorityKey(
  trustDomain: TrustDomain,
  keyType: KeyType,
  now: Date,
  purpose: 'spiffe' | 'host' | 'client' = 'spiffe',
): Promise<AuthorityKey> {
  const keys = await generateKeyPair(keyType)
  const spki = await exportSpkiDer(keys.publicKey)
  const serial = randomSerial()
  const name = encodeName([
    {oid: OID.organization, value: trustDomain.name},
    {oid: OID.commonName, value: purpose === 'spiffe' ? trustDomain.name : `${trustDomain.name} ${purpose} CA`},
    {oid: OID.serialNumber, value: Buffer.from(serial).toString('hex')},
  ])
  const notAfter = new Date(now)
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + CA_VALIDITY_YEARS)
  const certificate = buildCertificate({
    serial,
    issuer: name,
    subject: name,
    notBefore: new Date(now.getTime() - 60_000),
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

/** An RS256 JWT-SVID signing key whose `kid` is its RFC 7638 thumbprint. */
export async function newJwtAuthorityKey(): Promise<AuthorityKey> {
  const {calculateJwkThumbprint} = await import('jose')
  const keys = await generateKeyPair('rsa-2048')
  const jwk = await crypto.subtle.exportKey('jwk', keys.publicKey)
  const publicJwk = {kty: jwk.kty!, n: jwk.n!, e: jwk.e!}
  const kid = await calculateJwkThumbprint(publicJwk, 'sha256')
  return {keyType: 'rsa-2048', privateKey: await exportPkcs8Pem(keys.privateKey), kid, publicJwk}
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
  return {subject: fields.subject, keyId: keyIdentifier(fields.subjectPublicKeyInfo), privateKey, keyType: type}
}

export interface JwtSigner {
  kid: string
  alg: 'RS256' | 'ES256' | 'ES384'
  privateKey: CryptoKey
}

export function jwtSigner(authority: CertAuthority): JwtSigner {
  const key = activeKey(authority)
  if (!key.kid) throw new WidError('state', 'auth: stored JWT key has no kid')
  const {privateKey, type} = importStoredKey(authority, key.privateKey)
  return {kid: key.kid, alg: keyTypeInfo(type).jwsAlg, privateKey}
}
