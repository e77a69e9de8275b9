/**
 * `wid spiffe-inspect` (tbot's command): asks a Workload API endpoint for its X.509 context,
 * a JWT-SVID for an audience and the JWT bundles, and reports what it got. Everything the
 * socket returns is the peer's data: certificates go through the same checks as
 * `wid svid inspect` (go-spiffe's rules, the chain to the SVID's bundle), tokens are decoded
 * and their signatures checked against the JWT bundle of their trust domain, and what cannot
 * be read is reported as a problem, never shown raw. Private keys are used to check that they
 * match, and never reported.
 */
import {X509Certificate} from 'node:crypto'
import {readChildren} from '../crypto/der.js'
import {ASYMMETRIC_JWS_ALGORITHMS} from '../crypto/keys.js'
import {encodePem} from '../crypto/pem.js'
import {WidError} from '../errors.js'
import {SpiffeId} from '../spiffeid/index.js'
import {inspectX509Svid, type X509SvidInspection} from '../svid/inspect.js'
import {summarizeJwtSvid, type JwtSvidSummary} from '../svid/inspect-path.js'
import {formatEndpoint, type Endpoint} from './address.js'
import {WorkloadApiClient} from './client.js'
import type {JwtBundlesResponse, JwtSvid, X509SvidResponse} from './proto.js'

/** The JWT-SVID algorithms (RS/ES/PS 256/384/512): a bundle's symmetric key must not verify a token. */

export interface X509SvidReport extends X509SvidInspection {
  hint: string
  /** The first SVID of the response, the one a workload uses unless it picks another. */
  default: boolean
}

export interface TrustBundleReport {
  trustDomain: string
  federated: boolean
  certificates: {subject: string; notAfter: string; secondsLeft: number}[]
  problems: string[]
}

export interface JwtSvidReport extends Omit<JwtSvidSummary, 'file'> {
  hint: string
  default: boolean
  /** Whether the signature verifies with a key of the JWT bundle of the token's trust domain. */
  signatureVerified: boolean
}

export interface JwtBundleReport {
  trustDomain: string
  keyIds: string[]
  problems: string[]
}

export interface WorkloadApiInspection {
  endpoint: string
  x509Svids: X509SvidReport[]
  trustBundles: TrustBundleReport[]
  /** The audiences asked for; no JWT-SVID is fetched without one. */
  audience: string[]
  jwtSvids: JwtSvidReport[]
  jwtBundles: JwtBundleReport[]
}

export interface InspectOptions {
  audience: string[]
  timeoutMs: number
  now: Date
}

const PREFIX = 'spiffe-inspect'

/** `spiffe://example.org` and `spiffe://example.org/svc` both as `example.org`; anything else as given. */
function trustDomainOf(id: string): string {
  try {
    return SpiffeId.parse(id).trustDomain.name
  } catch {
    return id
  }
}

/** The certificates of a concatenated DER field, each as PEM. */
function certificatesPem(der: Uint8Array, what: string): string {
  try {
    return readChildren(der)
      .map((tlv) => encodePem('CERTIFICATE', tlv.raw))
      .join('')
  } catch (error) {
    throw new WidError('invalid_svid', `${PREFIX}: ${what} is not concatenated DER certificates`, {cause: error})
  }
}

async function x509SvidReports(response: X509SvidResponse, now: Date): Promise<X509SvidReport[]> {
  if (response.svids.length === 0) throw new WidError('invalid_svid', `${PREFIX}: FetchX509SVID: no SVIDs in response`)
  return Promise.all(
    response.svids.map(async (svid, index) => {
      const what = `the X.509-SVID of ${JSON.stringify(svid.spiffe_id)}`
      const inspection = await inspectX509Svid({
        certificatesPem: certificatesPem(svid.x509_svid, what),
        keyPem: encodePem('PRIVATE KEY', svid.x509_svid_key),
        bundlePem: svid.bundle.length > 0 ? certificatesPem(svid.bundle, `the bundle of ${JSON.stringify(svid.spiffe_id)}`) : undefined,
        now,
      }).catch((error: unknown) => {
        throw error instanceof WidError ? new WidError('invalid_svid', `${PREFIX}: ${what}: ${error.message}`, {cause: error}) : error
      })
      if (svid.bundle.length === 0) inspection.problems.push(`${PREFIX}: no bundle came with the SVID, so its chain is not verified`)
      if (inspection.spiffeId !== svid.spiffe_id) {
        inspection.problems.push(`${PREFIX}: the response names ${JSON.stringify(svid.spiffe_id)} but the certificate is for ${JSON.stringify(inspection.spiffeId ?? '(no SPIFFE ID)')}`)
      }
      return {...inspection, hint: svid.hint, default: index === 0}
    }),
  )
}

function trustBundleReport(trustDomain: string, federated: boolean, der: Uint8Array, now: Date): TrustBundleReport {
  const report: TrustBundleReport = {trustDomain, federated, certificates: [], problems: []}
  try {
    for (const {raw} of readChildren(der)) {
      const certificate = new X509Certificate(raw)
      const notAfter = certificate.validToDate
      report.certificates.push({
        subject: certificate.subject.split('\n').join(', '),
        notAfter: notAfter.toISOString(),
        secondsLeft: Math.floor((notAfter.getTime() - now.getTime()) / 1000),
      })
    }
  } catch {
    report.problems.push(`${PREFIX}: the bundle of ${trustDomain} is not concatenated DER certificates`)
  }
  if (der.length === 0) report.problems.push(`${PREFIX}: the bundle of ${trustDomain} is empty`)
  return report
}

/** The bundle of each SVID's trust domain (once), then the federated ones. */
function trustBundleReports(response: X509SvidResponse, now: Date): TrustBundleReport[] {
  const own = new Map<string, Uint8Array>()
  for (const svid of response.svids) {
    const trustDomain = trustDomainOf(svid.spiffe_id)
    if (!own.has(trustDomain)) own.set(trustDomain, svid.bundle)
  }
  return [
    ...[...own].map(([trustDomain, der]) => trustBundleReport(trustDomain, false, der, now)),
    ...Object.entries(response.federated_bundles).map(([id, der]) => trustBundleReport(trustDomainOf(id), true, der, now)),
  ]
}

interface ParsedJwks {
  keys: Record<string, unknown>[]
}

function parseJwks(json: Uint8Array): ParsedJwks | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(json).toString('utf8'))
    const keys = (value as {keys?: unknown})?.keys
    if (Array.isArray(keys) && keys.every((key) => key !== null && typeof key === 'object' && !Array.isArray(key))) return {keys}
  } catch {
    // reported by the caller
  }
  return undefined
}

function jwtBundleReports(response: JwtBundlesResponse): {reports: JwtBundleReport[]; jwks: Map<string, ParsedJwks>} {
  const jwks = new Map<string, ParsedJwks>()
  const reports = Object.entries(response.bundles).map(([id, json]): JwtBundleReport => {
    const trustDomain = trustDomainOf(id)
    const parsed = parseJwks(json)
    if (!parsed) return {trustDomain, keyIds: [], problems: [`${PREFIX}: the JWT bundle of ${trustDomain} is not a JWKS document`]}
    jwks.set(trustDomain, parsed)
    const keyIds = parsed.keys.flatMap((key) => (typeof key.kid === 'string' && key.kid !== '' ? [key.kid] : []))
    const missing = parsed.keys.length - keyIds.length
    return {trustDomain, keyIds, problems: missing > 0 ? [`${PREFIX}: ${missing} key(s) of the JWT bundle of ${trustDomain} have no key id`] : []}
  })
  return {reports, jwks}
}

async function verifySignature(token: string, jwks: ParsedJwks | undefined, trustDomain: string): Promise<string | undefined> {
  if (!jwks) return `${PREFIX}: no JWT bundle for ${trustDomain} to verify the signature with`
  const {compactVerify, createLocalJWKSet} = await import('jose')
  // jose takes only keys without a `use` or with `use: sig`; a SPIFFE bundle says `jwt-svid`.
  const keys = jwks.keys.filter((key) => key.use === undefined || key.use === 'sig' || key.use === 'jwt-svid').map(({use, ...key}) => key)
  try {
    await compactVerify(token, createLocalJWKSet({keys} as Parameters<typeof createLocalJWKSet>[0]), {algorithms: ASYMMETRIC_JWS_ALGORITHMS})
    return undefined
  } catch (error) {
    return `${PREFIX}: the JWT-SVID's signature does not verify with the JWT bundle of ${trustDomain}: ${(error as Error).message}`
  }
}

async function jwtSvidReport(svid: JwtSvid, index: number, jwks: Map<string, ParsedJwks>, now: Date): Promise<JwtSvidReport> {
  let summary: Omit<JwtSvidSummary, 'file'>
  try {
    const {file, ...rest} = summarizeJwtSvid(`the JWT-SVID of ${JSON.stringify(svid.spiffe_id)}`, svid.svid, now)
    summary = rest
  } catch (error) {
    if (!(error instanceof WidError)) throw error
    return {spiffeId: undefined, issuer: undefined, audiences: [], expiresAt: undefined, secondsLeft: undefined, problems: [error.message], hint: svid.hint, default: index === 0, signatureVerified: false}
  }
  const trustDomain = trustDomainOf(summary.spiffeId ?? svid.spiffe_id)
  const signatureProblem = await verifySignature(svid.svid.trim(), jwks.get(trustDomain), trustDomain)
  if (signatureProblem) summary.problems.push(signatureProblem)
  if (summary.spiffeId !== svid.spiffe_id) {
    summary.problems.push(`${PREFIX}: the response names ${JSON.stringify(svid.spiffe_id)} but the token's subject is ${JSON.stringify(summary.spiffeId ?? '(not a SPIFFE ID)')}`)
  }
  return {...summary, hint: svid.hint, default: index === 0, signatureVerified: signatureProblem === undefined}
}

/** Fetches the three answers at once; the first failure, in the order X.509, JWT-SVID, JWT bundles, is the error. */
export async function inspectWorkloadApi(endpoint: Endpoint, options: InspectOptions): Promise<WorkloadApiInspection> {
  const client = await WorkloadApiClient.connect(endpoint, {timeoutMs: options.timeoutMs, errorPrefix: PREFIX})
  const [x509, jwtSvids, jwtBundles] = await Promise.allSettled([
    client.fetchX509Context(),
    options.audience.length > 0 ? client.fetchJwtSvid(options.audience) : Promise.resolve({svids: []}),
    client.fetchJwtBundles(),
  ]).finally(() => client.close())
  if (x509.status === 'rejected') throw x509.reason
  if (jwtSvids.status === 'rejected') throw jwtSvids.reason
  if (jwtBundles.status === 'rejected') throw jwtBundles.reason
  if (options.audience.length > 0 && jwtSvids.value.svids.length === 0) throw new WidError('invalid_svid', `${PREFIX}: FetchJWTSVID: there were no SVIDs in the response`)
  const bundles = jwtBundleReports(jwtBundles.value)
  return {
    endpoint: formatEndpoint(endpoint),
    x509Svids: await x509SvidReports(x509.value, options.now),
    trustBundles: trustBundleReports(x509.value, options.now),
    audience: options.audience,
    jwtSvids: await Promise.all(jwtSvids.value.svids.map((svid, index) => jwtSvidReport(svid, index, bundles.jwks, options.now))),
    jwtBundles: bundles.reports,
  }
}
