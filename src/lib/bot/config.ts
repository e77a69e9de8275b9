/**
 * The bot agent's configuration: tbot's `version: v2` YAML, read as it is written into a
 * typed BotConfig (camelCase, durations in seconds, paths absolute, defaults filled in).
 * Every refusal names the field and, for a file, its `file:line:col`, before anything starts.
 * The shape is checked by schemas/bot-config.v2.json; values and how fields relate, here.
 */
import {isIP} from 'node:net'
import {dirname, resolve} from 'node:path'
import {checkRegion, parseArn, parseIamRoleArn} from '../aws/arn.js'
import {formatDuration, parseDuration} from '../duration.js'
import {splitAddresses} from '../cluster/failover.js'
import {badInput, WidError} from '../errors.js'
import {readBounded} from '../output/read.js'
import {FieldError, formatPath, MAX_INPUT_BYTES, parseResourceStream, type FieldPath, type SourceDocument} from '../resources/parse.js'
import {validateConfig} from '../resources/schema.js'
import type {JoinMethod} from '../resources/types.js'
import {validatePath} from '../spiffeid/index.js'
import {ENDPOINT_FORMS, parseEndpoint, type Endpoint} from '../workloadapi/address.js'

export type Destination = {type: 'directory'; path: string} | {type: 'memory'}
/** A workload identity by name, or the ones whose labels match (each key: any of its values). */
export type Selector = {name: string} | {labels: Record<string, string[]>}
export type Listen = Endpoint

export interface Attestors {
  unix?: {binaryHashMaxSizeBytes?: number}
  kubernetes?: {
    enabled: boolean
    kubelet?: {securePort?: number; readOnlyPort?: number; tokenPath?: string; caPath?: string; skipVerify?: boolean; anonymous?: boolean}
  }
  docker?: {enabled: boolean; addr?: string}
  podman?: {enabled: boolean; addr?: string}
  systemd?: {enabled: boolean}
}

interface ServiceCommon {
  /** The `name` field, else `<type>-<n>` (n counts services, then outputs, from 1). */
  name: string
  /** Overrides of the top level's; see serviceTiming. */
  credentialTtlSeconds?: number
  renewalIntervalSeconds?: number
}

export interface X509ServiceConfig extends ServiceCommon {
  type: 'workload-identity-x509'
  selector: Selector
  destination: Destination
  includeFederatedTrustBundles: boolean
}

export interface JwtServiceConfig extends ServiceCommon {
  type: 'workload-identity-jwt'
  selector: Selector
  destination: Destination
  audiences: string[]
}

export interface WorkloadApiServiceConfig extends ServiceCommon {
  type: 'workload-identity-api'
  listen: Listen
  selector: Selector
  attestors: Attestors
}

export interface RolesAnywhereServiceConfig extends ServiceCommon {
  type: 'workload-identity-aws-roles-anywhere'
  selector: Selector
  destination: Destination
  roleArn: string
  profileArn: string
  trustAnchorArn: string
  region: string
  sessionDurationSeconds: number
  sessionRenewalIntervalSeconds: number
  credentialProfileName: string
  artifactName: string
  overwriteCredentialFile: boolean
}

/** The legacy `outputs[]` entry: an SVID by SPIFFE ID path. */
export interface SpiffeSvidOutputConfig extends ServiceCommon {
  type: 'spiffe-svid'
  destination: Destination
  svid: {path: string; hint?: string; sans: {dns: string[]; ip: string[]}}
  jwts: {audience: string; fileName: string}[]
}

export type ServiceConfig = X509ServiceConfig | JwtServiceConfig | WorkloadApiServiceConfig | RolesAnywhereServiceConfig | SpiffeSvidOutputConfig

export interface Onboarding {
  joinMethod: JoinMethod
  /**
   * `token`: the token itself (read from tokenFile when the configuration names a file). A
   * delegated method: the name of the token resource, which is no secret.
   */
  token?: string
  tokenFile?: string
  caPins: string[]
  caPath?: string
  /** `kubernetes`: where the projected service account token is (else KUBERNETES_TOKEN_PATH, else the default path). */
  kubernetes?: {tokenPath?: string}
  /** `gitlab`: the environment variable that holds the ID token (default TBOT_GITLAB_JWT). */
  gitlab?: {tokenEnvVarName?: string}
}

export interface BotConfig {
  version: 'v2'
  /** HOST:PORT, or several servers of one cluster comma-separated (see requireAddresses). */
  proxyServer?: string
  authServer?: string
  onboarding: Onboarding
  storage: Destination
  credentialTtlSeconds: number
  renewalIntervalSeconds: number
  oneshot: boolean
  debug: boolean
  diagAddr?: string
  /** `services[]`, then the legacy `outputs[]`. */
  services: ServiceConfig[]
}

export const DEFAULT_STORAGE_PATH = '/var/lib/wid/bot'
export const DEFAULTS = {
  credentialTtlSeconds: 3600,
  renewalIntervalSeconds: 1200,
  sessionDurationSeconds: 6 * 3600,
  maxSessionDurationSeconds: 12 * 3600,
  sessionRenewalIntervalSeconds: 3600,
  credentialProfileName: 'default',
  artifactName: 'aws_credentials',
} as const

/** The largest token file read: a join token is one short line. */
const MAX_TOKEN_FILE_BYTES = 4096
/** Files an SVID destination holds besides its JWTs. */
const SVID_FILES = new Set(['svid.pem', 'svid_key.pem', 'svid_bundle.pem'])
const FILE_NAME = /^[A-Za-z0-9._-]+$/
const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/
const CA_PIN = /^sha256:[0-9a-fA-F]{64}$/
const DNS_LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/
const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/
const PROFILE_NAME = /^[^\s\p{Cc}[\]#;=]+$/u

// The YAML as the schema lets it through (snake_case, as tbot writes it).
type Scalar = string | number | boolean
export interface RawDestination {
  type: 'directory' | 'memory'
  path?: string
}
export interface RawSelector {
  name?: string
  labels?: Record<string, Scalar | Scalar[]>
}
interface RawAttestors {
  unix?: {binary_hash_max_size_bytes?: number}
  kubernetes?: {
    enabled?: boolean
    kubelet?: {secure_port?: number; read_only_port?: number; token_path?: string; ca_path?: string; skip_verify?: boolean; anonymous?: boolean}
  }
  docker?: {enabled?: boolean; addr?: string}
  podman?: {enabled?: boolean; addr?: string}
  systemd?: {enabled?: boolean}
}
export interface RawService {
  type: ServiceConfig['type']
  name?: string
  credential_ttl?: string
  renewal_interval?: string
  selector?: RawSelector
  destination?: RawDestination
  include_federated_trust_bundles?: boolean
  audiences?: string[]
  listen?: string
  attestors?: RawAttestors
  role_arn?: string
  profile_arn?: string
  trust_anchor_arn?: string
  region?: string
  session_duration?: string
  session_renewal_interval?: string
  credential_profile_name?: string
  artifact_name?: string
  overwrite_credential_file?: boolean
  svid?: {path: string; hint?: string; sans?: {dns?: string[]; ip?: string[]}}
  jwts?: {audience: string; file_name: string}[]
}
export interface RawConfig {
  version: string
  proxy_server?: string
  auth_server?: string
  onboarding?: {
    join_method?: JoinMethod
    token?: string
    ca_pins?: string[]
    ca_path?: string
    kubernetes?: {token_path?: string}
    gitlab?: {token_env_var_name?: string}
  }
  storage?: RawDestination
  credential_ttl?: string
  renewal_interval?: string
  oneshot?: boolean
  debug?: boolean
  diag_addr?: string
  services?: RawService[]
  outputs?: RawService[]
}

/** How refusals name a field: its path in the file, or the flag that set it. */
export type FieldNamer = (path: FieldPath) => string

class Reader {
  constructor(
    /** Relative paths are relative to this directory. */
    readonly base: string,
    readonly name: FieldNamer,
  ) {}

  fail(path: FieldPath, message: string): never {
    const field = this.name(path)
    throw new FieldError(path, field ? `${field}: ${message}` : message)
  }

  /** A check from elsewhere in wid (durations, ARNs, SPIFFE paths), its refusal then pointing at the field. */
  at<T>(path: FieldPath, check: () => T, named = false): T {
    try {
      return check()
    } catch (error) {
      if (!(error instanceof WidError) || error instanceof FieldError) throw error
      throw new FieldError(path, named ? error.message : `${this.name(path)}: ${error.message}`)
    }
  }

  seconds(path: FieldPath, value: string): number {
    return this.at(path, () => parseDuration(value))
  }

  path(path: FieldPath, value: string): string {
    if (value.trim() === '') this.fail(path, 'must not be empty')
    return resolve(this.base, value)
  }

  hostPort(path: FieldPath, value: string): string {
    const port = Number(HOST_PORT.exec(value)?.[2])
    if (!(port >= 1 && port <= 65535)) this.fail(path, `invalid address "${value}" (expected HOST:PORT, e.g. example.teleport.sh:443)`)
    return value
  }

  /** One HOST:PORT, or several comma-separated (the servers of one cluster), each checked; written back as given, without spaces. */
  hostPorts(path: FieldPath, value: string): string {
    return splitAddresses(value, (address) => this.hostPort(path, address)).join(',')
  }
}

/** tbot's `version: v2` YAML, as read from `source` (relative paths in it are relative to the file). */
export async function parseBotConfig(text: string, source: string): Promise<BotConfig> {
  let documents: SourceDocument[]
  try {
    documents = parseResourceStream(text, source)
  } catch (error) {
    throw error instanceof WidError ? badInput(`bot config: ${error.message}`) : error
  }
  const [document, extra] = documents
  if (!document) throw badInput(`bot config: ${source}: the file is empty (expected tbot's v2 configuration, starting with version: v2)`)
  if (extra) throw badInput(`bot config: ${extra.locate([])}: the configuration must be a single document`)
  try {
    const value = document.value as Record<string, unknown>
    if (typeof value === 'object' && !Array.isArray(value) && value.version !== undefined && value.version !== 'v2') {
      throw new FieldError(['version'], `version "${String(value.version)}" is not supported; wid reads tbot's v2 configuration (version: v2)`)
    }
    await validateConfig('bot-config.v2', value)
    return await readRawConfig(value as unknown as RawConfig, {base: dirname(resolve(source)), name: formatPath})
  } catch (error) {
    if (error instanceof FieldError) throw badInput(`bot config: ${document.locate(error.path, error.atKey)}: ${error.message}`)
    throw error
  }
}

export async function loadBotConfig(path: string): Promise<BotConfig> {
  const data = await readBounded(path, {prefix: 'bot config', maxBytes: MAX_INPUT_BYTES, what: 'a configuration', pipeTimeoutMs: 10_000})
  if (data === undefined) throw new WidError('not_found', `bot config: cannot read ${path}: no such file`)
  return parseBotConfig(data.toString('utf8'), path)
}

/**
 * The addresses of the cluster to join, which every run but one against the embedded
 * cluster (--local) needs: one, or several servers of one cluster (the agent moves between
 * them as cluster/failover.ts allows).
 */
export function requireAddresses(config: BotConfig): string[] {
  const address = config.proxyServer ?? config.authServer
  if (address === undefined) {
    throw badInput("bot config: give the cluster's address: proxy_server (or auth_server) in the configuration, or --proxy-server; or use the embedded cluster with --local")
  }
  return address.split(',')
}

/** A service's credential TTL and renewal interval: its own, else the top level's. */
export interface ServiceTiming {
  credentialTtlSeconds: number
  renewalIntervalSeconds: number
}

export function serviceTiming(config: BotConfig, service: ServiceConfig): ServiceTiming {
  return {
    credentialTtlSeconds: service.credentialTtlSeconds ?? config.credentialTtlSeconds,
    renewalIntervalSeconds: service.renewalIntervalSeconds ?? config.renewalIntervalSeconds,
  }
}

/**
 * Normalizes a configuration the schema let through (or one built from flags), checking its
 * values and how they relate; refusals are FieldErrors named by `options.name`.
 */
export async function readRawConfig(raw: RawConfig, options: {base: string; name: FieldNamer}): Promise<BotConfig> {
  const r = new Reader(options.base, options.name)
  if (raw.proxy_server !== undefined && raw.auth_server !== undefined) r.fail(['auth_server'], 'give proxy_server or auth_server, not both')
  const credentialTtlSeconds = raw.credential_ttl === undefined ? DEFAULTS.credentialTtlSeconds : r.seconds(['credential_ttl'], raw.credential_ttl)
  const renewalIntervalSeconds = raw.renewal_interval === undefined ? DEFAULTS.renewalIntervalSeconds : r.seconds(['renewal_interval'], raw.renewal_interval)
  checkTiming(r, [], credentialTtlSeconds, renewalIntervalSeconds, raw.renewal_interval !== undefined)
  const config: BotConfig = {
    version: 'v2',
    proxyServer: raw.proxy_server === undefined ? undefined : r.hostPorts(['proxy_server'], raw.proxy_server),
    authServer: raw.auth_server === undefined ? undefined : r.hostPorts(['auth_server'], raw.auth_server),
    onboarding: await onboarding(r, raw.onboarding ?? {}),
    storage: raw.storage === undefined ? {type: 'directory', path: DEFAULT_STORAGE_PATH} : destination(r, ['storage'], raw.storage, DEFAULT_STORAGE_PATH),
    credentialTtlSeconds,
    renewalIntervalSeconds,
    oneshot: raw.oneshot ?? false,
    debug: raw.debug ?? false,
    diagAddr: raw.diag_addr === undefined ? undefined : r.hostPort(['diag_addr'], raw.diag_addr),
    services: [],
  }
  const entries: [FieldPath, RawService][] = [
    ...(raw.services ?? []).map((s, i): [FieldPath, RawService] => [['services', i], s]),
    ...(raw.outputs ?? []).map((s, i): [FieldPath, RawService] => [['outputs', i], s]),
  ]
  if (entries.length === 0) {
    r.fail([], 'there are no services and no outputs, so the agent would do nothing: add a service (e.g. type: workload-identity-x509 with a selector and a destination), or give --destination with --name-selector, --label-selector or --svid-path')
  }
  config.services = entries.map(([path, s], i) => service(r, path, s, i + 1, config))
  checkOverlaps(r, config, entries.map(([path]) => path))
  return config
}

function checkTiming(r: Reader, at: FieldPath, ttl: number, interval: number, intervalSet: boolean): void {
  if (interval < ttl) return
  const [i, t] = [interval, ttl].map(formatDuration)
  r.fail([...at, intervalSet ? 'renewal_interval' : 'credential_ttl'], `the renewal interval (${i}) must be shorter than the credential TTL (${t}), so that credentials are renewed before they expire`)
}

async function onboarding(r: Reader, raw: NonNullable<RawConfig['onboarding']>): Promise<Onboarding> {
  const caPins = (raw.ca_pins ?? []).map((pin, i) => {
    if (!CA_PIN.test(pin)) r.fail(['onboarding', 'ca_pins', i], `invalid CA pin "${pin}" (expected sha256: and 64 hex digits, as wid status shows it)`)
    return pin.toLowerCase()
  })
  const joinMethod = raw.join_method ?? 'token'
  for (const method of ['kubernetes', 'gitlab'] as const) {
    if (raw[method] !== undefined && joinMethod !== method) r.fail(['onboarding', method], `applies to join_method ${method} only, and this configuration joins by ${joinMethod}`)
  }
  const tokenPath = raw.kubernetes?.token_path
  return {
    joinMethod,
    ...(joinMethod === 'token' ? (raw.token === undefined ? {} : await token(r, raw.token)) : {token: tokenName(r, joinMethod, raw.token)}),
    caPins,
    caPath: raw.ca_path === undefined ? undefined : r.path(['onboarding', 'ca_path'], raw.ca_path),
    ...(raw.kubernetes ? {kubernetes: tokenPath === undefined ? {} : {tokenPath: r.path(['onboarding', 'kubernetes', 'token_path'], tokenPath)}} : {}),
    ...(raw.gitlab ? {gitlab: raw.gitlab.token_env_var_name === undefined ? {} : {tokenEnvVarName: raw.gitlab.token_env_var_name}} : {}),
  }
}

/** A delegated method's token: the name of a token resource, needed for every join (it is not a secret, nor a file). */
function tokenName(r: Reader, method: JoinMethod, value: string | undefined): string {
  if (value === undefined || value.trim() === '') {
    r.fail(['onboarding', 'token'], `join_method ${method} needs the name of the cluster's token resource for it (wid get token lists them; the name is not a secret)`)
  }
  return value
}

/** The token, or the first line of the file it names. */
async function token(r: Reader, value: string): Promise<{token: string; tokenFile?: string}> {
  const at: FieldPath = ['onboarding', 'token']
  if (value.trim() === '') r.fail(at, 'must not be empty')
  const file = resolve(r.base, value)
  let data: Buffer | undefined
  try {
    data = await readBounded(file, {prefix: 'token file', maxBytes: MAX_TOKEN_FILE_BYTES, what: 'a join token'})
  } catch (error) {
    if (error instanceof WidError) r.fail(at, error.message)
    throw error
  }
  if (data === undefined) return {token: value}
  const first = data.toString('utf8').split(/\r?\n/, 1)[0]!.trim()
  if (first === '') r.fail(at, `token file: ${file} is empty or starts with an empty line (expected the join token on its first line)`)
  return {token: first, tokenFile: file}
}

function destination(r: Reader, at: FieldPath, raw: RawDestination, defaultPath?: string): Destination {
  if (raw.type === 'memory') {
    if (raw.path !== undefined) r.fail([...at, 'path'], 'a memory destination has no path (remove path, or use type: directory)')
    return {type: 'memory'}
  }
  const path = raw.path ?? defaultPath
  if (path === undefined) r.fail([...at, 'path'], 'missing required field (type: directory needs the path of the directory)')
  return {type: 'directory', path: r.path([...at, 'path'], path)}
}

function selector(r: Reader, at: FieldPath, raw: RawSelector): Selector {
  if (raw.name !== undefined && raw.labels !== undefined) r.fail(at, 'give name or labels, not both')
  if (raw.name !== undefined) {
    if (raw.name.trim() === '') r.fail([...at, 'name'], 'must not be empty')
    return {name: raw.name}
  }
  const labels = Object.entries(raw.labels ?? {})
  if (raw.labels === undefined) r.fail(at, 'give the workload identity to issue: name: NAME, or labels: {KEY: [VALUE]}')
  if (labels.length === 0) r.fail([...at, 'labels'], 'must have at least one label')
  return {labels: Object.fromEntries(labels.map(([key, value]) => [key, (Array.isArray(value) ? value : [value]).map(String)]))}
}

function listen(r: Reader, at: FieldPath, value: string): Listen {
  try {
    return parseEndpoint(value)
  } catch (error) {
    if (!(error instanceof WidError)) throw error
    return r.fail(at, `${error.message} (expected ${ENDPOINT_FORMS})`)
  }
}

function attestors(r: Reader, at: FieldPath, raw: RawAttestors): Attestors {
  const daemon = (name: 'docker' | 'podman', value: {enabled?: boolean; addr?: string}) => {
    if (value.addr !== undefined && !/^unix:\/\/\/./.test(value.addr)) r.fail([...at, name, 'addr'], `invalid address "${value.addr}" (expected unix:///PATH to the ${name} socket)`)
    return {enabled: value.enabled ?? false, addr: value.addr}
  }
  const kubelet = raw.kubernetes?.kubelet
  return {
    unix: raw.unix && {binaryHashMaxSizeBytes: raw.unix.binary_hash_max_size_bytes},
    kubernetes: raw.kubernetes && {
      enabled: raw.kubernetes.enabled ?? false,
      kubelet: kubelet && {
        securePort: kubelet.secure_port,
        readOnlyPort: kubelet.read_only_port,
        tokenPath: kubelet.token_path === undefined ? undefined : r.path([...at, 'kubernetes', 'kubelet', 'token_path'], kubelet.token_path),
        caPath: kubelet.ca_path === undefined ? undefined : r.path([...at, 'kubernetes', 'kubelet', 'ca_path'], kubelet.ca_path),
        skipVerify: kubelet.skip_verify,
        anonymous: kubelet.anonymous,
      },
    },
    docker: raw.docker && daemon('docker', raw.docker),
    podman: raw.podman && daemon('podman', raw.podman),
    systemd: raw.systemd && {enabled: raw.systemd.enabled ?? false},
  }
}

function service(r: Reader, at: FieldPath, raw: RawService, n: number, config: BotConfig): ServiceConfig {
  const p = (...rest: FieldPath) => [...at, ...rest]
  if (raw.name !== undefined && !SERVICE_NAME.test(raw.name)) r.fail(p('name'), `invalid name "${raw.name}" (letters, digits, '.', '_' and '-', starting with a letter or digit)`)
  const common: ServiceCommon = {
    name: raw.name ?? `${raw.type}-${n}`,
    credentialTtlSeconds: raw.credential_ttl === undefined ? undefined : r.seconds(p('credential_ttl'), raw.credential_ttl),
    renewalIntervalSeconds: raw.renewal_interval === undefined ? undefined : r.seconds(p('renewal_interval'), raw.renewal_interval),
  }
  if (common.credentialTtlSeconds !== undefined || common.renewalIntervalSeconds !== undefined) {
    checkTiming(r, at, common.credentialTtlSeconds ?? config.credentialTtlSeconds, common.renewalIntervalSeconds ?? config.renewalIntervalSeconds, common.renewalIntervalSeconds !== undefined)
  }
  switch (raw.type) {
    case 'workload-identity-x509':
      return {type: raw.type, ...common, selector: selector(r, p('selector'), raw.selector!), destination: destination(r, p('destination'), raw.destination!), includeFederatedTrustBundles: raw.include_federated_trust_bundles ?? false}
    case 'workload-identity-jwt':
      return {type: raw.type, ...common, selector: selector(r, p('selector'), raw.selector!), destination: destination(r, p('destination'), raw.destination!), audiences: audiences(r, p('audiences'), raw.audiences!)}
    case 'workload-identity-api':
      return {type: raw.type, ...common, listen: listen(r, p('listen'), raw.listen!), selector: selector(r, p('selector'), raw.selector!), attestors: attestors(r, p('attestors'), raw.attestors ?? {})}
    case 'workload-identity-aws-roles-anywhere':
      return {type: raw.type, ...common, ...rolesAnywhere(r, at, raw)}
    case 'spiffe-svid':
      return {type: raw.type, ...common, ...spiffeSvid(r, at, raw)}
  }
}

function audiences(r: Reader, at: FieldPath, values: string[]): string[] {
  if (values.length === 0) r.fail(at, 'give at least one audience')
  values.forEach((value, i) => value.trim() === '' && r.fail([...at, i], 'must not be empty'))
  return values
}

function rolesAnywhere(r: Reader, at: FieldPath, raw: RawService): Omit<RolesAnywhereServiceConfig, 'type' | keyof ServiceCommon> {
  const p = (...rest: FieldPath) => [...at, ...rest]
  const arn = (field: string, value: string, resourceType: string) =>
    r.at(p(field), () => parseArn(value, r.name(p(field)), {service: 'rolesanywhere', resourceType, region: 'required'}), true)
  r.at(p('role_arn'), () => parseIamRoleArn(raw.role_arn!, r.name(p('role_arn'))), true)
  const profile = arn('profile_arn', raw.profile_arn!, 'profile')
  const anchor = arn('trust_anchor_arn', raw.trust_anchor_arn!, 'trust-anchor')
  if (profile.region !== anchor.region) r.fail(p('profile_arn'), `the profile is in ${profile.region} but the trust anchor in ${anchor.region}; Roles Anywhere needs both in one region`)
  const session = raw.session_duration === undefined ? DEFAULTS.sessionDurationSeconds : r.seconds(p('session_duration'), raw.session_duration)
  if (session > DEFAULTS.maxSessionDurationSeconds) r.fail(p('session_duration'), `${formatDuration(session)} is longer than the 12h Roles Anywhere allows`)
  const renewal = raw.session_renewal_interval === undefined ? DEFAULTS.sessionRenewalIntervalSeconds : r.seconds(p('session_renewal_interval'), raw.session_renewal_interval)
  if (renewal >= session) {
    r.fail(p(raw.session_renewal_interval === undefined ? 'session_duration' : 'session_renewal_interval'), `the session renewal interval (${formatDuration(renewal)}) must be shorter than the session duration (${formatDuration(session)})`)
  }
  const profileName = raw.credential_profile_name ?? DEFAULTS.credentialProfileName
  // It becomes the line [name] of an INI file: a newline or a bracket in it would write other profiles' lines.
  if (!PROFILE_NAME.test(profileName)) r.fail(p('credential_profile_name'), `invalid profile name "${profileName}" (no spaces, control characters, brackets, '#', ';' or '=')`)
  const artifactName = raw.artifact_name ?? DEFAULTS.artifactName
  if (!FILE_NAME.test(artifactName) || /^\.+$/.test(artifactName)) r.fail(p('artifact_name'), `invalid file name "${artifactName}" (letters, digits, '.', '_' and '-')`)
  return {
    selector: selector(r, p('selector'), raw.selector!),
    destination: destination(r, p('destination'), raw.destination!),
    roleArn: raw.role_arn!,
    profileArn: raw.profile_arn!,
    trustAnchorArn: raw.trust_anchor_arn!,
    region: raw.region === undefined ? anchor.region : r.at(p('region'), () => checkRegion(raw.region!, 'region')),
    sessionDurationSeconds: session,
    sessionRenewalIntervalSeconds: renewal,
    credentialProfileName: profileName,
    artifactName,
    overwriteCredentialFile: raw.overwrite_credential_file ?? false,
  }
}

function spiffeSvid(r: Reader, at: FieldPath, raw: RawService): Omit<SpiffeSvidOutputConfig, 'type' | keyof ServiceCommon> {
  const p = (...rest: FieldPath) => [...at, ...rest]
  const svid = raw.svid!
  if (svid.path === '') r.fail(p('svid', 'path'), 'give the SPIFFE ID path to issue, e.g. /svc/foo')
  r.at(p('svid', 'path'), () => validatePath(svid.path))
  const dns = (svid.sans?.dns ?? []).map((name, i) => {
    const labels = name.split('.')
    const body = labels[0] === '*' ? labels.slice(1) : labels
    if (isIP(name) !== 0 || name.length > 253 || body.length === 0 || !body.every((l) => DNS_LABEL.test(l))) {
      r.fail(p('svid', 'sans', 'dns', i), `invalid DNS name "${name}" (expected a host name such as foo.example.com; IP addresses go in ip)`)
    }
    return name.toLowerCase()
  })
  const ip = (svid.sans?.ip ?? []).map((address, i) => (isIP(address) === 0 ? r.fail(p('svid', 'sans', 'ip', i), `invalid IP address "${address}"`) : address))
  const names = new Set<string>()
  const jwts = (raw.jwts ?? []).map(({audience, file_name: fileName}, i) => {
    if (!FILE_NAME.test(fileName) || /^\.+$/.test(fileName)) r.fail(p('jwts', i, 'file_name'), `invalid file name "${fileName}" (letters, digits, '.', '_' and '-')`)
    if (SVID_FILES.has(fileName)) r.fail(p('jwts', i, 'file_name'), `${fileName} is where the X.509-SVID goes; choose another file name, e.g. jwt_svid`)
    if (names.has(fileName)) r.fail(p('jwts', i, 'file_name'), `${fileName} is given twice; each JWT-SVID needs its own file`)
    names.add(fileName)
    return {audience, fileName}
  })
  return {
    destination: destination(r, p('destination'), raw.destination!),
    svid: {path: svid.path, ...(svid.hint === undefined ? {} : {hint: svid.hint}), sans: {dns, ip}},
    jwts,
  }
}

/** Names are unique, and no two services write one directory or listen on one address. */
function checkOverlaps(r: Reader, config: BotConfig, paths: FieldPath[]): void {
  const seen = new Map<string, number>()
  const describe = (i: number) => `${formatPath(paths[i]!)} ("${config.services[i]!.name}")`
  config.services.forEach((s, i) => {
    const other = seen.get(`name ${s.name}`)
    if (other !== undefined) r.fail([...paths[i]!, 'name'], `"${s.name}" is also the name of ${formatPath(paths[other]!)}; give each service its own name`)
    seen.set(`name ${s.name}`, i)
  })
  config.services.forEach((s, i) => {
    if (s.type === 'workload-identity-api') {
      const key = s.listen.network === 'unix' ? `listen ${s.listen.path}` : `listen ${s.listen.host}:${s.listen.port}`
      const other = seen.get(key)
      if (other !== undefined) r.fail([...paths[i]!, 'listen'], `${describe(other)} listens there too; give each Workload API its own address`)
      seen.set(key, i)
      return
    }
    if (s.destination.type !== 'directory') return
    const at = [...paths[i]!, 'destination', 'path']
    if (config.storage.type === 'directory' && s.destination.path === config.storage.path) {
      r.fail(at, `${s.destination.path} is the bot's storage directory; give ${describe(i)} a directory of its own`)
    }
    const other = seen.get(`dir ${s.destination.path}`)
    if (other !== undefined) r.fail(at, `${describe(i)} and ${describe(other)} both write to ${s.destination.path}; give each service its own directory`)
    seen.set(`dir ${s.destination.path}`, i)
  })
}
