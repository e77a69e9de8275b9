/**
 * Deciding what an SVID request yields: by legacy SPIFFE path (role allow.spiffe), or by a
 * workload identity chosen by name or labels (RBAC on workload_identity, the identity's
 * rules, then its templates). The result is the concrete SPIFFE ID, SANs, subject, claims
 * and TTL cap that the minting functions take.
 */
import type {Backend} from '../backend/backend.js'
import type {NameAttribute} from '../crypto/certificate.js'
import {OID} from '../crypto/certificate.js'
import {parseDuration} from '../duration.js'
import {badInput, WidError} from '../errors.js'
import type {WorkloadIdentity} from '../resources/types.js'
import {getResource, listResources} from '../services/resources.js'
import {SpiffeId, type TrustDomain} from '../spiffeid/index.js'
import type {Attributes} from './attributes.js'
import {checkDnsSan, checkIpSan, MAX_SVID_TTL_SECONDS} from './issuance.js'
import type {Principal} from './principal.js'
import {evaluateRules} from './rules.js'
import {renderTemplate} from './templates.js'

/** Which identity to issue: exactly one of a legacy path, a workload identity name, or labels. */
export interface SvidSelector {
  path?: string
  name?: string
  labels?: Record<string, string>
}

export const MAX_LABEL_MATCHES = 10
const MAX_SANS = 100
const DEFAULT_X509_MAX_TTL_SECONDS = 24 * 3600
const DEFAULT_JWT_MAX_TTL_SECONDS = 24 * 3600

export interface ResolvedIdentity {
  spiffeId: SpiffeId
  maxTtlSeconds: number
  dnsSans: string[]
  ipSans: string[]
  subject?: NameAttribute[]
  extraClaims?: Record<string, unknown>
  hint?: string
  workloadIdentity?: string
}

export function checkSelector(selector: SvidSelector): void {
  const given = [selector.path !== undefined, selector.name !== undefined, selector.labels !== undefined].filter(Boolean).length
  if (given !== 1) throw badInput('svid: give exactly one of a SPIFFE ID path, --name or --labels')
  if (selector.labels !== undefined && Object.keys(selector.labels).length === 0) throw badInput('svid: --labels needs at least one key=value')
}

/**
 * The SPIFFE ID an SVID carries for `path`, by either way of issuance. The empty path is
 * refused: `spiffe://<trust domain>` alone names the trust domain (its CA), never a workload.
 */
function svidSpiffeId(td: TrustDomain, path: string): SpiffeId {
  if (path === '') {
    throw badInput(`svid: an SVID needs a SPIFFE ID path: ${td.idString()} alone is the trust domain's own ID (the CA's); give a path such as /svc/foo`)
  }
  return SpiffeId.fromPath(td, path)
}

function renderClaims(value: unknown, attributes: Attributes, field: string): unknown {
  if (typeof value === 'string') return renderTemplate(value, attributes, field)
  if (Array.isArray(value)) return value.map((v, i) => renderClaims(v, attributes, `${field}[${i}]`))
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderClaims(v, attributes, `${field}.${k}`)]))
  }
  return value
}

function fromWorkloadIdentity(td: TrustDomain, wi: WorkloadIdentity, principal: Principal, type: 'x509' | 'jwt'): ResolvedIdentity {
  const name = wi.metadata.name
  const {attributes} = principal
  evaluateRules(name, wi.spec.rules, attributes)
  const {spiffe} = wi.spec
  const path = renderTemplate(spiffe.id, attributes, 'spec.spiffe.id')
  let spiffeId: SpiffeId
  try {
    spiffeId = svidSpiffeId(td, path)
  } catch (error) {
    throw new WidError('access_denied', `auth: workload identity "${name}" renders spec.spiffe.id to "${path}", which is not a valid path: ${(error as Error).message}`)
  }
  principal.access?.checkSpiffeDeny(path, name)
  const dnsSans = (spiffe.x509?.dns_sans ?? []).map((san, i) => checkDnsSan(renderTemplate(san, attributes, `spec.spiffe.x509.dns_sans[${i}]`)))
  const template = spiffe.x509?.subject_template
  const subject: NameAttribute[] = []
  if (template?.organization) subject.push({oid: OID.organization, value: renderTemplate(template.organization, attributes, 'spec.spiffe.x509.subject_template.organization')})
  if (template?.organizational_unit) {
    subject.push({oid: OID.organizationalUnit, value: renderTemplate(template.organizational_unit, attributes, 'spec.spiffe.x509.subject_template.organizational_unit')})
  }
  if (template?.common_name) subject.push({oid: OID.commonName, value: renderTemplate(template.common_name, attributes, 'spec.spiffe.x509.subject_template.common_name')})
  const maxTtl =
    type === 'x509'
      ? spiffe.x509?.maximum_ttl ? parseDuration(spiffe.x509.maximum_ttl) : DEFAULT_X509_MAX_TTL_SECONDS
      : spiffe.jwt?.maximum_ttl ? parseDuration(spiffe.jwt.maximum_ttl) : DEFAULT_JWT_MAX_TTL_SECONDS
  return {
    spiffeId,
    maxTtlSeconds: maxTtl,
    dnsSans: type === 'x509' ? dnsSans : [],
    ipSans: [],
    ...(subject.length ? {subject} : {}),
    ...(type === 'jwt' && spiffe.jwt?.extra_claims
      ? {extraClaims: renderClaims(spiffe.jwt.extra_claims, attributes, 'spec.spiffe.jwt.extra_claims') as Record<string, unknown>}
      : {}),
    ...(spiffe.hint ? {hint: renderTemplate(spiffe.hint, attributes, 'spec.spiffe.hint')} : {}),
    workloadIdentity: name,
  }
}

export interface ResolveRequest {
  selector: SvidSelector
  type: 'x509' | 'jwt'
  dnsSans?: string[]
  ipSans?: string[]
}

export async function resolveIdentity(backend: Backend, td: TrustDomain, principal: Principal, request: ResolveRequest): Promise<ResolvedIdentity> {
  const {selector} = request
  checkSelector(selector)
  if ((request.dnsSans?.length ?? 0) + (request.ipSans?.length ?? 0) > MAX_SANS) throw badInput(`svid: at most ${MAX_SANS} DNS and IP SANs`)
  request.dnsSans?.forEach(checkDnsSan)
  request.ipSans?.forEach(checkIpSan)
  if (selector.path !== undefined) {
    const spiffeId = svidSpiffeId(td, selector.path)
    principal.access?.checkSpiffePath(selector.path, request.dnsSans ?? [], request.ipSans ?? [])
    return {spiffeId, maxTtlSeconds: MAX_SVID_TTL_SECONDS, dnsSans: request.dnsSans ?? [], ipSans: request.ipSans ?? []}
  }
  if (request.dnsSans?.length || request.ipSans?.length) {
    throw badInput('svid: SANs of a workload identity come from its spec.spiffe.x509.dns_sans; --dns-san and --ip-san apply to SPIFFE ID paths only')
  }
  if (selector.name !== undefined) {
    const wi = await getResource<WorkloadIdentity>(backend, 'workload_identity', selector.name)
    if (!wi) throw new WidError('not_found', `auth: workload identity "${selector.name}" not found`)
    principal.access?.checkWorkloadIdentity(wi, ['read'])
    return fromWorkloadIdentity(td, wi, principal, request.type)
  }
  const labels = selector.labels!
  // A request's selector is compared exactly (patterns are for roles, which admins write), and
  // only identities the caller may use are considered, so nothing is revealed about the rest.
  const usable = (await listResources<WorkloadIdentity>(backend, 'workload_identity')).filter(
    (wi) =>
      Object.entries(labels).every(([key, value]) => wi.metadata.labels?.[key] === value) &&
      (!principal.access || principal.access.canUseWorkloadIdentity(wi, ['read', 'list']).allowed),
  )
  const shown = Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',')
  if (usable.length === 0) throw new WidError('not_found', `auth: no workload identity labelled ${shown} that ${principal.description} may use`)
  if (usable.length > MAX_LABEL_MATCHES) {
    throw new WidError('bad_input', `auth: labels ${shown} match ${usable.length} workload identities; at most ${MAX_LABEL_MATCHES} may match, so narrow the selector`)
  }
  const refusals: string[] = []
  for (const wi of usable) {
    try {
      return fromWorkloadIdentity(td, wi, principal, request.type)
    } catch (error) {
      if (!(error instanceof WidError) || error.code !== 'access_denied') throw error
      refusals.push(error.message.replace(/^auth: /, ''))
    }
  }
  throw new WidError('access_denied', `auth: none of the workload identities labelled ${shown} can be issued: ${refusals.join('; ')}`)
}
