/**
 * AWS Signature Version 4 with X.509 certificates, as IAM Roles Anywhere wants requests
 * signed: the SigV4 canonical request and scope, but signed with the certificate's private
 * key instead of an HMAC chain, the certificate itself in `X-Amz-X509` and its serial
 * number (decimal) as the credential.
 */
import {createHash, KeyObject, sign} from 'node:crypto'
import {readCertificateFields} from '../crypto/certificate.js'
import {badInput} from '../errors.js'

export interface X509Credentials {
  /** The leaf certificate, DER. */
  certificate: Uint8Array
  /** Intermediate CA certificates, DER, leaf side first. */
  chain: Uint8Array[]
  privateKey: KeyObject
}

export interface SignableRequest {
  method: string
  url: URL
  headers: Record<string, string>
  body: string
}

export interface SigningOptions {
  region: string
  service: string
  now: Date
}

export type SigningAlgorithm = 'AWS4-X509-RSA-SHA256' | 'AWS4-X509-ECDSA-SHA256'

export function signingAlgorithm(privateKey: KeyObject): SigningAlgorithm {
  if (privateKey.asymmetricKeyType === 'rsa') return 'AWS4-X509-RSA-SHA256'
  if (privateKey.asymmetricKeyType === 'ec') return 'AWS4-X509-ECDSA-SHA256'
  throw badInput(`aws: Roles Anywhere signs with RSA or EC keys, not ${privateKey.asymmetricKeyType ?? 'this key type'}`)
}

/** The certificate's serialNumber as a decimal string: the SigV4-X509 credential. */
export function certificateSerial(certificate: Uint8Array): string {
  const {serial} = readCertificateFields(certificate)
  return BigInt(`0x${Buffer.from(serial).toString('hex')}`).toString()
}

/** `20220827T010203Z`. */
export function amzDate(now: Date): string {
  return now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '')
}

/** RFC 3986 percent-encoding: everything but `A-Z a-z 0-9 - . _ ~`. */
export function uriEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

/**
 * The path as sent (WHATWG-encoded), each segment encoded once more: SigV4 double-encodes
 * paths for every service but S3, so `/a b` (sent as `/a%20b`) signs as `/a%2520b`.
 */
function canonicalUri(url: URL): string {
  return url.pathname.split('/').map(uriEncode).join('/') || '/'
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

/** Parameters sorted by encoded name, then value (code-point order, as AWS compares them). */
function canonicalQuery(url: URL): string {
  return [...url.searchParams]
    .map(([name, value]) => [uriEncode(name), uriEncode(value)] as const)
    .sort(([n1, v1], [n2, v2]) => compare(n1, n2) || compare(v1, v2))
    .map(([name, value]) => `${name}=${value}`)
    .join('&')
}

const sha256Hex = (data: string) => createHash('sha256').update(data, 'utf8').digest('hex')

/** The SigV4 canonical request over every header in `request.headers`, and their names. */
export function canonicalRequest(request: SignableRequest): {text: string; signedHeaders: string} {
  const headers = new Map<string, string>()
  for (const [name, value] of Object.entries(request.headers)) {
    const key = name.toLowerCase()
    const trimmed = value.trim().replace(/\s+/g, ' ')
    headers.set(key, headers.has(key) ? `${headers.get(key)},${trimmed}` : trimmed)
  }
  const names = [...headers.keys()].sort()
  const signedHeaders = names.join(';')
  const text = [
    request.method.toUpperCase(),
    canonicalUri(request.url),
    canonicalQuery(request.url),
    ...names.map((name) => `${name}:${headers.get(name)}`),
    '',
    signedHeaders,
    sha256Hex(request.body),
  ].join('\n')
  return {text, signedHeaders}
}

export function credentialScope(now: Date, options: {region: string; service: string}): string {
  return `${amzDate(now).slice(0, 8)}/${options.region}/${options.service}/aws4_request`
}

export function stringToSign(algorithm: SigningAlgorithm, now: Date, scope: string, canonicalRequestText: string): string {
  return [algorithm, amzDate(now), scope, sha256Hex(canonicalRequestText)].join('\n')
}

const base64 = (der: Uint8Array) => Buffer.from(der).toString('base64')

/**
 * The headers to send: the request's own plus `host`, `x-amz-date`, `x-amz-x509`,
 * `x-amz-x509-chain` (when there are intermediates) and `authorization`, all signed but
 * the last. ECDSA signatures are DER-encoded, and the digest is SHA-256 for every key.
 */
export function signX509Request(request: SignableRequest, credentials: X509Credentials, options: SigningOptions): Record<string, string> {
  const algorithm = signingAlgorithm(credentials.privateKey)
  const headers: Record<string, string> = {
    ...request.headers,
    host: request.url.host,
    'x-amz-date': amzDate(options.now),
    'x-amz-x509': base64(credentials.certificate),
  }
  if (credentials.chain.length > 0) headers['x-amz-x509-chain'] = credentials.chain.map(base64).join(',')
  const {text, signedHeaders} = canonicalRequest({...request, headers})
  const scope = credentialScope(options.now, options)
  const signature = sign('sha256', Buffer.from(stringToSign(algorithm, options.now, scope, text)), credentials.privateKey)
  const credential = `${certificateSerial(credentials.certificate)}/${scope}`
  headers.authorization = `${algorithm} Credential=${credential}, SignedHeaders=${signedHeaders}, Signature=${signature.toString('hex')}`
  return headers
}
