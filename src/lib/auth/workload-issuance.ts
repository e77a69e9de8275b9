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
import {workloadAttributeName, type Attributes, type WorkloadAttributes} from './attributes.js'
import {checkDnsSan, checkIpSan, MAX_SVID_TTL_SECONDS} from './issuance.js'
import type {Principal} from './principal.js'
import type {LongestSvidTtl} from './rotation-policy.js'
import {evaluateRules, ruleAttributes} from './rules.js'
import {renderTemplate, templateAttributes} from './templates.js'

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

/** The templates of a claim value (a string, or strings nested in lists and mappings), with their fields. */
function claimTemplates(value: unknown, field: string): [field: string, template: string][] {
  if (typeof value === 'string') return [[field, value]]
  if (Array.isArray(value)) return value.flatMap((v, i) => claimTemplates(v, `${field}[${i}]`))
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => claimTemplates(v, `${field}.${k}`))
  return []
}

/** Every template fromWorkloadIdentity renders for an SVID of `type`, with its field. */
function templatesOf(wi: WorkloadIdentity, type: 'x509' | 'jwt'): [field: string, template: string][] {
  const {spiffe} = wi.spec
  const templates: [string, string][] = [['spec.spiffe.id', spiffe.id]]
  if (spiffe.hint) templates.push(['spec.spiffe.hint', spiffe.hint])
  if (type === 'jwt') return [...templates, ...claimTemplates(spiffe.jwt?.extra_claims, 'spec.spiffe.jwt.extra_claims')]
  ;(spiffe.x509?.dns_sans ?? []).forEach((san, i) => templates.push([`spec.spiffe.x509.dns_sans[${i}]`, san]))
  for (const [field, template] of Object.entries(spiffe.x509?.subject_template ?? {})) {
    if (template) templates.push([`spec.spiffe.x509.subject_template.${field}`, template])
  }
  return templates
}

/**
 * The `workload.*` attributes (canonical names, sorted, each once) that the rules of the
 * identities and the templates an SVID of `type` renders from them refer to: an answer holds
 * for any workload whose values of these attributes are the same.
 */
export function workloadDependencies(identities: WorkloadIdentity[], type: 'x509' | 'jwt'): string[] {
  const names = identities.flatMap((wi) => [
    ...ruleAttributes(wi.spec.rules),
    ...templatesOf(wi, type).flatMap(([field, template]) => templateAttributes(template, field)),
  ])
  return [...new Set(names.flatMap((name) => workloadAttributeName(name) ?? []))].sort()
}

function maxTtlOf(wi: WorkloadIdentity, type: 'x509' | 'jwt'): number {
  const {spiffe} = wi.spec
  if (type === 'x509') return spiffe.x509?.maximum_ttl ? parseDuration(spiffe.x509.maximum_ttl) : DEFAULT_X509_MAX_TTL_SECONDS
  return spiffe.jwt?.maximum_ttl ? parseDuration(spiffe.jwt.maximum_ttl) : DEFAULT_JWT_MAX_TTL_SECONDS
}

/** The longest TTL an SVID of `type` may have in the cluster now: the cap of issuance by path, or a workload identity's maximum_ttl. */
export async function longestSvidTtl(backend: Backend, type: 'x509' | 'jwt'): Promise<LongestSvidTtl> {
  let longest: LongestSvidTtl = {seconds: MAX_SVID_TTL_SECONDS, source: 'the cap of issuance by SPIFFE path'}
  for (const wi of await listResources<WorkloadIdentity>(backend, 'workload_identity')) {
    const seconds = maxTtlOf(wi, type)
    if (seconds > longest.seconds) longest = {seconds, source: `the maximum_ttl of workload identity "${wi.metadata.name}"`}
  }
  return longest
}

function fromWorkloadIdentity(td: TrustDomain, wi: WorkloadIdentity, principal: Principal, attributes: Attributes, type: 'x509' | 'jwt'): ResolvedIdentity {
  const name = wi.metadata.name
  evaluateRules(name, wi.spec.rules, attributes)
  const {spiffe} = wi.spec
  const path = renderTemplate(spiffe.id, attributes, 'spec.spiffe.id')
  let spiffeId: SpiffeId
  try {
    spiffeId = svidSpiffeId(td, path)
  } catch (error) {
    throw new WidError('access_denied', `auth: workload identity "${name}" renders spec.spiffe.id to ${JSON.stringify(path)}, which is not a valid path: ${(error as Error).message}`)
  }
  principal.access?.checkSpiffeDeny(path, name)
  const dnsSans = (spiffe.x509?.dns_sans ?? []).map((san, i) => checkDnsSan(renderTemplate(san, attributes, `spec.spiffe.x509.dns_sans[${i}]`, {wildcardFree: true})))
  const template = spiffe.x509?.subject_template
  const subject: NameAttribute[] = []
  if (template?.organization) subject.push({oid: OID.organization, value: renderTemplate(template.organization, attributes, 'spec.spiffe.x509.subject_template.organization')})
  if (template?.organizational_unit) {
    subject.push({oid: OID.organizationalUnit, value: renderTemplate(template.organizational_unit, attributes, 'spec.spiffe.x509.subject_template.organizational_unit')})
  }
  if (template?.common_name) subject.push({oid: OID.commonName, value: renderTemplate(template.common_name, attributes, 'spec.spiffe.x509.subject_template.common_name')})
  return {
    spiffeId,
    maxTtlSeconds: maxTtlOf(wi, type),
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
  /** What the bot agent attested of the workload the SVID is for; rules and templates see it as `workload.*`. */
  workload?: WorkloadAttributes
  /** By labels: every matching identity that can be issued, not only the first. */
  all?: boolean
}

export interface Resolution {
  /** One identity; with `all`, each that can be issued, by name. */
  identities: ResolvedIdentity[]
  /** The `workload.*` attributes the answer depends on (see workloadDependencies). */
  dependsOn: string[]
}

/** The caller's attributes with the workload's, which only a bot agent (the attestor) or the local admin may present. */
function attributesFor(principal: Principal, workload: WorkloadAttributes | undefined): Attributes {
  if (workload === undefined) return principal.attributes
  if (principal.caller.kind !== 'bot' && principal.caller.kind !== 'admin') {
    throw new WidError('access_denied', "svid: workload attributes are accepted only from a bot agent's attestation")
  }
  return {...principal.attributes, workload}
}

export async function resolveIdentities(backend: Backend, td: TrustDomain, principal: Principal, request: ResolveRequest): Promise<Resolution> {
  const {selector, type} = request
  checkSelector(selector)
  if (request.all && selector.labels === undefined) throw badInput('svid: "all" applies to a labels selector only')
  if ((request.dnsSans?.length ?? 0) + (request.ipSans?.length ?? 0) > MAX_SANS) throw badInput(`svid: at most ${MAX_SANS} DNS and IP SANs`)
  request.dnsSans?.forEach(checkDnsSan)
  request.ipSans?.forEach(checkIpSan)
  const attributes = attributesFor(principal, request.workload)
  if (selector.path !== undefined) {
    const spiffeId = svidSpiffeId(td, selector.path)
    principal.access?.checkSpiffePath(selector.path, request.dnsSans ?? [], request.ipSans ?? [])
    return {identities: [{spiffeId, maxTtlSeconds: MAX_SVID_TTL_SECONDS, dnsSans: request.dnsSans ?? [], ipSans: request.ipSans ?? []}], dependsOn: []}
  }
  if (request.dnsSans?.length || request.ipSans?.length) {
    throw badInput('svid: SANs of a workload identity come from its spec.spiffe.x509.dns_sans; --dns-san and --ip-san apply to SPIFFE ID paths only')
  }
  if (selector.name !== undefined) {
    const wi = await getResource<WorkloadIdentity>(backend, 'workload_identity', selector.name)
    if (!wi) throw new WidError('not_found', `auth: workload identity "${selector.name}" not found`)
    principal.access?.checkWorkloadIdentity(wi, ['read'])
    return {identities: [fromWorkloadIdentity(td, wi, principal, attributes, type)], dependsOn: workloadDependencies([wi], type)}
  }
  const labels = selector.labels!
  // A request's selector is compared exactly (patterns are for roles, which admins write), and
  // only identities the caller may use are considered, so nothing is revealed about the rest.
  const usable = (await listResources<WorkloadIdentity>(backend, 'workload_identity'))
    .filter(
      (wi) =>
        Object.entries(labels).every(([key, value]) => wi.metadata.labels?.[key] === value) &&
        (!principal.access || principal.access.canUseWorkloadIdentity(wi, ['read', 'list']).allowed),
    )
    .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0))
  const shown = Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',')
  if (usable.length === 0) throw new WidError('not_found', `auth: no workload identity labelled ${shown} that ${principal.description} may use`)
  if (usable.length > MAX_LABEL_MATCHES) {
    throw new WidError('bad_input', `auth: labels ${shown} match ${usable.length} workload identities; at most ${MAX_LABEL_MATCHES} may match, so narrow the selector`)
  }
  const identities: ResolvedIdentity[] = []
  const refusals: string[] = []
  for (const wi of usable) {
    try {
      identities.push(fromWorkloadIdentity(td, wi, principal, attributes, type))
      if (!request.all) break
    } catch (error) {
      if (!(error instanceof WidError) || error.code !== 'access_denied') throw error
      refusals.push(error.message.replace(/^auth: /, ''))
    }
  }
  if (identities.length === 0) throw new WidError('access_denied', `auth: none of the workload identities labelled ${shown} can be issued: ${refusals.join('; ')}`)
  return {identities, dependsOn: workloadDependencies(usable, type)}
}
