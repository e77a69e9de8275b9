/**
 * Role-based access decisions (DESIGN §4): verbs on kinds through `rules`, workload
 * identities through `workload_identity_labels` (to use them, and the scope of every read
 * and write of them), SPIFFE IDs through `spiffe[]` (issuance by path, the IDs a writer may
 * define, see spiffe-fence.ts). A matching deny always beats any allow. Reads see the union
 * of the roles' label scopes; a write counts only the roles that themselves allow its verb
 * on workload_identity, so a read-only role never widens what its holder may write.
 */
import {BlockList, isIP} from 'node:net'
import {WidError} from '../errors.js'
import type {LabelValues, Role, RoleConditions, RuleResource, Verb, WorkloadIdentity} from '../resources/types.js'
import {rolePatternProblems} from '../resources/role-patterns.js'
import {isRegexPattern, matchDnsSan, matchRegex, matchSpiffePath, type Side} from './patterns.js'
import {fenceRefusal} from './spiffe-fence.js'

const quote = (value: string): string => JSON.stringify(value)
const toList = (values: LabelValues): string[] => (typeof values === 'string' ? [values] : values)

/**
 * `*` matches anything, `^...$` is a regular expression (one that may not be run matches
 * nothing on the allow side, anything on the deny side), anything else is exact.
 */
export function matchLabelValue(pattern: string, value: string, side: Side = 'allow'): boolean {
  if (pattern === '*') return true
  if (isRegexPattern(pattern)) return matchRegex(pattern, value, side)
  return pattern === value
}

/**
 * Every key of the selector must match (a label present whose value matches one of the
 * key's patterns); `{'*': '*'}` matches every resource. An empty selector matches nothing.
 */
export function matchLabels(selector: Record<string, LabelValues> | undefined, labels: Record<string, string> | undefined, side: Side = 'allow'): boolean {
  const entries = Object.entries(selector ?? {})
  return (
    entries.length > 0 &&
    entries.every(([key, values]) => {
      if (key === '*') return toList(values).includes('*')
      return labels !== undefined && Object.hasOwn(labels, key) && toList(values).some((pattern) => matchLabelValue(pattern, labels[key]!, side))
    })
  )
}

export type WriteVerb = 'create' | 'update' | 'delete'

function grants(conditions: RoleConditions | undefined, kind: RuleResource, verb: Verb): boolean {
  return (conditions?.rules ?? []).some(
    (rule) => (rule.resources.includes(kind) || rule.resources.includes('*')) && (rule.verbs.includes(verb) || rule.verbs.includes('*')),
  )
}

/** Whether `address` lies within `cidr` (IPv4 or IPv6; a bare address is a single-host range). */
function inCidr(cidr: string, address: string): boolean {
  const [, network = '', prefix] = /^([^/]+)(?:\/(\d{1,3}))?$/.exec(cidr) ?? []
  const family = isIP(network)
  const addressFamily = isIP(address)
  if (family === 0 || addressFamily === 0) return false
  const bits = prefix === undefined ? (family === 4 ? 32 : 128) : Number(prefix)
  if (bits > (family === 4 ? 32 : 128)) return false
  const block = new BlockList()
  block.addSubnet(network, bits, family === 4 ? 'ipv4' : 'ipv6')
  return block.check(address, addressFamily === 4 ? 'ipv4' : 'ipv6')
}

type SpiffeEntry = NonNullable<RoleConditions['spiffe']>[number]

const allowsDnsSan = (entry: SpiffeEntry, san: string): boolean => (entry.dns_sans ?? []).some((pattern) => matchDnsSan(pattern, san))
const allowsIpSan = (entry: SpiffeEntry, ip: string): boolean => (entry.ip_sans ?? []).some((cidr) => inCidr(cidr, ip))

function formatLabels(labels: Record<string, string> | undefined): string {
  return `{${Object.entries(labels ?? {})
    .map(([key, value]) => `${key}: ${value}`)
    .join(', ')}}`
}

export class AccessChecker {
  private readonly subject: string
  private readonly roles: Role[]
  /** Why some of the roles' regular expressions are not run (stored before wid refused them), for refusals that patterns decide. */
  private readonly unusable: string

  /**
   * `subject` names the caller in messages, e.g. `user "alice"` or `bot "my-bot"`. The roles
   * are checked as they are loaded: a `^regex$` that is invalid or could backtrack
   * catastrophically is never run, and each refusal a pattern decides names it.
   */
  constructor(subject: string, roles: Role[]) {
    this.subject = subject
    this.roles = roles
    this.unusable = roles
      .flatMap((role) =>
        rolePatternProblems(role).map(
          ({field, side, problem}) => `; role ${quote(role.metadata.name)} ${field}: ${problem}, so it matches ${side === 'deny' ? 'everything' : 'nothing'} until the role is fixed`,
        ),
      )
      .join('')
  }

  /** A refusal that patterns decided, with why any of the roles' patterns were not run. */
  private patternRefusal(message: string): WidError {
    return new WidError('access_denied', message + this.unusable)
  }

  /** The first of `verbs` the roles refuse on `kind`, with the role that denies it if one does. */
  private refusedVerb(kind: RuleResource, verbs: Verb[]): {verb: Verb; deniedBy?: string} | undefined {
    for (const verb of verbs) {
      const denying = this.roles.find((role) => grants(role.spec.deny, kind, verb))
      if (denying) return {verb, deniedBy: denying.metadata.name}
      if (!this.roles.some((role) => grants(role.spec.allow, kind, verb))) return {verb}
    }
    return undefined
  }

  checkVerbs(kind: RuleResource, verbs: Verb[]): void {
    const refused = this.refusedVerb(kind, verbs)
    if (!refused) return
    const cause = refused.deniedBy === undefined ? 'no role allows it' : `denied by role ${quote(refused.deniedBy)}`
    throw new WidError('access_denied', `auth: ${this.subject} is not allowed to ${refused.verb} ${kind} (${cause})`)
  }

  /** `verbs` are `read` to use an identity by name, `read` and `list` to find it by labels. */
  canUseWorkloadIdentity(identity: WorkloadIdentity, verbs: Verb[]): {allowed: true} | {allowed: false; reason: string} {
    const refuse = (why: string) => ({
      allowed: false as const,
      reason: `auth: ${this.subject} may not use workload identity ${quote(identity.metadata.name)}: ${why}`,
    })
    const refused = this.refusedVerb('workload_identity', verbs)
    if (refused?.deniedBy !== undefined) return refuse(`role ${quote(refused.deniedBy)} denies ${refused.verb} on workload_identity`)
    if (refused) {
      return refuse(
        `no role allows ${refused.verb} on workload_identity (add a role with allow.rules: [{resources: [workload_identity], verbs: [${verbs.join(', ')}]}])`,
      )
    }
    const outside = this.labelRefusal(identity, 'read')
    return outside === undefined ? {allowed: true} : refuse(outside + this.unusable)
  }

  /** The roles whose allow.workload_identity_labels match the identity's labels. */
  private scopeRoles(identity: WorkloadIdentity): Role[] {
    return this.roles.filter((role) => matchLabels(role.spec.allow?.workload_identity_labels, identity.metadata.labels))
  }

  /** The roles that let their holder write the identity: they allow `verb` on workload_identity and their labels match. */
  private writerRoles(identity: WorkloadIdentity, verb: WriteVerb): Role[] {
    return this.scopeRoles(identity).filter((role) => grants(role.spec.allow, 'workload_identity', verb))
  }

  /**
   * Why the identity's labels lie outside the scope of `verb` (no deny.workload_identity_labels
   * of any role may match; to read, some role's allow ones must; to write, those of a role that
   * itself allows the verb on workload_identity), or undefined. `which` says which labels of a
   * change they are.
   */
  private labelRefusal(identity: WorkloadIdentity, verb: 'read' | WriteVerb, which?: 'current' | 'new'): string | undefined {
    const labels = formatLabels(identity.metadata.labels)
    const denying = this.roles.find((role) => matchLabels(role.spec.deny?.workload_identity_labels, identity.metadata.labels, 'deny'))
    if (denying) return `role ${quote(denying.metadata.name)} denies it: its deny.workload_identity_labels match ${which ? `its ${which} labels ` : ''}${labels}`
    const scope = this.scopeRoles(identity)
    if (scope.length === 0) return `no role's workload_identity_labels match its ${which ? `${which} ` : ''}labels ${labels}`
    if (verb === 'read' || this.writerRoles(identity, verb).length > 0) return undefined
    const names = scope.map((role) => quote(role.metadata.name)).join(', ')
    const [they, have, doNot] = scope.length === 1 ? ['role', 'has', 'it does not'] : ['roles', 'have', 'they do not']
    return `only ${they} ${names} ${have} workload_identity_labels matching its ${which ? `${which} ` : ''}labels ${labels}, and ${doNot} allow ${verb} on workload_identity`
  }

  /** Whether a read or list shows the identity: its labels lie in the roles' scope. */
  inWorkloadIdentityScope(identity: WorkloadIdentity): boolean {
    return this.labelRefusal(identity, 'read') === undefined
  }

  /**
   * Reading one identity, and each side of a write (the labels before an update or delete,
   * after a create or update), must lie in the scope of the action (see labelRefusal).
   */
  checkWorkloadIdentityScope(identity: WorkloadIdentity, action: 'read' | WriteVerb, which?: 'current' | 'new'): void {
    const outside = this.labelRefusal(identity, action, which)
    if (outside !== undefined) throw this.patternRefusal(`auth: ${this.subject} may not ${action} workload_identity ${quote(identity.metadata.name)}: ${outside}`)
  }

  /**
   * A created or updated identity defines only SPIFFE IDs, SANs and TTLs its writer is
   * entitled to by the roles that let it write this identity (any role's deny still counts).
   */
  checkWorkloadIdentitySpec(identity: WorkloadIdentity, verb: 'create' | 'update'): void {
    const refused = fenceRefusal({writers: this.writerRoles(identity, verb), all: this.roles, verb}, identity)
    if (!refused) return
    const value = refused.value === undefined ? '' : ` ${quote(refused.value)}`
    throw this.patternRefusal(`auth: ${this.subject} may not set ${refused.field}${value} on workload_identity ${quote(identity.metadata.name)}: ${refused.why}`)
  }

  /** Every SVID, by path or from a workload identity: a deny.spiffe path matching its ID refuses it. */
  checkSpiffeDeny(path: string, workloadIdentity?: string): void {
    const denying = this.roles.find((role) => role.spec.deny?.spiffe?.some((entry) => matchSpiffePath(entry.path, path, 'deny')))
    if (!denying) return
    const from = workloadIdentity === undefined ? '' : ` from workload identity ${quote(workloadIdentity)}`
    throw this.patternRefusal(`auth: ${this.subject} may not issue spiffe path ${path}${from}: denied by role ${quote(denying.metadata.name)}`)
  }

  checkWorkloadIdentity(identity: WorkloadIdentity, verbs: Verb[]): void {
    const decision = this.canUseWorkloadIdentity(identity, verbs)
    if (!decision.allowed) throw new WidError('access_denied', decision.reason)
  }

  /**
   * Legacy issuance by path: one `allow.spiffe[]` entry must match the path and allow every
   * requested SAN; a `deny.spiffe[]` entry matching the path refuses.
   */
  checkSpiffePath(path: string, dnsSans: string[], ipSans: string[]): void {
    this.checkSpiffeDeny(path)
    const refuse = (why: string) => this.patternRefusal(`auth: ${this.subject} may not issue spiffe path ${path}: ${why}`)
    const entries = this.roles.flatMap((role) => (role.spec.allow?.spiffe ?? []).filter((entry) => matchSpiffePath(entry.path, path)))
    if (entries.length === 0) throw refuse(`no role allows it (add a role with allow.spiffe: [{path: ${path}}])`)
    if (entries.some((entry) => dnsSans.every((san) => allowsDnsSan(entry, san)) && ipSans.every((ip) => allowsIpSan(entry, ip)))) return
    const dns = dnsSans.find((san) => !entries.some((entry) => allowsDnsSan(entry, san)))
    if (dns !== undefined) throw refuse(`DNS SAN ${quote(dns)} is not allowed for ${path}`)
    const ip = ipSans.find((address) => !entries.some((entry) => allowsIpSan(entry, address)))
    if (ip !== undefined) throw refuse(`IP SAN ${quote(ip)} is not allowed for ${path}`)
    throw refuse(`no single allow.spiffe entry for ${path} allows all the requested SANs together`)
  }
}
