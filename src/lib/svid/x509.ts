/** X.509-SVID minting (the CA side). Validation of SVIDs read from files is in ./inspect.ts. */
import {
  authorityKeyIdentifier,
  basicConstraints,
  buildCertificate,
  buildCertificateSignedBy,
  encodeExtension,
  encodeName,
  extKeyUsage,
  KeyUsage,
  keyUsage,
  OID,
  randomSerial,
  subjectAltName,
  type GeneralName,
  type NameAttribute,
} from '../crypto/certificate.js'
import type {KeyType} from '../crypto/keys.js'
import type {SigningThreads} from '../crypto/signing-threads.js'
import type {SpiffeId} from '../spiffeid/index.js'

/** A CA ready to sign: its certificate's subject and key id, and its private key. */
export interface SigningAuthority {
  subject: Uint8Array
  keyId: Uint8Array
  privateKey: CryptoKey
  keyType: KeyType
  /** The CA certificate's notAfter: nothing it signs may outlive it. */
  notAfter?: Date
  /** Where the signatures are made: on these threads, or (without) in place. */
  threads?: SigningThreads
}

export interface X509SvidTemplate {
  spiffeId: SpiffeId
  subjectPublicKeyInfo: Uint8Array
  /** The key type of subjectPublicKeyInfo, already checked by the caller. */
  subjectKeyType: KeyType
  notBefore: Date
  notAfter: Date
  dnsSans: string[]
  ipSans: string[]
  subject?: NameAttribute[]
}

export interface MintedCertificate {
  der: Uint8Array
  serial: Uint8Array
}

/**
 * Mints an X.509-SVID leaf: one URI SAN, CA=false, critical keyUsage with digitalSignature
 * (+ keyEncipherment for RSA, keyAgreement for EC keys), EKU serverAuth+clientAuth. The
 * subject is empty unless given, and RFC 5280 §4.2.1.6 then requires a critical SAN. The
 * signature is made on the CA's signing threads when it has them.
 */
export async function mintX509Svid(ca: SigningAuthority, t: X509SvidTemplate): Promise<MintedCertificate> {
  const serial = randomSerial()
  const names: GeneralName[] = [
    {type: 'uri', value: t.spiffeId.toString()},
    ...t.dnsSans.map((value): GeneralName => ({type: 'dns', value})),
    ...t.ipSans.map((value): GeneralName => ({type: 'ip', value})),
  ]
  const subject = t.subject ?? []
  const template = {
    serial,
    issuer: ca.subject,
    subject: subject.length === 0 ? EMPTY_NAME : encodeName(subject),
    notBefore: t.notBefore,
    notAfter: t.notAfter,
    subjectPublicKeyInfo: t.subjectPublicKeyInfo,
    signer: {privateKey: ca.privateKey, type: ca.keyType},
    extensions: [...fixedExtensions(ca, t.subjectKeyType), subjectAltName(names, subject.length === 0)],
  }
  const {threads} = ca
  const der = threads ? await buildCertificateSignedBy(template, (tbs) => threads.sign(ca.privateKey, ca.keyType, tbs)) : buildCertificate(template)
  return {der, serial}
}

const EMPTY_NAME = encodeName([])

const fixedExtensionCache = new WeakMap<SigningAuthority, Map<KeyType, Uint8Array[]>>()

/** The extensions every leaf of this CA and key type shares, encoded once. */
function fixedExtensions(ca: SigningAuthority, keyType: KeyType): Uint8Array[] {
  let byType = fixedExtensionCache.get(ca)
  if (!byType) fixedExtensionCache.set(ca, (byType = new Map()))
  let encoded = byType.get(keyType)
  if (!encoded) {
    const usage = [KeyUsage.digitalSignature, keyType === 'rsa-2048' ? KeyUsage.keyEncipherment : KeyUsage.keyAgreement]
    encoded = [
      keyUsage(usage),
      extKeyUsage([OID.serverAuth, OID.clientAuth]),
      basicConstraints(false),
      authorityKeyIdentifier(ca.keyId),
    ].map(encodeExtension)
    byType.set(keyType, encoded)
  }
  return encoded
}
