/**
 * JSON Schema validation of resources (one schema per kind and version in schemas/),
 * with ajv in strict mode. Errors name the field and point at its line and column.
 */
import {existsSync, readFileSync} from 'node:fs'
import type {ErrorObject, ValidateFunction} from 'ajv'
import {formatPath, FieldError, type FieldPath} from './parse.js'
import type {Kind} from './types.js'

/** schemas/ at the package root, found from wherever this module was compiled or bundled to. */
function findSchemaDir(): URL {
  for (let dir = new URL('./', import.meta.url); dir.pathname !== '/'; dir = new URL('../', dir)) {
    const candidate = new URL('schemas/', dir)
    if (existsSync(new URL('common.json', candidate))) return candidate
  }
  throw new Error('schemas/ not found beside the wid installation')
}

export const SCHEMA_DIR = findSchemaDir()

/**
 * The validators that the build compiled from schemas/ (scripts/validators.mjs, into
 * dist/validators/): loading one costs a fraction of compiling it, and Ajv itself is then
 * never loaded. Without a build (tests of the sources), schemas are compiled here.
 */
function findValidatorDir(): URL | undefined {
  for (let dir = new URL('./', import.meta.url); dir.pathname !== '/'; dir = new URL('../', dir)) {
    if (existsSync(new URL('validators/compiled.json', dir))) return new URL('validators/', dir)
    if (existsSync(new URL('schemas/common.json', dir))) return undefined
  }
  return undefined
}

const VALIDATOR_DIR = findValidatorDir()

/** How every schema is compiled, here and by the build. */
export const AJV_OPTIONS = {strict: true, allowUnionTypes: true, allErrors: true, verbose: true} as const
export const SHARED_SCHEMAS = ['common.json', 'role-conditions.json']

/** The versions each kind accepts; the first is what `wid` writes. */
export const KIND_VERSIONS: Record<Kind, string[]> = {
  workload_identity: ['v1'],
  role: ['v7', 'v6'],
  bot: ['v1'],
  user: ['v2'],
  token: ['v2'],
  integration: ['v1'],
}

const PATTERN_HINTS: Record<string, string> = {
  '^(\\d+[hms])+$': 'must be a duration such as 24h, 90m or 1h30m',
  '^[A-Za-z0-9][A-Za-z0-9._@-]*$': "must start with a letter or digit and contain only letters, digits, '.', '_', '@' and '-'",
  '^[0-9a-f]{64}$': 'must be a SHA-256 hash: 64 lowercase hexadecimal digits',
  '^[A-Za-z0-9.-]+(:\\d{1,5})?$': 'must be a host name, with a port if not 443 (gitlab.example.com, ghe.example.com:8443), without https://',
  '^https://[^/?#\\s]+(/[^?#\\s]*)?$': 'must be an https:// URL with no query or fragment (the issuer exactly as the tokens name it)',
  '^[A-Za-z0-9][A-Za-z0-9_-]*$': 'must be the enterprise slug as GitHub shows it (letters, digits, "_" and "-")',
  '^(?![Bb][Oo][Tt]-)':
    'names starting with "bot-", in any case, are reserved for bots (the bot NAME is user.name "bot-NAME" in roles and templates, and DNS names ignore case); choose another name',
  '^[A-Za-z_][A-Za-z0-9_]*$': 'must be the name of an environment variable (letters, digits and "_", not starting with a digit)',
}

let ajvPromise: Promise<{compile: (schema: object) => ValidateFunction}> | undefined
const validators = new Map<string, ValidateFunction>()

function readSchema(name: string): object {
  return JSON.parse(readFileSync(new URL(name, SCHEMA_DIR), 'utf8')) as object
}

async function validatorFor(kind: Kind, version: string): Promise<ValidateFunction> {
  return validatorForFile(`${kind}.${version}`)
}

async function validatorForFile(id: string): Promise<ValidateFunction> {
  const cached = validators.get(id)
  if (cached) return cached
  let validate: ValidateFunction
  if (VALIDATOR_DIR) {
    validate = ((await import(new URL(`${id}.js`, VALIDATOR_DIR).href)) as {default: ValidateFunction}).default
  } else {
    ajvPromise ??= import('ajv').then(({Ajv}) => new Ajv({...AJV_OPTIONS, schemas: SHARED_SCHEMAS.map(readSchema)}))
    validate = (await ajvPromise).compile(readSchema(`${id}.json`))
  }
  validators.set(id, validate)
  return validate
}

function instancePath(error: ErrorObject): FieldPath {
  return error.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s))
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  object: 'a mapping',
  array: 'a list',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
  'string,number,boolean': 'a string, a number or true/false',
}

/** A field's path for messages; the document itself when the path is empty. */
const where = (path: FieldPath): string => formatPath(path) || 'the document'

function describe(error: ErrorObject): {path: FieldPath; message: string; atKey: boolean} {
  const path = instancePath(error)
  const params = error.params as Record<string, unknown>
  switch (error.keyword) {
    case 'additionalProperties': {
      const allowed = Object.keys((error.parentSchema as {properties?: object})?.properties ?? {})
      const field = [...path, String(params.additionalProperty)]
      const hint = allowed.length ? ` (allowed: ${allowed.join(', ')})` : ''
      return {path: field, message: `${where(field)}: unknown field${hint}`, atKey: true}
    }
    case 'required': {
      const field = [...path, String(params.missingProperty)]
      return {path, message: `${where(field)}: missing required field`, atKey: false}
    }
    case 'type':
      return {path, message: `${where(path)}: must be ${TYPE_NAMES[String(params.type)] ?? String(params.type)}`, atKey: false}
    case 'const':
      return {path, message: `${where(path)}: must be "${String(params.allowedValue)}"`, atKey: false}
    case 'enum':
      return {path, message: `${where(path)}: must be one of ${(params.allowedValues as unknown[]).join(', ')}`, atKey: false}
    case 'pattern':
      return {path, message: `${where(path)}: ${PATTERN_HINTS[String(params.pattern)] ?? `must match ${String(params.pattern)}`}`, atKey: false}
    case 'anyOf':
      return {path, message: `${where(path)}: must be a value or a list of values`, atKey: false}
    case 'minItems':
      return {path, message: `${where(path)}: must have at least ${String(params.limit)} item(s)`, atKey: false}
    case 'minLength':
      return {path, message: `${where(path)}: must not be empty`, atKey: false}
    case 'maxLength':
      return {path, message: `${where(path)}: must be at most ${String(params.limit)} characters`, atKey: false}
    default:
      return {path, message: `${where(path)}: ${error.message ?? 'is invalid'}`, atKey: false}
  }
}

/**
 * The error to report of all a document has: an unknown field first (a misspelt key also
 * leaves its right spelling missing, and the typo is what to fix), else the first.
 */
function mostTelling(errors: ErrorObject[]): ErrorObject {
  return errors.find((error) => error.keyword === 'additionalProperties') ?? errors[0]!
}

/** Throws a FieldError for the most telling schema violation of a document of known kind and version. */
export async function validateSchema(kind: Kind, version: string, value: unknown): Promise<void> {
  const validate = await validatorFor(kind, version)
  if (validate(value)) return
  const {path, message, atKey} = describe(mostTelling(validate.errors!))
  throw new FieldError(path, message, atKey)
}

/** Validates a configuration document against `schemas/<name>.json` (e.g. `server-config`). */
export async function validateConfig(name: string, value: unknown): Promise<void> {
  const validate = await validatorForFile(name)
  if (validate(value)) return
  const {path, message, atKey} = describe(mostTelling(validate.errors!))
  throw new FieldError(path, message, atKey)
}
