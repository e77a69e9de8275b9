/**
 * Builds and reads X.509 certificates with the DER helpers in ./der.ts. Only the fields
 * wid issues are supported; parsing for display and validation uses @peculiar/x509
 * (see svid/inspect) where start-up cost does not matter.
 */
import {createHash} from 'node:crypto'
import {isIP} from 'node:net'
import * as der from './der.js'
import {keyTypeInfo, signDer, type KeyType} from './keys.js'
import {pooledRandomBytes} from './random.js'

export const OID = {
  commonName: '2.5.4.3',
  serialNumber: '2.5.4.5',
  organization: '2.5.4.10',
  organizationalUnit: '2.5.4.11',
  country: '2.5.4.6',
  pseudonym: '2.5.4.65',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const

export const KeyUsage = {
  digitalSignature: 0,
  keyEncipherment: 2,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
} as const

export interface NameAttribute {
  oid: string
  value: string
}

export interface Extension {
  oid: string
  critical: boolean
  value: der.Part
}

export type GeneralName = {type: 'uri' | 'dns' | 'ip'; value: string}

export interface CertificateTemplate {
  serial: Uint8Array
  issuer: der.Der
  subject: der.Der
  notBefore: Date
  notAfter: Date
  subjectPublicKeyInfo: Uint8Array
  /** Extensions, or their DER from encodeExtension. */
  extensions: (Extension | der.Der)[]
  signer: {privateKey: CryptoKey; type: KeyType}
}

const PRINTABLE_ATTRIBUTES = new Set<string>([OID.country, OID.serialNumber])

/** A distinguished name; an empty list gives the empty name. */
export function encodeName(attributes: NameAttribute[]): der.Der {
  return der.sequence(
    ...attributes.map((a) =>
      der.set(
        der.sequence(der.oid(a.oid), PRINTABLE_ATTRIBUTES.has(a.oid) ? der.printableString(a.value) : der.utf8String(a.value)),
      ),
    ),
  )
}

/** A random positive 128-bit serial number (RFC 5280 allows up to 20 octets). */
export function randomSerial(): Uint8Array {
  let bytes = pooledRandomBytes(16)
  while (bytes[0] === 0) bytes = pooledRandomBytes(16)
  return bytes
}

export function basicConstraints(ca: boolean): Extension {
  return {oid: OID.basicConstraints, critical: true, value: ca ? der.sequence(der.boolean(true)) : der.sequence()}
}

export function keyUsage(bits: number[]): Extension {
  return {oid: OID.keyUsage, critical: true, value: der.namedBits(bits)}
}

export function extKeyUsage(oids: string[]): Extension {
  return {oid: OID.extKeyUsage, critical: false, value: der.sequence(...oids.map((o) => der.oid(o)))}
}

/** The 4 or 16 address bytes of an IP SAN; `value` must already satisfy net.isIP. */
function ipBytes(value: string): Uint8Array {
  if (isIP(value) === 4) return Uint8Array.from(value.split('.').map(Number))
  const [head = '', tail = ''] = value.includes('::') ? value.split('::') : [value, '']
  const groups = (s: string) => (s ? s.split(':') : [])
  let headGroups = groups(head)
  let tailGroups = groups(tail)
  const last = (tailGroups.length > 0 ? tailGroups : headGroups).at(-1) ?? ''
  const v4 = last.includes('.') ? ipBytes(last) : undefined
  if (v4) {
    const v4Groups = [((v4[0]! << 8) | v4[1]!).toString(16), ((v4[2]! << 8) | v4[3]!).toString(16)]
    if (tailGroups.length > 0) tailGroups = [...tailGroups.slice(0, -1), ...v4Groups]
    else headGroups = [...headGroups.slice(0, -1), ...v4Groups]
  }
  const all = [...headGroups, ...Array(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups]
  const out = new Uint8Array(16)
  all.forEach((g, i) => {
    const n = parseInt(g, 16)
    out[i * 2] = n >> 8
    out[i * 2 + 1] = n & 0xff
  })
  return out
}

export function subjectAltName(names: GeneralName[], critical: boolean): Extension {
  const encoded = names.map((n) => {
    if (n.type === 'uri') return der.element(0x86, [der.ascii(n.value)])
    if (n.type === 'dns') return der.element(0x82, [der.ascii(n.value)])
    return der.element(0x87, [ipBytes(n.value)])
  })
  return {oid: OID.subjectAltName, critical, value: der.element(0x30, encoded)}
}

export function subjectKeyIdentifier(keyId: Uint8Array): Extension {
  return {oid: OID.subjectKeyIdentifier, critical: false, value: der.octetString(keyId)}
}

export function authorityKeyIdentifier(keyId: Uint8Array): Extension {
  return {oid: OID.authorityKeyIdentifier, critical: false, value: der.sequence(der.implicitPrimitive(0, keyId))}
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
export function keyIdentifier(subjectPublicKeyInfo: Uint8Array): Uint8Array {
  const [, publicKey] = der.readChildren(der.readTlv(subjectPublicKeyInfo).value)
  return new Uint8Array(createHash('sha1').update(publicKey!.value.subarray(1)).digest())
}

const algorithmIdentifiers = new Map<KeyType, der.Der>()

function algorithmIdentifier(type: KeyType): der.Der {
  let encoded = algorithmIdentifiers.get(type)
  if (!encoded) {
    const {signatureOid} = keyTypeInfo(type)
    encoded = type === 'rsa-2048' ? der.sequence(der.oid(signatureOid), der.nullValue()) : der.sequence(der.oid(signatureOid))
    algorithmIdentifiers.set(type, encoded)
  }
  return encoded
}

/** [0] EXPLICIT INTEGER 2: every certificate wid builds is X.509 v3. */
const VERSION_3 = der.explicit(0, der.smallInteger(2))
const CRITICAL = der.boolean(true)

function extensionElement(e: Extension): der.Element {
  const value = der.element(0x04, [e.value])
  return der.element(0x30, e.critical ? [der.oid(e.oid), CRITICAL, value] : [der.oid(e.oid), value])
}

/** The DER of one Extension; callers that reuse an extension for many certificates encode it once. */
export function encodeExtension(e: Extension): der.Der {
  return der.encode(extensionElement(e))
}

const NO_UNUSED_BITS = Uint8Array.of(0)

/** The TBSCertificate of a template and its signatureAlgorithm, ready to be signed. */
function toBeSigned(t: CertificateTemplate): {tbs: Uint8Array; signatureAlgorithm: der.Der} {
  const signatureAlgorithm = algorithmIdentifier(t.signer.type)
  const extensions = t.extensions.map((e) => (e instanceof Uint8Array ? e : extensionElement(e)))
  const tbs = der.encode(
    der.element(0x30, [
      VERSION_3,
      der.unsignedInteger(t.serial),
      signatureAlgorithm,
      t.issuer,
      der.element(0x30, [der.time(t.notBefore), der.time(t.notAfter)]),
      t.subject,
      t.subjectPublicKeyInfo,
      der.element(0xa3, [der.element(0x30, extensions)]),
    ]),
  )
  return {tbs, signatureAlgorithm}
}

function signed(tbs: Uint8Array, signatureAlgorithm: der.Der, signature: Uint8Array): Uint8Array {
  return der.encode(der.element(0x30, [tbs, signatureAlgorithm, der.element(0x03, [NO_UNUSED_BITS, signature])]))
}

export function buildCertificate(t: CertificateTemplate): Uint8Array {
  const {tbs, signatureAlgorithm} = toBeSigned(t)
  return signed(tbs, signatureAlgorithm, signDer(t.signer.privateKey, t.signer.type, tbs))
}

/** buildCertificate with the signature made by `sign` (e.g. on a signing thread) from the signer's key. */
export async function buildCertificateSignedBy(t: CertificateTemplate, sign: (tbs: Uint8Array) => Promise<Uint8Array>): Promise<Uint8Array> {
  const {tbs, signatureAlgorithm} = toBeSigned(t)
  return signed(tbs, signatureAlgorithm, await sign(tbs))
}

export interface CertificateFields {
  serial: Uint8Array
  subject: Uint8Array
  subjectPublicKeyInfo: Uint8Array
  notBefore: Date
  notAfter: Date
}

/** The few fields of a DER certificate that issuance needs from its CA certificate. */
export function readCertificateFields(certificate: Uint8Array): CertificateFields {
  const [tbs] = der.readChildren(der.readTlv(certificate).value)
  const fields = der.readChildren(tbs!.value)
  const rest = fields[0]!.tag === 0xa0 ? fields.slice(1) : fields
  const [serial, , , validity, subject, spki] = rest
  const [notBefore, notAfter] = der.readChildren(validity!.value)
  return {serial: serial!.value, subject: subject!.raw, subjectPublicKeyInfo: spki!.raw, notBefore: der.readTime(notBefore!), notAfter: der.readTime(notAfter!)}
}
