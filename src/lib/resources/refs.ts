/** `KIND[/NAME]` references on the command line, label selectors, and `--as` identities. */
import {badInput} from '../errors.js'
import {KINDS, type Kind} from './types.js'

const ALIASES: Record<string, Kind> = {
  workload_identities: 'workload_identity',
  'workload-identity': 'workload_identity',
  'workload-identities': 'workload_identity',
  wi: 'workload_identity',
  roles: 'role',
  bots: 'bot',
  users: 'user',
  tokens: 'token',
  integrations: 'integration',
}

/** A kind or an alias of one; own properties only, so `constructor` or `__proto__` are no kinds. */
export function parseKind(value: string): Kind {
  const kind = (KINDS as readonly string[]).includes(value) ? (value as Kind) : Object.hasOwn(ALIASES, value) ? ALIASES[value] : undefined
  if (!kind) throw badInput(`unknown kind "${value}" (known: ${KINDS.join(', ')})`)
  return kind
}

export function parseKindRef(value: string, requireName: boolean): {kind: Kind; name?: string} {
  const slash = value.indexOf('/')
  const kind = parseKind(slash === -1 ? value : value.slice(0, slash))
  const name = slash === -1 ? undefined : value.slice(slash + 1)
  if (name === '' || (requireName && name === undefined)) throw badInput(`"${value}" must name a resource, e.g. ${kind}/NAME`)
  return {kind, name}
}

const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9._/-]*$/

/** `k=v[,k=v]` */
export function parseLabelSelector(value: string, flag = '--labels'): Record<string, string> {
  const labels: Record<string, string> = {}
  const bad = (why: string) => badInput(`invalid ${flag} "${value}": ${why} (expected key=value[,key=value])`)
  if (value.trim() === '') throw bad('it is empty')
  for (const part of value.split(',')) {
    const eq = part.indexOf('=')
    if (eq === -1) throw bad(`"${part}" has no "="`)
    const key = part.slice(0, eq).trim()
    const labelValue = part.slice(eq + 1).trim()
    if (!LABEL_KEY.test(key)) throw bad(`"${key}" is not a label key`)
    if (labelValue === '') throw bad(`label "${key}" has no value`)
    if (Object.hasOwn(labels, key)) throw bad(`label "${key}" is given twice`)
    labels[key] = labelValue
  }
  return labels
}

/** `user/NAME` or `bot/NAME` (a caller of auth/principal.ts) */
export function parseAs(value: string): {kind: 'user' | 'bot'; name: string} {
  const match = /^(user|bot)\/([A-Za-z0-9][A-Za-z0-9._@-]*)$/.exec(value)
  if (!match) throw badInput(`invalid --as "${value}" (expected user/NAME or bot/NAME)`)
  return {kind: match[1] as 'user' | 'bot', name: match[2]!}
}

/** `a,b,c` → ['a','b','c'] (empty items dropped, duplicates removed). */
export function parseList(value: string | undefined): string[] {
  if (value === undefined) return []
  return [...new Set(value.split(',').map((s) => s.trim()).filter(Boolean))]
}
