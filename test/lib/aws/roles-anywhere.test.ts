/**
 * Roles Anywhere CreateSession against a local stand-in for the service: an HTTPS server
 * (certificate made by openssl, trusted through the request's `ca`) that, like AWS,
 * recomputes the canonical request from what it received and verifies the signature with
 * the public key in `X-Amz-X509` before answering with credentials.
 */
import {createHash, verify, X509Certificate} from 'node:crypto'
import type {IncomingHttpHeaders, ServerResponse} from 'node:http'
import {createServer, type Server} from 'node:https'
import type {AddressInfo} from 'node:net'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import {createRolesAnywhereSession, type RolesAnywhereSessionRequest} from '../../../src/lib/aws/roles-anywhere.js'
import {rejection} from '../../helpers/errors.js'
import {openssl} from '../../helpers/openssl.js'

const VECTOR = fileURLToPath(new URL('../../../../shared/testdata/aws-sigv4-x509/', import.meta.url))
const PROFILE_ARN = 'arn:aws:rolesanywhere:us-east-1:123456789012:profile/0f4a2c1e-1111-2222-3333-444455556666'
const TRUST_ANCHOR_ARN = 'arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/9b8c7d6e-1111-2222-3333-444455556666'
const ROLE_ARN = 'arn:aws:iam::123456789012:role/wid+workload'
const ACCESS_ADVICE =
  'check that the trust anchor holds the CA from wid auth export --type tls-spiffe, that the profile and role ARNs are right, and that the role trusts rolesanywhere.amazonaws.com'

interface Received {
  method: string
  /** Path and query exactly as sent. */
  path: string
  headers: IncomingHttpHeaders
  body: string
}

const encode = (value: string) => encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')
const header = (r: Received, name: string) => String(r.headers[name] ?? '')

/** Why AWS would reject the request's signature, or undefined when it is valid. */
function signatureProblem(r: Received): string | undefined {
  const auth =
    /^AWS4-X509-(RSA|ECDSA)-SHA256 Credential=(\d+)\/(\d{8})\/([a-z0-9-]+)\/rolesanywhere\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]+)$/.exec(
      header(r, 'authorization'),
    )
  if (!auth) return 'Missing or malformed Authorization header'
  const [, kind, serial, date, region, signedHeaders, signature] = auth
  const certificate = new X509Certificate(Buffer.from(header(r, 'x-amz-x509'), 'base64'))
  if (BigInt(`0x${certificate.serialNumber}`).toString() !== serial) return 'Credential is not the certificate serial number'
  if ((certificate.publicKey.asymmetricKeyType === 'rsa' ? 'RSA' : 'ECDSA') !== kind) return 'Algorithm does not match the certificate key'
  const chain = header(r, 'x-amz-x509-chain')
  if (chain !== '' && !certificate.verify(new X509Certificate(Buffer.from(chain.split(',')[0]!, 'base64')).publicKey)) return 'Certificate chain is broken'
  const names = signedHeaders!.split(';')
  if (!['host', 'x-amz-date', 'x-amz-x509'].every((name) => names.includes(name))) return 'Required headers are not signed'
  if (header(r, 'x-amz-date').slice(0, 8) !== date) return 'Credential scope date is not the request date'
  const [path, query = ''] = r.path.split('?')
  const canonicalQuery = query
    .split('&')
    .map((pair) => pair.split('=').map((part) => encode(decodeURIComponent(part))).join('='))
    .sort()
    .join('&')
  const canonical = [
    r.method,
    path!.split('/').map(encode).join('/'),
    canonicalQuery,
    ...names.map((name) => `${name}:${header(r, name).trim()}`),
    '',
    signedHeaders,
    sha256(r.body),
  ].join('\n')
  const toSign = [`AWS4-X509-${kind}-SHA256`, header(r, 'x-amz-date'), `${date}/${region}/rolesanywhere/aws4_request`, sha256(canonical)].join('\n')
  return verify('sha256', Buffer.from(toSign), certificate.publicKey, Buffer.from(signature!, 'hex')) ? undefined : 'Signature validation failed'
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, {'content-type': 'application/json', ...headers})
  res.end(JSON.stringify(body))
}

/** What the real service does: refuse a bad signature, else issue credentials. */
function createSession(r: Received, res: ServerResponse): void {
  const problem = signatureProblem(r)
  if (problem) {
    json(res, 403, {message: problem}, {'x-amzn-ErrorType': 'AccessDeniedException:http://internal.amazon.com/coral/com.amazon.coral.service/'})
    return
  }
  const {durationSeconds} = JSON.parse(r.body) as {durationSeconds: number}
  json(res, 201, {
    credentialSet: [
      {
        assumedRoleUser: {arn: 'arn:aws:sts::123456789012:assumed-role/wid+workload/session', assumedRoleId: 'AROAEXAMPLE:session'},
        credentials: {
          accessKeyId: 'ASIAEXAMPLE',
          secretAccessKey: 'secret/key',
          sessionToken: 'session-token',
          expiration: new Date(Date.UTC(2030, 0, 1) + durationSeconds * 1000).toISOString(),
          source: 'UserProvided',
        },
        packedPolicySize: 0,
        roleArn: ROLE_ARN,
      },
    ],
    subjectArn: 'arn:aws:rolesanywhere:us-east-1:123456789012:subject/example',
  })
}

let dir: string
let server: Server
let endpoint: string
let serverCa: string
let received: Received[]
/** Changes what the server received before it answers: a request altered in transit. */
let tamper: (r: Received) => void
let answer: (r: Received, res: ServerResponse) => void
let rsa: Pick<RolesAnywhereSessionRequest, 'certificatePem' | 'privateKeyPem'>
let ec: Pick<RolesAnywhereSessionRequest, 'certificatePem' | 'privateKeyPem' | 'intermediatesPem'>

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wid-rolesanywhere-'))
  const path = (name: string) => join(dir, name)
  const ec256 = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  openssl(['req', '-x509', ...ec256, '-keyout', path('server.key'), '-out', path('server.crt'), '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '1'])
  openssl(['req', '-x509', ...ec256, '-keyout', path('ca.key'), '-out', path('ca.crt'), '-subj', '/CN=wid test CA', '-days', '1'])
  openssl(['ecparam', '-name', 'secp384r1', '-genkey', '-noout', '-out', path('ec.key')])
  openssl(['req', '-new', '-key', path('ec.key'), '-subj', '/CN=workload', '-out', path('ec.csr')])
  openssl(['x509', '-req', '-in', path('ec.csr'), '-CA', path('ca.crt'), '-CAkey', path('ca.key'), '-set_serial', '4242', '-days', '1', '-out', path('ec.crt')])
  serverCa = readFileSync(path('server.crt'), 'utf8')
  rsa = {
    certificatePem: readFileSync(join(VECTOR, 'cert.chained.pem'), 'utf8'),
    privateKeyPem: readFileSync(join(VECTOR, 'cert-key.pem'), 'utf8'),
  }
  ec = {
    certificatePem: readFileSync(path('ec.crt'), 'utf8'),
    privateKeyPem: readFileSync(path('ec.key'), 'utf8'),
    intermediatesPem: readFileSync(path('ca.crt'), 'utf8'),
  }
  server = createServer({key: readFileSync(path('server.key')), cert: serverCa}, (req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => (body += chunk))
    req.on('end', () => {
      const r: Received = {method: req.method!, path: req.url!, headers: {...req.headers}, body}
      received.push(r)
      tamper(r)
      answer(r, res)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  endpoint = `https://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(() => {
  server.closeAllConnections()
  server.close()
  rmSync(dir, {recursive: true, force: true})
})

beforeEach(() => {
  received = []
  tamper = () => undefined
  answer = createSession
})

const session = (overrides: Partial<RolesAnywhereSessionRequest> = {}) =>
  createRolesAnywhereSession({...rsa, profileArn: PROFILE_ARN, roleArn: ROLE_ARN, trustAnchorArn: TRUST_ANCHOR_ARN, endpoint, ca: serverCa, ...overrides})

describe('createRolesAnywhereSession', () => {
  it('gets credentials for an RSA certificate with its chain in the same PEM', async () => {
    // Given the vector's RSA leaf + intermediate and PKCS#1 key
    // When a session is created
    const credentials = await session()

    // Then the service accepted the signature and its credentials come back in credential_process form
    expect(credentials).toEqual({
      Version: 1,
      AccessKeyId: 'ASIAEXAMPLE',
      SecretAccessKey: 'secret/key',
      SessionToken: 'session-token',
      Expiration: '2030-01-01T01:00:00.000Z',
    })
    // And the request was CreateSession with the ARNs in the query and the duration in the body
    const [r] = received
    const query = new URL(r!.path, endpoint).searchParams
    expect([r!.method, new URL(r!.path, endpoint).pathname]).toEqual(['POST', '/sessions'])
    expect(Object.fromEntries(query)).toEqual({profileArn: PROFILE_ARN, roleArn: ROLE_ARN, trustAnchorArn: TRUST_ANCHOR_ARN})
    expect(r!.body).toBe('{"durationSeconds":3600}')
    expect(r!.headers['content-type']).toBe('application/json')
    expect(r!.headers.authorization).toMatch(/^AWS4-X509-RSA-SHA256 Credential=337562787801933536189724934726614584366112857655\/\d{8}\/us-east-1\/rolesanywhere\//)
    expect(r!.headers['x-amz-x509-chain']).toBeTruthy()
  })

  it('gets credentials for an EC P-384 certificate with a SEC1 key and separate intermediates', async () => {
    // Given an openssl-made P-384 leaf (serial 4242) issued by a CA given as intermediates
    // When a 15-minute session is created
    const credentials = await session({...ec, durationSeconds: 900})

    // Then the ECDSA signature was accepted, chain included
    expect(credentials.Expiration).toBe('2030-01-01T00:15:00.000Z')
    expect(received[0]!.headers.authorization).toMatch(/^AWS4-X509-ECDSA-SHA256 Credential=4242\//)
    expect(received[0]!.headers['x-amz-x509-chain']).toBe(
      Buffer.from(new X509Certificate(ec.intermediatesPem!).raw).toString('base64'),
    )
    expect(received[0]!.body).toBe('{"durationSeconds":900}')
  })

  it.each([
    ['the body', (r: Received) => (r.body = '{"durationSeconds":43200}')],
    ['a signed header', (r: Received) => (r.headers['content-type'] = 'text/plain')],
    ['the query', (r: Received) => (r.path = r.path.replace('role%2Fwid%2Bworkload', 'role%2Fadmin'))],
  ])('reports access_denied when %s changed after signing', async (_, change) => {
    // Given a request altered on its way to the service
    tamper = change

    // When a session is requested
    const error = await rejection(session())

    // Then the service's refusal comes back with what to check
    expect(received).toHaveLength(1)
    expect(error.code).toBe('access_denied')
    expect(error.message).toBe(`aws: Roles Anywhere refused the session: Signature validation failed (${ACCESS_ADVICE})`)
  })

  it('reports unavailable when the service fails', async () => {
    // Given a service answering 500
    answer = (_, res) => json(res, 500, {__type: 'com.amazonaws.rolesanywhere#InternalServerException', message: 'Internal failure'})

    // When a session is requested
    const error = await rejection(session())

    // Then it is unavailable, naming the endpoint
    expect(error.code).toBe('unavailable')
    expect(error.message).toBe(`aws: Roles Anywhere at ${endpoint} failed with HTTP 500: Internal failure (try again later)`)
  })

  it('reports not_found when the profile or trust anchor does not exist', async () => {
    // Given a service that does not know the profile
    answer = (_, res) => json(res, 404, {message: 'Profile not found'}, {'x-amzn-ErrorType': 'ResourceNotFoundException'})

    // When a session is requested
    const error = await rejection(session())

    // Then the message says where to look
    expect(error.code).toBe('not_found')
    expect(error.message).toBe('aws: Roles Anywhere refused the session: Profile not found (check that the profile and the trust anchor exist and are enabled in us-east-1)')
  })

  it('reports unavailable after the timeout when the service never answers', async () => {
    // Given a service that accepts the connection and then says nothing
    answer = () => undefined

    // When a session is requested with a 300 ms timeout
    const error = await rejection(session({timeoutMs: 300}))

    // Then it is unavailable, naming the endpoint and the timeout
    expect(error.code).toBe('unavailable')
    expect(error.message).toBe(`aws: cannot reach Roles Anywhere at ${endpoint}: no answer within the 300 ms timeout`)
  })

  it("refuses an endpoint whose certificate is not trusted (the system's roots by default)", async () => {
    // Given the test endpoint without its CA
    // When a session is requested
    const error = await rejection(session({ca: undefined}))

    // Then TLS fails before anything is sent
    expect(error.code).toBe('unavailable')
    expect(error.message).toMatch(new RegExp(`^aws: cannot reach Roles Anywhere at ${endpoint}: .*self.signed`))
    expect(received).toHaveLength(0)
  })

  it.each([
    ['--profile-arn', {profileArn: TRUST_ANCHOR_ARN}, 'resource type is "trust-anchor", expected "profile/<name>"'],
    ['--profile-arn', {profileArn: 'arn:aws:rolesanywhere::123456789012:profile/p'}, 'the region is missing'],
    ['--profile-arn', {profileArn: PROFILE_ARN.replace('us-east-1', 'eu-west-1')}, 'the profile is in eu-west-1 but the trust anchor in us-east-1'],
    ['--trust-anchor-arn', {trustAnchorArn: 'arn:aws:iam::123456789012:trust-anchor/t'}, 'service is "iam", expected "rolesanywhere"'],
    ['--trust-anchor-arn', {trustAnchorArn: 'trust-anchor/t'}, 'expected arn:<partition>:<service>:<region>:<account>:<resource>'],
    ['--trust-anchor-arn', {trustAnchorArn: 'arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/6f3a9e1c-…'}, 'it contains "…", which an ARN cannot (copy the ARN AWS shows)'],
    ['--trust-anchor-arn', {trustAnchorArn: 'arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/my-anchor'}, 'the trust-anchor id "my-anchor" is not a UUID'],
    ['--profile-arn', {profileArn: 'arn:aws:rolesanywhere:us-east-1:123456789012:profile/0d5c2b61-…'}, 'it contains "…"'],
    ['--role-arn', {roleArn: 'arn:aws:iam:us-east-1:123456789012:role/r'}, 'iam ARNs have no region'],
    ['--role-arn', {roleArn: PROFILE_ARN}, 'service is "rolesanywhere", expected "iam"'],
  ])('refuses a bad %s before any request', async (flag, overrides, why) => {
    // Given a malformed or mismatched ARN
    // When a session is requested
    const error = await rejection(session(overrides))

    // Then it is bad input naming the flag, and nothing was sent
    expect(error.code).toBe('bad_input')
    expect(error.message.startsWith(`${flag}: `)).toBe(true)
    expect(error.message).toContain(why)
    expect(received).toHaveLength(0)
  })

  it.each([
    ['a key that is not the certificate’s', () => ({privateKeyPem: ec.privateKeyPem}), 'aws: the private key does not match the certificate'],
    ['an http:// endpoint', () => ({endpoint: endpoint.replace('https:', 'http:')}), 'aws: the Roles Anywhere endpoint must be https://'],
    ['a duration Roles Anywhere does not accept', () => ({durationSeconds: 60}), 'aws: session duration 60s is out of range'],
    ['a certificate file without a certificate', () => ({certificatePem: rsa.privateKeyPem}), 'aws: the certificate holds no "CERTIFICATE" PEM block'],
  ])('refuses %s before any request', async (_, overrides, message) => {
    // Given otherwise valid inputs with one wrong
    // When a session is requested
    const error = await rejection(session(overrides()))

    // Then it is bad input saying what is wrong, and nothing was sent
    expect(error.code).toBe('bad_input')
    expect(error.message.startsWith(message)).toBe(true)
    expect(received).toHaveLength(0)
  })
})
