/**
 * From text to checked resources: parse every document, check kind and version, the JSON
 * Schema, then the rules a schema cannot say (SPIFFE paths, templates, rule conditions,
 * label patterns, ARNs, TTL caps). The whole stream is checked before anything is applied,
 * so bad input changes nothing.
 */
import {isIP} from 'node:net'
import {parseIamRoleArn} from '../aws/arn.js'
import {parseDuration} from '../duration.js'
import {isWidError, WidError} from '../errors.js'
import {validatePath} from '../spiffeid/index.js'
import {checkToken} from './join-tokens.js'
import {checkRules} from './rules.js'
import {checkTemplate, isTemplated} from './templates.js'
import {FieldError, formatPath, parseResourceStream, type FieldPath, type SourceDocument} from './parse.js'
import {checkLabelSelector, rolePatternProblems} from './role-patterns.js'
import {KIND_VERSIONS, validateSchema} from './schema.js'
import {KINDS, type Kind, type Resource, type Role, type RoleConditions, type WorkloadIdentity} from './types.js'

export const X509_MAX_TTL_CAP_SECONDS = 336 * 3600
export const JWT_MAX_TTL_CAP_SECONDS = 24 * 3600
const RESERVED_JWT_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti']

export interface CheckedResource {
  resource: Resource
  /** `file:line:col` of the document, for messages about it at apply time. */
  where: string
}

/** Runs `check`; a WidError it throws is re-thrown as located at `path`. */
function at(path: FieldPath, check: () => void): void {
  try {
    check()
  } catch (error) {
    if (error instanceof FieldError || !isWidError(error)) throw error
    const message = error.message.replace(/^(auth|spiffeid|svid|crypto): /, '')
    const field = formatPath(path)
    throw new FieldError(path, message.startsWith(field) ? message : `${field}: ${message}`)
  }
}

function checkTtlCap(path: FieldPath, value: string | undefined, cap: number, capText: string): void {
  if (value === undefined) return
  at(path, () => {
    if (parseDuration(value) > cap) throw new WidError('bad_input', `must be at most ${capText}`)
  })
}

function checkClaimTemplates(path: FieldPath, value: unknown): void {
  if (typeof value === 'string') at(path, () => checkTemplate(value, formatPath(path)))
  else if (Array.isArray(value)) value.forEach((v, i) => checkClaimTemplates([...path, i], v))
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) checkClaimTemplates([...path, k], v)
}

function checkWorkloadIdentity(wi: WorkloadIdentity): void {
  const {spiffe} = wi.spec
  at(['spec', 'spiffe', 'id'], () => {
    if (!spiffe.id.startsWith('/')) throw new WidError('bad_input', `must start with "/" (it is the path of spiffe://<cluster-name>${'/'}...)`)
    if (isTemplated(spiffe.id)) checkTemplate(spiffe.id, 'spec.spiffe.id')
    else validatePath(spiffe.id)
  })
  if (spiffe.hint !== undefined) at(['spec', 'spiffe', 'hint'], () => checkTemplate(spiffe.hint!, 'spec.spiffe.hint'))
  spiffe.x509?.dns_sans?.forEach((san, i) => at(['spec', 'spiffe', 'x509', 'dns_sans', i], () => checkTemplate(san, `spec.spiffe.x509.dns_sans[${i}]`)))
  for (const [field, template] of Object.entries(spiffe.x509?.subject_template ?? {})) {
    at(['spec', 'spiffe', 'x509', 'subject_template', field], () => checkTemplate(template, `spec.spiffe.x509.subject_template.${field}`))
  }
  checkTtlCap(['spec', 'spiffe', 'x509', 'maximum_ttl'], spiffe.x509?.maximum_ttl, X509_MAX_TTL_CAP_SECONDS, '336h')
  checkTtlCap(['spec', 'spiffe', 'jwt', 'maximum_ttl'], spiffe.jwt?.maximum_ttl, JWT_MAX_TTL_CAP_SECONDS, '24h')
  for (const claim of Object.keys(spiffe.jwt?.extra_claims ?? {})) {
    if (RESERVED_JWT_CLAIMS.includes(claim)) {
      throw new FieldError(['spec', 'spiffe', 'jwt', 'extra_claims', claim], `spec.spiffe.jwt.extra_claims: "${claim}" is set by wid and cannot be overridden`, true)
    }
  }
  checkClaimTemplates(['spec', 'spiffe', 'jwt', 'extra_claims'], spiffe.jwt?.extra_claims)
  at(['spec', 'rules'], () => checkRules(wi.spec.rules))
}

function checkRoleConditions(path: FieldPath, conditions: RoleConditions | undefined): void {
  if (!conditions) return
  if (conditions.workload_identity_labels) {
    at([...path, 'workload_identity_labels'], () => checkLabelSelector(conditions.workload_identity_labels!, formatPath([...path, 'workload_identity_labels'])))
  }
  conditions.spiffe?.forEach((entry, i) => {
    const entryPath = [...path, 'spiffe', i]
    if (!entry.path.startsWith('/') && !entry.path.startsWith('^')) {
      throw new FieldError([...entryPath, 'path'], `${formatPath([...entryPath, 'path'])}: must start with "/" (or be a ^regex$)`)
    }
    entry.ip_sans?.forEach((cidr, j) => {
      const [address = '', bits, ...rest] = cidr.split('/')
      const family = isIP(address)
      const max = family === 6 ? 128 : 32
      if (family === 0 || rest.length > 0 || (bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= max))) {
        throw new FieldError([...entryPath, 'ip_sans', j], `${formatPath([...entryPath, 'ip_sans', j])}: "${cidr}" is not an IP address or CIDR such as 10.0.0.0/8`)
      }
    })
  })
}

function checkSemantics(resource: Resource): void {
  switch (resource.kind) {
    case 'workload_identity':
      return checkWorkloadIdentity(resource)
    case 'role': {
      checkRoleConditions(['spec', 'allow'], (resource as Role).spec.allow)
      checkRoleConditions(['spec', 'deny'], (resource as Role).spec.deny)
      const [unusable] = rolePatternProblems(resource as Role)
      if (unusable) throw new FieldError(unusable.path, `${unusable.field}: ${unusable.problem}`)
      return
    }
    case 'integration':
      return at(['spec', 'aws_oidc', 'role_arn'], () => parseIamRoleArn(resource.spec.aws_oidc.role_arn, 'spec.aws_oidc.role_arn'))
    case 'token':
      if (resource.metadata.expires && Date.parse(resource.metadata.expires) <= Date.now()) {
        throw new FieldError(['metadata', 'expires'], 'metadata.expires: is in the past')
      }
      return checkToken(resource)
    default:
      return
  }
}

const LABELS = ['metadata', 'labels', '*']

/**
 * Where values compared as strings (labels, label selectors, traits, rule values) may be
 * written as YAML numbers or booleans, as the documents write `eq: {value: 1000}`. `*` is
 * any key or index, `a|b` either key.
 */
const SCALAR_FIELDS: Record<Kind, string[][]> = {
  workload_identity: [
    LABELS,
    ['spec', 'rules', 'allow', '*', 'conditions', '*', 'eq|not_eq', 'value'],
    ['spec', 'rules', 'allow', '*', 'conditions', '*', 'in|not_in', 'values', '*'],
  ],
  role: [LABELS, ['spec', 'allow|deny', 'workload_identity_labels', '*'], ['spec', 'allow|deny', 'workload_identity_labels', '*', '*']],
  user: [LABELS, ['spec', 'traits', '*', '*']],
  bot: [LABELS, ['spec', 'traits', '*', 'values', '*']],
  token: [LABELS],
  integration: [LABELS],
}

/** A copy of `node` with the numbers and booleans at `path` turned into their text (1000 → "1000"). */
function stringifyAt(node: unknown, path: string[]): unknown {
  if (path.length === 0) return typeof node === 'number' || typeof node === 'boolean' ? String(node) : node
  if (!node || typeof node !== 'object') return node
  const [head, ...rest] = path
  const record = node as Record<string, unknown>
  const copy = (Array.isArray(node) ? [...node] : {...record}) as Record<string, unknown>
  for (const key of head === '*' ? Object.keys(record) : head!.split('|')) {
    if (Object.hasOwn(record, key)) copy[key] = stringifyAt(record[key], rest)
  }
  return copy
}

/** Deeper than any sane resource; past it, JWT claims and YAML output would fail for everyone reading it. */
export const MAX_NESTING = 32

/** The path of the first value nested deeper than MAX_NESTING, if any. */
function tooDeep(node: unknown, path: FieldPath = []): FieldPath | undefined {
  if (!node || typeof node !== 'object') return undefined
  if (path.length >= MAX_NESTING) return path
  for (const [key, child] of Object.entries(node)) {
    const found = tooDeep(child, [...path, Array.isArray(node) ? Number(key) : key])
    if (found) return found
  }
  return undefined
}

/** Where a newline is text: the free-form description, and a JWKS pasted as a YAML block (`jwks: |`). */
const MULTILINE_FIELDS = ['metadata.description', 'spec.kubernetes.static_jwks.jwks', 'spec.github.static_jwks', 'spec.gitlab.static_jwks']

/**
 * The first control character of `text`: C0 but tab (and newline where `multiline`), DEL and
 * C1. They drive terminals (OSC, CSI) wherever a resource is shown, and a newline fakes lines.
 */
function controlCharacter(text: string, multiline: boolean): number | undefined {
  for (const char of text) {
    const code = char.codePointAt(0)!
    if ((code < 0x20 && code !== 0x09 && !(multiline && code === 0x0a)) || (code >= 0x7f && code <= 0x9f)) return code
  }
  return undefined
}

const codePoint = (code: number): string => `U+${code.toString(16).toUpperCase().padStart(4, '0')}`

/** A string (value or key) anywhere in the document with a control character; the message never shows the string. */
function withControlCharacter(node: unknown, path: FieldPath = []): FieldError | undefined {
  if (typeof node === 'string') {
    const code = controlCharacter(node, MULTILINE_FIELDS.includes(formatPath(path)))
    return code === undefined ? undefined : new FieldError(path, `${formatPath(path)}: contains a control character (${codePoint(code)})`)
  }
  if (!node || typeof node !== 'object') return undefined
  for (const [key, child] of Object.entries(node)) {
    const at = [...path, Array.isArray(node) ? Number(key) : key]
    const code = controlCharacter(key, false)
    if (code !== undefined) return new FieldError(at, `${path.length ? `${formatPath(path)}: ` : ''}a key contains a control character (${codePoint(code)})`, true)
    const found = withControlCharacter(child, at)
    if (found) return found
  }
  return undefined
}

/** Kinds whose stored form has a status that wid keeps itself: one in a document is ignored, never taken. */
const STATUS_KINDS: readonly string[] = ['user', 'token']

async function checkDocument(document: SourceDocument): Promise<Resource> {
  let value = document.value as Record<string, unknown>
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new FieldError([], 'a resource must be a mapping with kind, version, metadata and spec')
  const deep = tooDeep(value)
  if (deep) throw new FieldError(deep.slice(0, 8), `${formatPath(deep.slice(0, 8))}…: nested deeper than ${MAX_NESTING} levels`)
  const control = withControlCharacter(value)
  if (control) throw control
  if (value.kind === undefined) throw new FieldError([], 'kind: missing required field')
  if (typeof value.kind !== 'string' || !(KINDS as readonly string[]).includes(value.kind)) {
    throw new FieldError(['kind'], `kind: unknown kind "${String(value.kind)}" (known: ${KINDS.join(', ')})`)
  }
  const kind = value.kind as Kind
  if (STATUS_KINDS.includes(kind) && Object.hasOwn(value, 'status')) {
    const {status: _ignored, ...rest} = value
    value = rest
  }
  const versions = KIND_VERSIONS[kind]
  if (value.version === undefined) throw new FieldError([], `version: missing required field (${kind} supports ${versions.join(', ')})`)
  if (typeof value.version !== 'string' || !versions.includes(value.version)) {
    throw new FieldError(['version'], `version: unsupported version "${String(value.version)}" for ${kind} (supported: ${versions.join(', ')})`)
  }
  await validateSchema(kind, value.version, value)
  const resource = SCALAR_FIELDS[kind].reduce<unknown>(stringifyAt, value) as Resource
  checkSemantics(resource)
  return resource
}

/** Parses and checks every document of a stream; throws at the first problem with its position. */
export async function readResources(text: string, source: string): Promise<CheckedResource[]> {
  const checked: CheckedResource[] = []
  for (const document of parseResourceStream(text, source)) {
    try {
      checked.push({resource: await checkDocument(document), where: document.locate([])})
    } catch (error) {
      if (error instanceof FieldError) throw new WidError('bad_input', `${document.locate(error.path, error.atKey)}: ${error.message}`)
      throw error
    }
  }
  if (checked.length === 0) throw new WidError('bad_input', 'no resources found, empty input?')
  return checked
}

/**
 * Checks one resource that did not come from a file (a command built it, or a remote client
 * sent it) and returns it as it is to be stored: values compared as strings made strings, no
 * status.
 */
export async function checkResource(resource: Resource): Promise<Resource> {
  try {
    return await checkDocument({source: '', index: 1, value: resource, locate: () => ''})
  } catch (error) {
    if (error instanceof FieldError) throw new WidError('bad_input', error.message)
    throw error
  }
}
