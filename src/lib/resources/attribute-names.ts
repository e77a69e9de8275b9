/**
 * The names of the attributes that templates and workload identity rules refer to (DESIGN
 * §4): `user.name`, `user.traits["team-name"]`, `workload.unix.uid`, `join.meta.join_method`,
 * ... Their grammar only; auth/attributes.ts resolves them for a caller.
 */
import {badInput} from '../errors.js'

export type AttributeRef =
  | {scope: 'user'; field: (typeof USER_FIELDS)[number]}
  | {scope: 'labels' | 'traits'; key: string}
  | {scope: 'unix'; field: (typeof UNIX_FIELDS)[number]}
  | {scope: 'join'; method: string; field: string}

const USER_FIELDS = ['name', 'is_bot', 'bot_name'] as const
const UNIX_FIELDS = ['attested', 'pid', 'uid', 'gid', 'binary_path', 'binary_hash'] as const
const JOIN_META_FIELDS = ['join_method', 'join_token_name']

/** `user.labels.<key>` / `user.labels["<key>"]`, and the same for traits. */
const USER_MAP = /^user\.(labels|traits)(?:\.([A-Za-z0-9_]+)|\["([^"\\]+)"\])$/
/** `join.<method>.<field>`, the field dotted where the join's claims nest (`join.kubernetes.service_account.namespace`). */
const JOIN = /^join\.([a-z0-9_]+)\.([a-z0-9_]+(?:\.[a-z0-9_]+)*)$/

const KNOWN = [
  ...USER_FIELDS.map((field) => `user.${field}`),
  'user.labels.<key>',
  'user.labels["<key>"]',
  'user.traits.<key>',
  'user.traits["<key>"]',
  ...UNIX_FIELDS.map((field) => `workload.unix.${field}`),
  ...JOIN_META_FIELDS.map((field) => `join.meta.${field}`),
  'join.<method>.<field>',
].join(', ')

export function parseAttributeName(name: string): AttributeRef | undefined {
  const [scope, field, ...rest] = name.split('.')
  const userField = USER_FIELDS.find((known) => known === field)
  if (scope === 'user' && userField && rest.length === 0) return {scope: 'user', field: userField}
  const unixField = UNIX_FIELDS.find((known) => known === rest[0])
  if (scope === 'workload' && field === 'unix' && unixField && rest.length === 1) return {scope: 'unix', field: unixField}
  const map = USER_MAP.exec(name)
  if (map) return {scope: map[1] as 'labels' | 'traits', key: map[2] ?? map[3]!}
  const join = JOIN.exec(name)
  if (join && (join[1] !== 'meta' || JOIN_META_FIELDS.includes(join[2]!))) return {scope: 'join', method: join[1]!, field: join[2]!}
  return undefined
}

/** The refusal for a name outside the known set, without the `auth: ` prefix, for callers that add a location. */
export function unknownAttribute(name: string): string {
  return `unknown attribute ${JSON.stringify(name)} (known: ${KNOWN})`
}

export function isKnownAttribute(name: string): boolean {
  return parseAttributeName(name) !== undefined
}

export function checkAttributeName(name: string): void {
  if (!isKnownAttribute(name)) throw badInput(`auth: ${unknownAttribute(name)}`)
}
