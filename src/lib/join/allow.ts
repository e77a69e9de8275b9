/**
 * Allow rules of a delegated join token (DESIGN §4.3): the rules are OR'd, the fields of one
 * rule AND'd, each compared with the claim of the same name; the first rule that matches wins.
 */
import {shown} from './jwt.js'
import {JoinRefused} from './refused.js'

export type Claims = Record<string, string | boolean>

/** What a delegated method's check answers: the `join.<method>.*` attributes, the rule that matched and the claims it compared. */
export interface DelegatedJoin {
  attributes: Claims
  /** The index of the first allow rule that matched. */
  rule: number
  /** The claims that decided: those the matched rule compared. */
  claims: Claims
  /**
   * Who the token is for, as the platform names it (a Kubernetes service account, a CI job's
   * `sub`): an instance renews only with tokens for the subject it joined as.
   */
  subject: string
  /** The token's `iat` (seconds), when it has one: a renewal may not prove a token older than the last one proven. */
  issuedAt: number | undefined
}

/** The ID token's subject and issue time, for a join's record: refused when the token names no subject. */
export function proofOf(payload: {sub?: unknown; iat?: unknown}, method: string, context: CheckContext): Pick<DelegatedJoin, 'subject' | 'issuedAt'> {
  if (typeof payload.sub !== 'string' || payload.sub === '') {
    throw new JoinRefused('join: the ID token names no subject (sub); use the token as the platform issued it', {method, token: context.tokenName})
  }
  return {subject: payload.sub, issuedAt: issuedAtOf(payload)}
}

export const issuedAtOf = (payload: {iat?: unknown}): number | undefined => (typeof payload.iat === 'number' && Number.isFinite(payload.iat) ? payload.iat : undefined)

export interface CheckContext {
  /** The token resource's name, for messages. */
  tokenName: string
}

/** The string and boolean claims of a token whose names an attribute can refer to (`join.github.repository`). */
export function scalarClaims(payload: Record<string, unknown>): Claims {
  const claims: Claims = {}
  for (const [name, value] of Object.entries(payload)) {
    if (/^[a-z0-9_]+$/.test(name) && (typeof value === 'string' || typeof value === 'boolean')) claims[name] = value
  }
  return claims
}

const pick = (claims: Claims, names: Iterable<string>): Claims => Object.fromEntries([...names].filter((name) => Object.hasOwn(claims, name)).map((name) => [name, claims[name]!]))

const describeClaims = (claims: Claims, names: string[]): string =>
  names.map((name) => `${name} ${Object.hasOwn(claims, name) ? shown(claims[name]) : 'unset'}`).join(', ')

/** The first rule whose every field equals the claim of the same name; refused, naming the claims the rules compare, when none does. */
export function firstMatch(method: string, rules: Record<string, string | boolean | undefined>[], claims: Claims, context: CheckContext): Omit<DelegatedJoin, 'subject' | 'issuedAt'> {
  const index = rules.findIndex((rule) =>
    Object.entries(rule).every(([name, wanted]) => wanted === undefined || (Object.hasOwn(claims, name) && String(claims[name]) === String(wanted))),
  )
  if (index >= 0) return {attributes: claims, rule: index, claims: pick(claims, Object.keys(rules[index]!))}
  const compared = [...new Set(rules.flatMap((rule) => Object.keys(rule)))].sort()
  throw new JoinRefused(`join: the ID token (${describeClaims(claims, compared)}) matches no allow rule of the token "${context.tokenName}"; check spec.${method}.allow`, {
    method,
    token: context.tokenName,
    claims: pick(claims, compared),
  })
}
