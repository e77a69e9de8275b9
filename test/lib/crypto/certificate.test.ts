/**
 * Certificates built by src/lib/crypto/certificate.ts on top of the DER helpers in der.ts,
 * checked by independent parsers: the real `openssl` binary and node's X509Certificate.
 */
import {execFileSync} from 'node:child_process'
import {KeyObject, X509Certificate} from 'node:crypto'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {
  authorityKeyIdentifier,
  basicConstraints,
  buildCertificate,
  encodeName,
  extKeyUsage,
  keyIdentifier,
  KeyUsage,
  keyUsage,
  OID,
  randomSerial,
  readCertificateFields,
  subjectAltName,
  subjectKeyIdentifier,
} from '../../../src/lib/crypto/certificate.js'
import * as der from '../../../src/lib/crypto/der.js'
import {exportSpkiDer, generateKeyPair, type KeyType} from '../../../src/lib/crypto/keys.js'
import {encodePem} from '../../../src/lib/crypto/pem.js'
import {WidError} from '../../../src/lib/errors.js'

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex')
const bytes = (text: string) => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'))
const ascii = (value: Uint8Array) => Buffer.from(value).toString('latin1')

function openssl(cwd: string, ...args: string[]): string {
  return execFileSync('openssl', args, {cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']})
}

const LEAF_SANS = [
  {type: 'uri', value: 'spiffe://example.org/ns/default/sa/web'},
  {type: 'dns', value: 'web.example.org'},
  {type: 'ip', value: '10.0.0.7'},
  {type: 'ip', value: '2001:db8::1'},
  {type: 'ip', value: '::1'},
  {type: 'ip', value: '::ffff:192.0.2.1'},
] as const

/** How OpenSSL 3 prints LEAF_SANS. */
const LEAF_SANS_TEXT =
  'URI:spiffe://example.org/ns/default/sa/web, DNS:web.example.org, IP Address:10.0.0.7, ' +
  'IP Address:2001:DB8:0:0:0:0:0:1, IP Address:0:0:0:0:0:0:0:1, IP Address:0:0:0:0:0:FFFF:C000:201'

interface Issued {
  dir: string
  caDer: Uint8Array
  leafDer: Uint8Array
  caKeys: CryptoKeyPair
  caSerial: Uint8Array
  leafSerial: Uint8Array
}

async function issue(caType: KeyType): Promise<Issued> {
  const now = Date.now()
  // The CA: self-signed, CA:TRUE, keyCertSign + cRLSign, SKI, SAN uri spiffe://example.org
  const caKeys = await generateKeyPair(caType)
  const caSpki = await exportSpkiDer(caKeys.publicKey)
  const caKeyId = keyIdentifier(caSpki)
  const caName = encodeName([
    {oid: OID.country, value: 'US'},
    {oid: OID.organization, value: 'SPIFFE'},
    {oid: OID.commonName, value: `wid test CA ${caType}`},
  ])
  const caSerial = Uint8Array.of(0x80, ...randomSerial().subarray(1)) // high bit set: needs a leading zero
  const caDer = buildCertificate({
    serial: caSerial,
    issuer: caName,
    subject: caName,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 86_400_000),
    subjectPublicKeyInfo: caSpki,
    extensions: [
      basicConstraints(true),
      keyUsage([KeyUsage.keyCertSign, KeyUsage.cRLSign]),
      subjectKeyIdentifier(caKeyId),
      subjectAltName([{type: 'uri', value: 'spiffe://example.org'}], false),
    ],
    signer: {privateKey: caKeys.privateKey, type: caType},
  })
  // The leaf: EC P-256, CA:FALSE, digitalSignature + keyAgreement, server+client auth, URI/DNS/IP SANs
  const leafKeys = await generateKeyPair('ec-p256')
  const leafSpki = await exportSpkiDer(leafKeys.publicKey)
  const leafSerial = randomSerial()
  const leafDer = buildCertificate({
    serial: leafSerial,
    issuer: readCertificateFields(caDer).subject,
    subject: encodeName([
      {oid: OID.organization, value: 'SPIFFE'},
      {oid: OID.commonName, value: 'web'},
    ]),
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 3_600_000),
    subjectPublicKeyInfo: leafSpki,
    extensions: [
      basicConstraints(false),
      keyUsage([KeyUsage.digitalSignature, KeyUsage.keyAgreement]),
      extKeyUsage([OID.serverAuth, OID.clientAuth]),
      subjectKeyIdentifier(keyIdentifier(leafSpki)),
      authorityKeyIdentifier(caKeyId),
      subjectAltName([...LEAF_SANS], false),
    ],
    signer: {privateKey: caKeys.privateKey, type: caType},
  })
  const dir = mkdtempSync(join(tmpdir(), `wid-cert-${caType}-`))
  writeFileSync(join(dir, 'ca.pem'), encodePem('CERTIFICATE', caDer))
  writeFileSync(join(dir, 'leaf.pem'), encodePem('CERTIFICATE', leafDer))
  return {dir, caDer, leafDer, caKeys, caSerial, leafSerial}
}

const SIGNATURE_ALGORITHM: Record<KeyType, string> = {
  'ec-p256': 'ecdsa-with-SHA256',
  'ec-p384': 'ecdsa-with-SHA384',
  'rsa-2048': 'sha256WithRSAEncryption',
}

/** The line after the header line `header` in openssl's -text output. */
function valueAfter(text: string, header: string): string {
  const lines = text.split('\n')
  const index = lines.findIndex((line) => line.trim() === header)
  expect(index, `openssl output has "${header}"`).toBeGreaterThanOrEqual(0)
  return lines[index + 1]!.trim()
}

for (const caType of ['ec-p256', 'ec-p384', 'rsa-2048'] as const) {
  describe(`buildCertificate with a ${caType} CA`, () => {
    let issued: Issued

    beforeAll(async () => {
      issued = await issue(caType)
    })

    afterAll(() => {
      rmSync(issued.dir, {recursive: true, force: true})
    })

    it('produces a chain that `openssl verify` accepts, also in strict mode', () => {
      // Given the CA and leaf written as PEM
      // When openssl verifies the leaf against the CA
      const plain = openssl(issued.dir, 'verify', '-CAfile', 'ca.pem', 'leaf.pem')
      const strict = openssl(issued.dir, 'verify', '-x509_strict', '-CAfile', 'ca.pem', 'leaf.pem')
      // Then it says OK
      expect(plain.trim()).toBe('leaf.pem: OK')
      expect(strict.trim()).toBe('leaf.pem: OK')
    })

    it('has the CA fields openssl expects', () => {
      // Given the CA certificate
      // When openssl prints it
      const text = openssl(issued.dir, 'x509', '-in', 'ca.pem', '-noout', '-text')
      // Then it is a v3 CA with critical basic constraints and key usage, SKI and the trust domain SAN
      expect(text).toContain('Version: 3 (0x2)')
      expect(text).toContain(`Signature Algorithm: ${SIGNATURE_ALGORITHM[caType]}`)
      expect(text).toContain('X509v3 Basic Constraints: critical')
      expect(valueAfter(text, 'X509v3 Basic Constraints: critical')).toBe('CA:TRUE')
      expect(valueAfter(text, 'X509v3 Key Usage: critical')).toBe('Certificate Sign, CRL Sign')
      expect(valueAfter(text, 'X509v3 Subject Key Identifier:').replace(/:/g, '').toLowerCase()).toBe(
        hex(keyIdentifier(readCertificateFields(issued.caDer).subjectPublicKeyInfo)),
      )
      expect(valueAfter(text, 'X509v3 Subject Alternative Name:')).toBe('URI:spiffe://example.org')
      expect(text).toContain(`Subject: C = US, O = SPIFFE, CN = wid test CA ${caType}`)
      expect(text).toContain(`Issuer: C = US, O = SPIFFE, CN = wid test CA ${caType}`)
    })

    it('has the leaf fields, with the SANs exactly as openssl prints them', () => {
      // Given the leaf certificate
      // When openssl prints it
      const text = openssl(issued.dir, 'x509', '-in', 'leaf.pem', '-noout', '-text')
      // Then the SANs, key usages, extended key usages and CA:FALSE are as issued
      expect(valueAfter(text, 'X509v3 Subject Alternative Name:')).toBe(LEAF_SANS_TEXT)
      expect(valueAfter(text, 'X509v3 Key Usage: critical')).toBe('Digital Signature, Key Agreement')
      expect(valueAfter(text, 'X509v3 Extended Key Usage:')).toBe('TLS Web Server Authentication, TLS Web Client Authentication')
      expect(valueAfter(text, 'X509v3 Basic Constraints: critical')).toBe('CA:FALSE')
      expect(text).toContain('X509v3 Authority Key Identifier:')
      expect(text).toContain(`Signature Algorithm: ${SIGNATURE_ALGORITHM[caType]}`)
      expect(text).toContain(`Issuer: C = US, O = SPIFFE, CN = wid test CA ${caType}`)
      expect(text).toContain('Subject: O = SPIFFE, CN = web')
      // And the serial is the one issued
      const serial = openssl(issued.dir, 'x509', '-in', 'leaf.pem', '-noout', '-serial').trim()
      expect(BigInt(`0x${serial.replace('serial=', '')}`)).toBe(BigInt(`0x${hex(issued.leafSerial)}`))
    })

    it('parses in node and verifies against the CA public key', () => {
      // Given both certificates parsed by node
      const ca = new X509Certificate(Buffer.from(issued.caDer))
      const leaf = new X509Certificate(Buffer.from(issued.leafDer))
      const caPublicKey = KeyObject.from(issued.caKeys.publicKey)
      // Then the CA is self-signed and the leaf is signed by it
      expect(ca.verify(caPublicKey)).toBe(true)
      expect(leaf.verify(caPublicKey)).toBe(true)
      expect(leaf.checkIssued(ca)).toBe(true)
      expect(ca.ca).toBe(true)
      expect(leaf.ca).toBe(false)
      // And node sees the same names, usages and serials
      expect(leaf.checkHost('web.example.org')).toBe('web.example.org')
      expect(leaf.checkIP('10.0.0.7')).toBe('10.0.0.7')
      expect(leaf.checkIP('2001:db8::1')).toBe('2001:db8::1')
      expect(leaf.checkIP('10.0.0.8')).toBeUndefined()
      expect(leaf.keyUsage).toEqual([OID.serverAuth, OID.clientAuth])
      expect(leaf.subjectAltName).toContain('URI:spiffe://example.org/ns/default/sa/web')
      expect(BigInt(`0x${ca.serialNumber}`)).toBe(BigInt(`0x${hex(issued.caSerial)}`))
      expect(BigInt(`0x${leaf.serialNumber}`)).toBe(BigInt(`0x${hex(issued.leafSerial)}`))
      // And neither verifies against a key that did not sign it
      expect(leaf.verify(leaf.publicKey)).toBe(false)
    })

    it('reads back the fields issuance needs from the CA certificate', () => {
      // Given the CA certificate
      // When its fields are read
      const fields = readCertificateFields(issued.caDer)
      // Then the serial carries the leading zero a high-bit serial needs, and the SPKI and subject match
      expect(hex(fields.serial)).toBe(`00${hex(issued.caSerial)}`)
      const ca = new X509Certificate(Buffer.from(issued.caDer))
      expect(hex(fields.subjectPublicKeyInfo)).toBe(hex(ca.publicKey.export({type: 'spki', format: 'der'})))
      expect(der.readTlv(fields.subject).tag).toBe(0x30)
      expect(readCertificateFields(issued.leafDer).subject).not.toEqual(fields.subject)
    })
  })
}

describe('der', () => {
  it('encodes named bits in minimal form', () => {
    // Given key usage bit sets
    // When they are encoded
    // Then the BIT STRING has the right unused-bit count and no trailing zero octets
    expect(hex(der.namedBits([KeyUsage.digitalSignature, KeyUsage.keyAgreement]))).toBe('03020388')
    expect(hex(der.namedBits([KeyUsage.keyCertSign, KeyUsage.cRLSign]))).toBe('03020106')
    expect(hex(der.namedBits([KeyUsage.digitalSignature]))).toBe('03020780')
    expect(hex(der.namedBits([KeyUsage.digitalSignature, KeyUsage.keyEncipherment]))).toBe('030205a0')
    expect(hex(der.namedBits([0, 8]))).toBe('0303078080') // decipherOnly spills into a second octet
  })

  it('switches from UTCTime to GeneralizedTime at 2050', () => {
    // Given instants on either side of the 2050 boundary (and of 1950)
    const cases: Array<[string, number, string]> = [
      ['2049-12-31T23:59:59Z', 0x17, '491231235959Z'],
      ['2050-01-01T00:00:00Z', 0x18, '20500101000000Z'],
      ['2024-02-29T12:34:56.789Z', 0x17, '240229123456Z'],
      ['1950-01-01T00:00:00Z', 0x17, '500101000000Z'],
      ['1949-12-31T23:59:59Z', 0x18, '19491231235959Z'],
      ['9999-12-31T23:59:59Z', 0x18, '99991231235959Z'],
    ]
    for (const [iso, tag, text] of cases) {
      // When each is encoded
      const encoded = der.readTlv(der.time(new Date(iso)))
      // Then the tag and the text are the RFC 5280 forms
      expect([iso, encoded.tag, ascii(encoded.value)]).toEqual([iso, tag, text])
    }
  })

  it('gives unsigned integers with the high bit set a leading zero, and trims redundant zeros', () => {
    expect(hex(der.unsignedInteger(bytes('80')))).toBe('02020080')
    expect(hex(der.unsignedInteger(bytes('ff01')))).toBe('020300ff01')
    expect(hex(der.unsignedInteger(bytes('7f')))).toBe('02017f')
    expect(hex(der.unsignedInteger(bytes('000080')))).toBe('02020080')
    expect(hex(der.unsignedInteger(bytes('00007f')))).toBe('02017f')
    expect(hex(der.unsignedInteger(bytes('0000')))).toBe('020100')
    expect(hex(der.smallInteger(2))).toBe('020102')
  })

  it('encodes long lengths and reads them back', () => {
    // Given contents of 127, 128, 255, 256 and 70000 bytes
    for (const size of [0, 127, 128, 255, 256, 70_000]) {
      // When wrapped in an OCTET STRING and read back
      const encoded = der.octetString(new Uint8Array(size).fill(0xab))
      const read = der.readTlv(encoded)
      // Then the length form is minimal and the contents round-trip
      const headerSize = size < 0x80 ? 2 : size < 0x100 ? 3 : size < 0x10000 ? 4 : 5
      expect(encoded.length).toBe(headerSize + size)
      expect(read.tag).toBe(0x04)
      expect(read.value.length).toBe(size)
      expect(read.raw).toEqual(encoded)
    }
    // And OIDs encode their multi-byte arcs
    expect(hex(der.oid('1.2.840.10045.4.3.2'))).toBe('06082a8648ce3d040302')
    expect(hex(der.oid('2.5.29.17'))).toBe('0603551d11')
  })

  it('reads children and elements at an offset', () => {
    // Given a SEQUENCE of an INTEGER, a BOOLEAN and a NULL
    const encoded = der.sequence(der.smallInteger(5), der.boolean(true), der.nullValue())
    // When its children are read
    const children = der.readChildren(der.readTlv(encoded).value)
    // Then each is found with its tag and contents
    expect(children.map((c) => [c.tag, hex(c.value)])).toEqual([
      [0x02, '05'],
      [0x01, 'ff'],
      [0x05, ''],
    ])
    expect(hex(der.readTlv(encoded, 5).raw)).toBe('0101ff')
  })

  it.each([
    ['empty input', '', 0],
    ['a lone tag', '30', 0],
    ['contents shorter than the length', '3005010203', 0],
    ['a long-form length cut short', '308201', 0],
    ['a long-form length with contents cut short', '30820100' + '00'.repeat(255), 0],
    ['indefinite length', '30800101000000', 0],
    ['a length of more than four octets', '3085010000000000', 0],
    ['an offset at the very end', '020100', 3],
    ['an offset past the end', '020100', 10],
    ['a truncated child', '3003020201', 0],
  ])('refuses %s with a WidError', (_what, input, offset) => {
    // Given truncated or unsupported DER
    const data = bytes(input)
    // When it is read
    let thrown: unknown
    try {
      const tlv = der.readTlv(data, offset)
      der.readChildren(tlv.value)
    } catch (error) {
      thrown = error
    }
    // Then it is refused as malformed DER
    expect(thrown).toBeInstanceOf(WidError)
    expect(thrown).toMatchObject({code: 'bad_input', message: 'crypto: malformed DER encoding'})
  })
})
