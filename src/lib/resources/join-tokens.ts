/**
 * The rules of token resources that a schema cannot say (DESIGN §4.3): a one-time token's
 * secret is long enough; a delegated method's token names its bot, configures its own method
 * only, and has no allow rule that could admit anyone.
 */
import {FieldError, formatPath, type FieldPath} from './parse.js'
import {MIN_TOKEN_LENGTH, type DelegatedJoinMethod, type Token} from './types.js'

/** Per method: the claims of which an allow rule must name at least one, and what a rule without them would admit. */
const NARROWING: Record<DelegatedJoinMethod, {fields: string[]; anyone: string}> = {
  kubernetes: {fields: ['service_account'], anyone: 'any service account of the cluster'},
  github: {fields: ['repository', 'repository_owner', 'sub'], anyone: 'any GitHub Actions workflow'},
  gitlab: {fields: ['project_path', 'namespace_path', 'sub'], anyone: 'any GitLab CI job'},
}

const SERVICE_ACCOUNT = /^[^:\s]+:[^:\s]+$/

const fail = (path: FieldPath, problem: string): never => {
  throw new FieldError(path, `${formatPath(path)}: ${problem}`)
}

/** As the schema reports a missing field: at its parent, named in full. */
const missing = (parent: FieldPath, field: string, why: string): never => {
  throw new FieldError(parent, `${formatPath([...parent, field])}: missing required field (${why})`)
}

const orList = (names: string[]): string => (names.length === 1 ? names[0]! : `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`)

/** A JWKS as the token documents carry it: JSON text of an object with a list of keys. */
function checkJwks(path: FieldPath, text: string): void {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    fail(path, 'is not JSON (the JWKS document, {"keys": [...]}, as text)')
  }
  const keys = (value as {keys?: unknown} | null)?.keys
  if (!Array.isArray(keys) || keys.length === 0 || !keys.every((key) => key && typeof key === 'object' && typeof (key as {kty?: unknown}).kty === 'string')) {
    fail(path, 'is not a JWKS: it must be {"keys": [...]} with at least one key that has a "kty"')
  }
}

function checkAllow(method: DelegatedJoinMethod, allow: Record<string, unknown>[]): void {
  const {fields, anyone} = NARROWING[method]
  allow.forEach((rule, i) => {
    const path = ['spec', method, 'allow', i]
    if (!fields.some((field) => rule[field] !== undefined)) {
      fail(path, `names none of ${orList(fields)}; such a rule would admit ${anyone}`)
    }
    if (method === 'kubernetes' && !SERVICE_ACCOUNT.test(String(rule.service_account))) {
      fail([...path, 'service_account'], 'must be "namespace:name" (the service account the pod runs as)')
    }
  })
}

function checkDelegated(token: Token, method: DelegatedJoinMethod): void {
  const {spec} = token
  // A one-time token is named by its id (16 hex digits, or a prefix of 8 or more) and stored by a 64-digit hash: a delegated token named so would shadow one in wid rm
  if (/^[0-9a-f]{8,}$/.test(token.metadata.name)) fail(['metadata', 'name'], "must not be only hex digits (8 or more), the form of a one-time token's id and stored hash")
  if (spec.bot_name === undefined) missing(['spec'], 'bot_name', `the bot that joins with join_method ${method}`)
  const section = spec[method]
  if (section === undefined) missing(['spec'], method, `join_method ${method} is configured there`)
  if (method === 'kubernetes') {
    const kubernetes = spec.kubernetes!
    if (kubernetes.type === 'in_cluster') {
      fail(['spec', 'kubernetes', 'type'], 'in_cluster is not supported (it needs the TokenReview API of the cluster wid runs in); use static_jwks or oidc')
    }
    if (kubernetes.type === 'static_jwks' && !kubernetes.static_jwks) missing(['spec', 'kubernetes'], 'static_jwks', "type static_jwks: the cluster's JWKS")
    if (kubernetes.type === 'oidc' && !kubernetes.oidc) missing(['spec', 'kubernetes'], 'oidc', "type oidc: the cluster's issuer URL")
    const unused = kubernetes.type === 'oidc' ? 'static_jwks' : 'oidc'
    if (kubernetes[unused] !== undefined) fail(['spec', 'kubernetes', unused], `is not used with type ${kubernetes.type}; remove it`)
    if (kubernetes.static_jwks) checkJwks(['spec', 'kubernetes', 'static_jwks', 'jwks'], kubernetes.static_jwks.jwks)
  }
  if (method === 'github') {
    const github = spec.github!
    if (github.enterprise_server_host !== undefined && github.enterprise_slug !== undefined) {
      fail(['spec', 'github', 'enterprise_slug'], 'cannot be set with enterprise_server_host (a slug is for GitHub Enterprise Cloud, a host for GitHub Enterprise Server)')
    }
  }
  const jwks = method === 'kubernetes' ? undefined : spec[method]!.static_jwks
  if (jwks !== undefined) checkJwks(['spec', method, 'static_jwks'], jwks)
  checkAllow(method, section!.allow as Record<string, unknown>[])
}

export function checkToken(token: Token): void {
  const method = token.spec.join_method
  for (const other of ['kubernetes', 'github', 'gitlab'] as const) {
    if (other !== method && token.spec[other] !== undefined) fail(['spec', other], `is only for join_method ${other} (this token's is ${method})`)
  }
  if (method === 'token') {
    if (token.metadata.name.length < MIN_TOKEN_LENGTH) fail(['metadata', 'name'], `a join token must be at least ${MIN_TOKEN_LENGTH} characters`)
    return
  }
  checkDelegated(token, method)
}
