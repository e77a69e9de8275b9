/**
 * Reads X.509-SVIDs from files and lists everything that makes them invalid: the checks of
 * go-spiffe `x509svid.Parse` (with its wording), validity at `now`, whether the private key
 * matches, and with a bundle an RFC 5280 path from the leaf to one of its authorities.
 *
 * @peculiar/x509 is loaded on first use only, so that importing this module stays cheap.
 */
import {createPrivateKey, createPublicKey, type KeyObject} from 'node:crypto'
import type * as X509 from '@peculiar/x509'
import type {
  AuthorityKeyIdentifierExtension,
  BasicConstraintsExtension,
  KeyUsagesExtension,
  SubjectAlternativeNameExtension,
  SubjectKeyIdentifierExtension,
  X509Certificate,
} from '@peculiar/x509'
import {KeyUsage, OID} from '../crypto/certificate.js'
import {decodePem, encodePem, type PemBlock} from '../crypto/pem.js'
import {WidError} from '../errors.js'
import {SpiffeId} from '../spiffeid/index.js'

export interface X509SvidInspection {
  /** The SPIFFE ID in the single URI SAN, when there is one and it parses. */
  spiffeId: string | undefined
  /** Lowercase hex. */
  serial: string
  /** 'ec-p256', 'ec-p384', 'rsa-2048', or a description of any other key such as 'rsa-4096'. */
  keyType: string
  subject: string
  issuer: string
  uriSans: string[]
  dnsSans: string[]
  ipSans: string[]
  notBefore: string
  notAfter: string
  /** Seconds from `now` to notAfter; negative once expired. */
  secondsLeft: number
  /** The certificates after the leaf, in file order. */
  chain: {subject: string; serial: string; notAfter: string}[]
  /** Undefined when no private key was given. */
  keyMatches: boolean | undefined
  /** Every reason the SVID is invalid; empty when it is valid. */
  problems: string[]
  /** Undefined when no bundle was given. */
  bundle: {certificates: number; verified: boolean; error?: string} | undefined
}

export interface X509SvidInput {
  /** The leaf first, then intermediates; may also hold the private key. */
  certificatesPem: string
  keyPem?: string
  bundlePem?: string
  now: Date
}

let x509Module: Promise<typeof X509> | undefined

function loadX509(): Promise<typeof X509> {
  x509Module ??= (async () => {
    await import('reflect-metadata')
    const x509 = await import('@peculiar/x509')
    x509.cryptoProvider.set(globalThis.crypto)
    return x509
  })()
  return x509Module
}

/** Throws bad_input only when the input cannot be parsed; every other defect is a problem. */
export async function inspectX509Svid(input: X509SvidInput): Promise<X509SvidInspection> {
  const x509 = await loadX509()
  const certificates = parseCertificates(x509, input.certificatesPem, 'certificate file')
  const leaf = certificates[0]!
  const intermediates = certificates.slice(1)
  const leafKey = publicKeyOf(leaf)
  const privateKey = readPrivateKey(input)
  const uris = sans(leaf, 'url')
  const id = idFromUris(uris)
  const problems = [
    ...id.problems,
    ...leafProblems(leaf),
    ...intermediates.flatMap(signingCertificateProblems),
    ...certificates.flatMap((cert, index) => validityProblem(cert, index, input.now) ?? []),
  ]
  const keyMatches = privateKey && spki(leafKey).equals(spki(createPublicKey(privateKey)))
  if (keyMatches === false) problems.push('svid: leaf certificate does not match private key')

  let bundle: X509SvidInspection['bundle']
  if (input.bundlePem !== undefined) {
    const roots = parseCertificates(x509, input.bundlePem, 'bundle')
    const error = await verifyChain(certificates, roots, id.spiffeId, input.now)
    bundle = error ? {certificates: roots.length, verified: false, error} : {certificates: roots.length, verified: true}
    if (error && !problems.includes(error)) problems.push(error)
  }

  return {
    spiffeId: id.spiffeId?.toString(),
    serial: leaf.serialNumber.toLowerCase(),
    keyType: describeKey(leafKey),
    subject: leaf.subject,
    issuer: leaf.issuer,
    uriSans: uris,
    dnsSans: sans(leaf, 'dns'),
    ipSans: sans(leaf, 'ip'),
    notBefore: leaf.notBefore.toISOString(),
    notAfter: leaf.notAfter.toISOString(),
    secondsLeft: Math.floor((leaf.notAfter.getTime() - input.now.getTime()) / 1000),
    chain: intermediates.map((cert) => ({
      subject: cert.subject,
      serial: cert.serialNumber.toLowerCase(),
      notAfter: cert.notAfter.toISOString(),
    })),
    keyMatches,
    problems,
    bundle,
  }
}

function parseCertificates(x509: typeof X509, pem: string, what: string): X509Certificate[] {
  const blocks = decodePem(pem).filter((block) => block.label === 'CERTIFICATE')
  if (blocks.length === 0) throw new WidError('bad_input', `svid: ${what} contains no CERTIFICATE PEM block`)
  return blocks.map((block) => {
    try {
      return new x509.X509Certificate(block.der)
    } catch (error) {
      throw new WidError('bad_input', `svid: cannot parse a certificate in the ${what}`, {cause: error})
    }
  })
}

function publicKeyOf(cert: X509Certificate): KeyObject {
  try {
    return createPublicKey({key: Buffer.from(cert.publicKey.rawData), format: 'der', type: 'spki'})
  } catch (error) {
    throw new WidError('bad_input', 'svid: cannot parse the public key of the leaf certificate', {cause: error})
  }
}

/** The key from `keyPem`, else a key stored next to the certificates, else none. */
function readPrivateKey(input: X509SvidInput): KeyObject | undefined {
  const block = decodePem(input.keyPem ?? input.certificatesPem).find((b) => b.label.endsWith('PRIVATE KEY'))
  if (block === undefined) {
    if (input.keyPem === undefined) return undefined
    throw new WidError('bad_input', 'svid: key file contains no PRIVATE KEY PEM block')
  }
  return parsePrivateKey(block)
}

function parsePrivateKey(block: PemBlock): KeyObject {
  try {
    return createPrivateKey({key: encodePem(block.label, block.der), format: 'pem'})
  } catch (error) {
    throw new WidError('bad_input', 'svid: cannot parse private key', {cause: error})
  }
}

/**
 * Compared as encodings rather than with KeyObject.equals, which leaves an OpenSSL error
 * behind for keys of different types that the next unrelated node:crypto call then throws.
 */
function spki(key: KeyObject): Buffer {
  return key.export({type: 'spki', format: 'der'})
}

function describeKey(key: KeyObject): string {
  const {asymmetricKeyType: type, asymmetricKeyDetails: details} = key
  if (type === 'ec') {
    const curve = details?.namedCurve
    return curve === 'prime256v1' ? 'ec-p256' : curve === 'secp384r1' ? 'ec-p384' : `ec-${curve ?? 'unknown'}`
  }
  if (details?.modulusLength !== undefined) return `${type}-${details.modulusLength}`
  return type ?? 'unknown'
}

function sans(cert: X509Certificate, type: 'url' | 'dns' | 'ip'): string[] {
  const extension = cert.getExtension<SubjectAlternativeNameExtension>(OID.subjectAltName)
  return (extension?.names.items ?? []).filter((name) => name.type === type).map((name) => name.value)
}

/** go-spiffe `IDFromCert`, plus the SPIFFE X.509-SVID rule that a leaf ID has a path. */
function idFromUris(uris: string[]): {spiffeId?: SpiffeId; problems: string[]} {
  if (uris.length === 0) return {problems: ['svid: cannot get leaf certificate SPIFFE ID: certificate contains no URI SAN']}
  if (uris.length > 1) {
    return {problems: ['svid: cannot get leaf certificate SPIFFE ID: certificate contains more than one URI SAN']}
  }
  let spiffeId: SpiffeId
  try {
    spiffeId = SpiffeId.parse(uris[0]!)
  } catch (error) {
    return {problems: [`svid: cannot get leaf certificate SPIFFE ID: ${(error as Error).message}`]}
  }
  return {spiffeId, problems: spiffeId.isRoot() ? ['svid: leaf certificate SPIFFE ID must have a non-root path'] : []}
}

function isCa(cert: X509Certificate): boolean {
  return cert.getExtension<BasicConstraintsExtension>(OID.basicConstraints)?.ca === true
}

/** As Go reads it: no keyUsage extension means no usage at all. */
function hasKeyUsage(cert: X509Certificate, bit: number): boolean {
  const usages = cert.getExtension<KeyUsagesExtension>(OID.keyUsage)?.usages ?? 0
  return (usages & (1 << bit)) !== 0
}

function leafProblems(leaf: X509Certificate): string[] {
  const problems: string[] = []
  if (isCa(leaf)) problems.push('svid: leaf certificate must not have CA flag set to true')
  if (!hasKeyUsage(leaf, KeyUsage.digitalSignature)) {
    problems.push("svid: leaf certificate must have 'digitalSignature' set as key usage")
  }
  if (hasKeyUsage(leaf, KeyUsage.keyCertSign)) problems.push("svid: leaf certificate must not have 'keyCertSign' set as key usage")
  if (hasKeyUsage(leaf, KeyUsage.cRLSign)) problems.push("svid: leaf certificate must not have 'cRLSign' set as key usage")
  return problems
}

function signingCertificateProblems(cert: X509Certificate): string[] {
  const problems: string[] = []
  if (!isCa(cert)) problems.push('svid: signing certificate must have CA flag set to true')
  if (!hasKeyUsage(cert, KeyUsage.keyCertSign)) {
    problems.push("svid: signing certificate must have 'keyCertSign' set as key usage")
  }
  return problems
}

/** `index` is the position in the path: 0 is the leaf. */
function validityProblem(cert: X509Certificate, index: number, now: Date): string | undefined {
  const what = index === 0 ? 'certificate' : `signing certificate "${cert.subject}"`
  if (now > cert.notAfter) return `svid: ${what} expired at ${cert.notAfter.toISOString()}`
  if (now < cert.notBefore) return `svid: ${what} is not valid before ${cert.notBefore.toISOString()}`
  return undefined
}

/**
 * Builds the path leaf → intermediates from the file → a bundle certificate, then checks
 * it. Returns why verification failed, or undefined when it succeeded.
 */
async function verifyChain(
  file: X509Certificate[],
  roots: X509Certificate[],
  leafId: SpiffeId | undefined,
  now: Date,
): Promise<string | undefined> {
  const path = [file[0]!]
  let unused = file.slice(1)
  for (;;) {
    const child = path.at(-1)!
    const anchor = await findIssuer(child, roots)
    const issuer = anchor ?? (await findIssuer(child, unused))
    if (issuer === undefined) return 'svid: certificate signed by unknown authority'
    path.push(issuer)
    if (anchor !== undefined) break
    unused = unused.filter((cert) => cert !== issuer)
  }
  for (const [index, cert] of path.entries()) {
    const problem = validityProblem(cert, index, now)
    if (problem !== undefined) return problem
  }
  for (const [index, issuer] of path.entries()) {
    if (index === 0) continue
    const problem = signingCertificateProblems(issuer)[0]
    if (problem !== undefined) return problem
    const pathLength = issuer.getExtension<BasicConstraintsExtension>(OID.basicConstraints)?.pathLength
    if (pathLength !== undefined && index - 1 > pathLength) {
      return `svid: signing certificate "${issuer.subject}" exceeds its path length constraint`
    }
  }
  const caId = idFromUris(sans(path.at(-1)!, 'url')).spiffeId
  if (leafId !== undefined && caId !== undefined && !leafId.memberOf(caId.trustDomain)) {
    return `svid: leaf trust domain "${leafId.trustDomain.name}" does not match the CA trust domain "${caId.trustDomain.name}"`
  }
  return undefined
}

/** The first candidate whose subject is the child's issuer, whose key id fits, and whose key verifies the signature. */
async function findIssuer(child: X509Certificate, candidates: X509Certificate[]): Promise<X509Certificate | undefined> {
  const authorityKeyId = child.getExtension<AuthorityKeyIdentifierExtension>(OID.authorityKeyIdentifier)?.keyId
  for (const candidate of candidates) {
    if (candidate.subject !== child.issuer) continue
    const subjectKeyId = candidate.getExtension<SubjectKeyIdentifierExtension>(OID.subjectKeyIdentifier)?.keyId
    if (authorityKeyId !== undefined && subjectKeyId !== undefined && authorityKeyId !== subjectKeyId) continue
    const signed = await child.verify({publicKey: candidate.publicKey, signatureOnly: true}).catch(() => false)
    if (signed) return candidate
  }
  return undefined
}
