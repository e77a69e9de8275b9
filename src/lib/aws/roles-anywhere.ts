/**
 * IAM Roles Anywhere CreateSession: trades an X.509 certificate whose CA is a trust anchor
 * (wid's SPIFFE CA, from `wid auth export --type tls-spiffe`) and its private key for
 * temporary AWS credentials. The request is signed with SigV4-X509 (./sigv4-x509.ts).
 */
import {createPrivateKey, X509Certificate, type KeyObject} from 'node:crypto'
import type {IncomingHttpHeaders} from 'node:http'
import {decodePem} from '../crypto/pem.js'
import {badInput, WidError, type ErrorCode} from '../errors.js'
import {httpRequest} from '../http-client.js'
import {parseArn, parseIamRoleArn, type Arn} from './arn.js'
import type {AwsCredentials} from './credentials.js'
import {signX509Request, uriEncode, type X509Credentials} from './sigv4-x509.js'

export type {AwsCredentials} from './credentials.js'

export interface RolesAnywhereSessionRequest {
  /** The leaf certificate first; further CERTIFICATE blocks are sent as its chain. */
  certificatePem: string
  /** PKCS#8, PKCS#1 (RSA) or SEC1 (EC), unencrypted. */
  privateKeyPem: string
  intermediatesPem?: string
  profileArn: string
  roleArn: string
  trustAnchorArn: string
  /** Default: the region of the trust anchor ARN. */
  region?: string
  /** Default: `https://rolesanywhere.<region>.amazonaws.com` (`.com.cn` in China). Must be https. */
  endpoint?: string
  /** CA certificates (PEM) to trust for the endpoint instead of the system's roots. */
  ca?: string
  /** Default 3600; Roles Anywhere accepts 900 to 43200, capped by the role's maximum. */
  durationSeconds?: number
  /** Deadline for the whole exchange (connect, answer, body). Default 10000. */
  timeoutMs?: number
  now?: Date
}

const MIN_DURATION_SECONDS = 900
const MAX_DURATION_SECONDS = 43_200

const ACCESS_ADVICE =
  'check that the trust anchor holds the CA from wid auth export --type tls-spiffe, that the profile and role ARNs are right, and that the role trusts rolesanywhere.amazonaws.com'

function checkArns(request: RolesAnywhereSessionRequest): {profile: Arn; trustAnchor: Arn} {
  const profile = parseArn(request.profileArn, '--profile-arn', {service: 'rolesanywhere', resourceType: 'profile', region: 'required'})
  const trustAnchor = parseArn(request.trustAnchorArn, '--trust-anchor-arn', {service: 'rolesanywhere', resourceType: 'trust-anchor', region: 'required'})
  parseIamRoleArn(request.roleArn, '--role-arn')
  if (profile.region !== trustAnchor.region) {
    throw badInput(`--profile-arn: the profile is in ${profile.region} but the trust anchor in ${trustAnchor.region}; Roles Anywhere needs both in one region`)
  }
  return {profile, trustAnchor}
}

function endpointUrl(request: RolesAnywhereSessionRequest, region: string, trustAnchor: Arn): URL {
  const domain = trustAnchor.partition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com'
  const endpoint = request.endpoint ?? `https://rolesanywhere.${region}.${domain}`
  let url: URL
  try {
    url = new URL(endpoint)
  } catch {
    throw badInput(`aws: invalid Roles Anywhere endpoint "${endpoint}" (expected an https:// URL)`)
  }
  if (url.protocol !== 'https:') throw badInput(`aws: the Roles Anywhere endpoint must be https:// (credentials come back in the answer), got "${endpoint}"`)
  return url
}

function readCredentials(request: RolesAnywhereSessionRequest): X509Credentials {
  const certificates = (pem: string) => decodePem(pem).filter((block) => block.label === 'CERTIFICATE').map((block) => block.der)
  const [leaf, ...chain] = certificates(request.certificatePem)
  if (!leaf) throw badInput('aws: the certificate holds no "CERTIFICATE" PEM block')
  let certificate: X509Certificate
  try {
    certificate = new X509Certificate(leaf)
  } catch {
    throw badInput('aws: the certificate is not a valid X.509 certificate')
  }
  let privateKey: KeyObject
  try {
    privateKey = createPrivateKey({key: request.privateKeyPem, format: 'pem'})
  } catch {
    throw badInput('aws: cannot read the private key (expected an unencrypted PEM key: PKCS#8, PKCS#1 or SEC1)')
  }
  if (!certificate.checkPrivateKey(privateKey)) {
    throw badInput('aws: the private key does not match the certificate (give the key that was written with this certificate)')
  }
  return {certificate: leaf, chain: [...chain, ...certificates(request.intermediatesPem ?? '')], privateKey}
}

function parseJson(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {}
  } catch {
    return {}
  }
}

const oneLine = (text: string) => text.replace(/\s+/g, ' ').trim()

/** AWS's error type, from `x-amzn-ErrorType: Type:url` or the body's `__type: namespace#Type`. */
function errorType(headers: IncomingHttpHeaders, body: Record<string, unknown>): string {
  const header = headers['x-amzn-errortype']
  const raw = typeof header === 'string' ? header : typeof body.__type === 'string' ? body.__type : ''
  return raw.split(':')[0]!.split('#').pop()!
}

function refusal(status: number, headers: IncomingHttpHeaders, text: string, endpoint: string, region: string): WidError {
  const body = parseJson(text)
  const type = errorType(headers, body)
  const message = typeof body.message === 'string' ? body.message : typeof body.Message === 'string' ? body.Message : ''
  const detail = oneLine(message || type || `HTTP ${status}`)
  const fail = (code: ErrorCode, advice: string) => new WidError(code, `aws: Roles Anywhere refused the session: ${detail} (${advice})`)
  if (status === 401 || status === 403 || type === 'AccessDeniedException') return fail('access_denied', ACCESS_ADVICE)
  if (status === 404 || type === 'ResourceNotFoundException') return fail('not_found', `check that the profile and the trust anchor exist and are enabled in ${region}`)
  if (status === 429 || status >= 500) {
    return new WidError('unavailable', `aws: Roles Anywhere at ${endpoint} failed with HTTP ${status}: ${detail} (try again later)`)
  }
  return fail('bad_input', "check the ARNs and the session duration (the role's maximum session duration applies too)")
}

function sessionCredentials(text: string, endpoint: string): AwsCredentials {
  const set = parseJson(text).credentialSet
  const credentials = Array.isArray(set) ? (set[0] as {credentials?: Record<string, unknown>} | undefined)?.credentials : undefined
  const {accessKeyId, secretAccessKey, sessionToken, expiration} = credentials ?? {}
  if (
    typeof accessKeyId !== 'string' ||
    typeof secretAccessKey !== 'string' ||
    typeof sessionToken !== 'string' ||
    typeof expiration !== 'string' ||
    !(Date.parse(expiration) > Date.now())
  ) {
    throw new WidError('unavailable', `aws: Roles Anywhere at ${endpoint} answered without credentials`)
  }
  return {
    Version: 1,
    AccessKeyId: accessKeyId,
    SecretAccessKey: secretAccessKey,
    SessionToken: sessionToken,
    Expiration: new Date(expiration).toISOString(),
  }
}

export async function createRolesAnywhereSession(request: RolesAnywhereSessionRequest): Promise<AwsCredentials> {
  const {trustAnchor} = checkArns(request)
  const durationSeconds = request.durationSeconds ?? 3600
  if (!Number.isInteger(durationSeconds) || durationSeconds < MIN_DURATION_SECONDS || durationSeconds > MAX_DURATION_SECONDS) {
    throw badInput(`aws: session duration ${durationSeconds}s is out of range (Roles Anywhere accepts ${MIN_DURATION_SECONDS} to ${MAX_DURATION_SECONDS} seconds)`)
  }
  const region = request.region ?? trustAnchor.region
  const base = endpointUrl(request, region, trustAnchor)
  const credentials = readCredentials(request)

  const url = new URL('/sessions', base)
  const query = {profileArn: request.profileArn, roleArn: request.roleArn, trustAnchorArn: request.trustAnchorArn}
  url.search = Object.entries(query)
    .map(([name, value]) => `${name}=${uriEncode(value)}`)
    .join('&')
  const body = JSON.stringify({durationSeconds})
  const headers = signX509Request({method: 'POST', url, headers: {'content-type': 'application/json'}, body}, credentials, {
    region,
    service: 'rolesanywhere',
    now: request.now ?? new Date(),
  })

  const timeoutMs = request.timeoutMs ?? 10_000
  const endpoint = base.origin
  let response: {status: number; headers: IncomingHttpHeaders; text: string}
  try {
    response = await httpRequest(url, {method: 'POST', headers, body, timeoutMs, tls: request.ca === undefined ? {} : {ca: request.ca}})
  } catch (error) {
    throw new WidError('unavailable', `aws: cannot reach Roles Anywhere at ${endpoint}: ${oneLine((error as Error).message)}`, {cause: error})
  }
  if (response.status < 200 || response.status > 299) throw refusal(response.status, response.headers, response.text, endpoint, region)
  return sessionCredentials(response.text, endpoint)
}
