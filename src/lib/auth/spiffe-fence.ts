/**
 * What a user or bot under access control may put into a workload identity it creates or
 * updates: a role's `allow.spiffe` entries are the SPIFFE IDs (and SANs) its holders are
 * entitled to, whether issued by path or defined in workload identities they write. So
 * every SPIFFE ID `spec.spiffe.id` can render to must lie within one allow entry's path,
 * every DNS SAN (every rendering) within that same entry's `dns_sans`, no rendering may
 * match a `deny.spiffe` path, and `maximum_ttl` stays within the cap of issuance by path.
 * A template stands for any text in place of each `{{ expr }}` (see globs.ts). The local
 * admin is never fenced.
 *
 * Only the allow entries of the roles that let the writer write this identity count (they
 * allow the verb on workload_identity and their labels match its labels). Any role may
 * grant issuance by path, and an identity is used by everyone its labels reach: counting
 * every role's entries would let a holder of a team's writer role and of another role
 * (an issuer role for team b's IDs, a break-glass role) hand those IDs to everyone who
 * uses the team's identities. Deny entries count from every role.
 */
import {formatDuration, parseDuration} from '../duration.js'
import type {Role, RoleConditions, WorkloadIdentity} from '../resources/types.js'
import {globContains, globsOverlap, parseGlob, type Glob} from './globs.js'
import {MAX_SVID_TTL_SECONDS} from './issuance.js'
import {isRegexPattern, matchSpiffePath} from './patterns.js'
import {templateGlob} from '../resources/templates.js'

/** The field refused, its value as written (absent for a whole list), and why. */
export interface FenceRefusal {
  field: string
  value?: string
  why: string
}

type SpiffeEntry = NonNullable<RoleConditions['spiffe']>[number]
interface Entry {
  role: string
  entry: SpiffeEntry
}

/** A field of the identity: its text, and the glob of every value it can render to. */
interface Shape {
  text: string
  templated: boolean
  glob: Glob
}

const quote = (value: string): string => JSON.stringify(value)

function shapeOf(text: string, field: string, lowercase = false): Shape {
  const glob = templateGlob(text, field)
  return {text, templated: glob.length > 1, glob: lowercase ? glob.map((part) => part.toLowerCase()) : glob}
}

const entriesOf = (roles: Role[], side: 'allow' | 'deny'): Entry[] =>
  roles.flatMap((role) => (role.spec[side]?.spiffe ?? []).map((entry) => ({role: role.metadata.name, entry})))

/** Whether every rendering of `id` lies within `pattern`; a regex can vouch for a static id only. */
function covers(pattern: string, id: Shape): boolean {
  if (isRegexPattern(pattern)) return !id.templated && matchSpiffePath(pattern, id.text)
  return globContains(parseGlob(pattern), id.glob)
}

/** Why a deny entry refuses `id`, if it does; a regex against a templated id is refused unless proven harmless, which is not attempted. */
function denial({role, entry}: Entry, id: Shape): string | undefined {
  if (isRegexPattern(entry.path)) {
    if (id.templated) {
      return `role ${quote(role)} denies spiffe path ${entry.path}, and no check can prove that a templated id never renders into a ^regex$ (use a static id, or write the deny entry as a glob)`
    }
    return matchSpiffePath(entry.path, id.text, 'deny') ? `role ${quote(role)} denies it (deny.spiffe path ${entry.path})` : undefined
  }
  if (!globsOverlap(parseGlob(entry.path), id.glob)) return undefined
  return `role ${quote(role)} denies ${id.templated ? 'some of its renderings' : 'it'} (deny.spiffe path ${entry.path})`
}

/** The writer roles' entries, then the other roles' entries that would have covered the id but do not count for this write. */
function describeAllowed(roles: FenceRoles, allowed: Entry[], id: Shape): string {
  const described = roles.writers.map((role) => {
    const paths = allowed.filter((entry) => entry.role === role.metadata.name).map(({entry}) => entry.path)
    return paths.length === 0 ? `${role.metadata.name} allows no SPIFFE IDs: add allow.spiffe: [{path: ...}] to it` : `${role.metadata.name} allows ${paths.join(', ')}`
  })
  if (described.length === 0) described.push(`no role lets it ${roles.verb} this identity`)
  const regexNote = id.templated && allowed.some(({entry}) => isRegexPattern(entry.path)) ? '; a ^regex$ path cannot cover a templated id: write the entry as a glob' : ''
  const others = entriesOf(
    roles.all.filter((role) => !roles.writers.includes(role)),
    'allow',
  ).filter(({entry}) => covers(entry.path, id))
  const otherNote = others.map(({role, entry}) => `; role ${quote(role)} allows ${entry.path}, which does not count here: it does not let it ${roles.verb} this identity`)
  return described.join('; ') + regexNote + otherNote.join('')
}

function describeSans(covering: Entry[]): string {
  return covering
    .map(({role, entry}) => (entry.dns_sans?.length ? `${role} allows dns_sans ${entry.dns_sans.join(', ')} for ${entry.path}` : `${role} allows no dns_sans for ${entry.path}`))
    .join('; ')
}

const allowsSan = ({entry}: Entry, san: Shape): boolean => (entry.dns_sans ?? []).some((pattern) => globContains(parseGlob(pattern.toLowerCase()), san.glob))

/** The caller's roles; `writers` are those that let it make this write (`verb`) of this identity. */
export interface FenceRoles {
  writers: Role[]
  all: Role[]
  verb: 'create' | 'update'
}

/** The first thing in `identity` that the roles do not entitle their holder to define, or undefined. */
export function fenceRefusal(roles: FenceRoles, identity: WorkloadIdentity): FenceRefusal | undefined {
  const {spiffe} = identity.spec
  const ttl = spiffe.x509?.maximum_ttl
  if (ttl !== undefined && parseDuration(ttl) > MAX_SVID_TTL_SECONDS) {
    return {
      field: 'spec.spiffe.x509.maximum_ttl',
      value: ttl,
      why: `a role holder may set at most ${formatDuration(MAX_SVID_TTL_SECONDS)} (the cap of issuance by path); only the local admin (wid create on the cluster's host) may set more, up to 336h`,
    }
  }
  const id = shapeOf(spiffe.id, 'spec.spiffe.id')
  for (const entry of entriesOf(roles.all, 'deny')) {
    const why = denial(entry, id)
    if (why !== undefined) return {field: 'spec.spiffe.id', value: spiffe.id, why}
  }
  const allowed = entriesOf(roles.writers, 'allow')
  const covering = allowed.filter(({entry}) => covers(entry.path, id))
  if (covering.length === 0) {
    const what = id.templated ? 'every rendering of it' : 'it'
    const why = `no allow.spiffe entry of a role that lets it ${roles.verb} this identity covers ${what} (${describeAllowed(roles, allowed, id)})`
    return {field: 'spec.spiffe.id', value: spiffe.id, why}
  }
  const sans = (spiffe.x509?.dns_sans ?? []).map((san, i) => {
    const field = `spec.spiffe.x509.dns_sans[${i}]`
    return {field, shape: shapeOf(san, field, true)}
  })
  if (covering.some((entry) => sans.every(({shape}) => allowsSan(entry, shape)))) return undefined
  const outside = sans.find(({shape}) => !covering.some((entry) => allowsSan(entry, shape)))
  if (outside) {
    return {field: outside.field, value: outside.shape.text, why: `no allow.spiffe entry covering its spec.spiffe.id allows it (${describeSans(covering)})`}
  }
  return {field: 'spec.spiffe.x509.dns_sans', why: 'no single allow.spiffe entry covering its spec.spiffe.id allows all of them together'}
}
