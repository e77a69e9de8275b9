/**
 * AWS STS AssumeRoleWithWebIdentity with a JWT-SVID: an unsigned Query API POST (the token
 * is the credential), answered in XML. AWS's error codes become messages that say what to
 * check on the AWS side or in wid.
 */
import {WidError} from '../errors.js'
import {httpRequest} from '../http-client.js'
import {HttpTimeout} from '../http-timeouts.js'
import {checkRegion, parseIamRoleArn} from './arn.js'
import type {AwsCredentials} from './credentials.js'

export const MAX_WEB_IDENTITY_TOKEN_LENGTH = 20_000
const SESSION_NAME = /^[\w+=,.@-]{2,64}$/

export interface WebIdentityRequest {
  roleArn: string
  token: string
  /** For messages: where the token came from. */
  tokenFile: string
  sessionName?: string
  durationSeconds?: number
  /** Default: the global endpoint, or the regional one when `region` is set. */
  endpoint?: string
  region?: string
  timeoutMs?: number
}

export function checkSessionName(name: string): string {
  if (!SESSION_NAME.test(name)) {
    throw new WidError('bad_input', `aws: invalid session name "${name}" (2-64 characters: letters, digits and _ + = , . @ -)`)
  }
  return name
}

interface TokenClaims {
  iss?: string
  sub?: string
  aud?: string | string[]
  exp?: number
}

/** Checks that the token file holds one compact JWT of acceptable size, and reads its claims for messages. */
export function checkWebIdentityToken(token: string, file: string): TokenClaims {
  const bad = (why: string) => new WidError('bad_input', `aws: ${file} ${why}`)
  if (token === '') throw bad('is empty (issue a JWT-SVID into it with wid svid issue --type jwt --audience sts.amazonaws.com)')
  if (token.length > MAX_WEB_IDENTITY_TOKEN_LENGTH) throw bad(`holds ${token.length} characters; AWS accepts at most ${MAX_WEB_IDENTITY_TOKEN_LENGTH}`)
  const parts = token.split('.')
  if (parts.length !== 3 || !parts.every((p) => /^[A-Za-z0-9_-]+$/.test(p))) throw bad('is not a JWT (expected header.payload.signature)')
  try {
    return JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as TokenClaims
  } catch {
    throw bad('is not a JWT (its payload is not JSON)')
  }
}

function advice(code: string, claims: TokenClaims, request: WebIdentityRequest): string {
  const iss = claims.iss ?? '(no iss)'
  switch (code) {
    case 'InvalidIdentityToken':
      return `check that an IAM OIDC provider exists for ${iss} (the URL must equal the token's iss), that AWS can fetch ${iss}/.well-known/openid-configuration, and that the provider's audiences include ${JSON.stringify(claims.aud)}`
    case 'ExpiredTokenException':
      return `the JWT-SVID in ${request.tokenFile} has expired; issue a new one with wid svid issue --type jwt --audience sts.amazonaws.com`
    case 'IDPRejectedClaim':
      return `the role's trust policy conditions did not match sub=${claims.sub ?? '?'} aud=${JSON.stringify(claims.aud)}; compare with wid aws trust-policy --oidc`
    case 'IDPCommunicationError':
      return `AWS could not reach ${iss} to fetch its discovery document and keys; the public address must be reachable from the internet over HTTPS`
    case 'AccessDenied':
      return `role ${request.roleArn} does not trust this identity provider for sts:AssumeRoleWithWebIdentity; see wid aws trust-policy --oidc`
    default:
      return 'see the AWS STS documentation for this error code'
  }
}

const ENDPOINT_DEFAULT = 'https://sts.amazonaws.com'

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]'])

/** The token is a credential: it travels over HTTPS, or plain HTTP to this machine only (a local proxy or test double). */
function endpointFor(request: WebIdentityRequest): string {
  if (!request.endpoint) return request.region ? `https://sts.${checkRegion(request.region)}.amazonaws.com` : ENDPOINT_DEFAULT
  let url: URL
  try {
    url = new URL(request.endpoint)
  } catch {
    throw new WidError('bad_input', `aws: invalid --sts-endpoint "${request.endpoint}" (expected an https:// URL)`)
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname))) {
    throw new WidError('bad_input', `aws: --sts-endpoint must be https:// (the token is a credential), got "${request.endpoint}"`)
  }
  return request.endpoint
}

export async function assumeRoleWithWebIdentity(request: WebIdentityRequest): Promise<AwsCredentials> {
  parseIamRoleArn(request.roleArn, '--role-arn')
  const endpoint = endpointFor(request)
  const claims = checkWebIdentityToken(request.token, request.tokenFile)
  const sessionName = checkSessionName(request.sessionName ?? `wid-${Date.now()}`)
  const form = new URLSearchParams({
    Action: 'AssumeRoleWithWebIdentity',
    Version: '2011-06-15',
    RoleArn: request.roleArn,
    RoleSessionName: sessionName,
    WebIdentityToken: request.token,
    DurationSeconds: String(request.durationSeconds ?? 3600),
  })
  const timeout = request.timeoutMs ?? 10_000
  let status: number
  let body: string
  try {
    const answer = await httpRequest(endpoint, {
      method: 'POST',
      headers: {'content-type': 'application/x-www-form-urlencoded; charset=utf-8', accept: 'application/xml'},
      body: form.toString(),
      timeoutMs: timeout,
    })
    status = answer.status
    body = answer.text
  } catch (error) {
    const why = error instanceof HttpTimeout ? `no answer within ${timeout / 1000}s` : (error as Error).message
    throw new WidError('unavailable', `aws: cannot reach STS at ${endpoint}: ${why}`)
  }
  const {XMLParser} = await import('fast-xml-parser')
  let document: Record<string, Record<string, Record<string, Record<string, unknown>>>>
  try {
    document = new XMLParser({parseTagValue: false}).parse(body)
  } catch {
    throw new WidError('unavailable', `aws: STS at ${endpoint} answered ${status} with a body that is not XML`)
  }
  const error = document.ErrorResponse?.Error as {Code?: unknown; Message?: unknown} | undefined
  if (status !== 200 || error) {
    const code = typeof error?.Code === 'string' ? error.Code : `HTTP ${status}`
    const message = typeof error?.Message === 'string' ? `: ${error.Message}` : ''
    if (status >= 500) throw new WidError('unavailable', `aws: STS at ${endpoint} failed (${code}${message}); try again later`)
    throw new WidError('access_denied', `aws: STS refused AssumeRoleWithWebIdentity (${code}${message}); ${advice(code, claims, request)}`)
  }
  const credentials = document.AssumeRoleWithWebIdentityResponse?.AssumeRoleWithWebIdentityResult?.Credentials as Record<string, unknown> | undefined
  const fields = ['AccessKeyId', 'SecretAccessKey', 'SessionToken', 'Expiration'] as const
  if (!credentials || !fields.every((f) => typeof credentials[f] === 'string' && credentials[f] !== '') || Number.isNaN(Date.parse(credentials.Expiration as string))) {
    throw new WidError('unavailable', `aws: STS at ${endpoint} answered without usable credentials`)
  }
  return {
    Version: 1,
    AccessKeyId: credentials.AccessKeyId as string,
    SecretAccessKey: credentials.SecretAccessKey as string,
    SessionToken: credentials.SessionToken as string,
    Expiration: new Date(credentials.Expiration as string).toISOString(),
  }
}
