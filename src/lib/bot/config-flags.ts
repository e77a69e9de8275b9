/**
 * The flags of `wid bot start` and `wid bot configure` as a BotConfig, alone or over a file's
 * (as tbot does: the flags replace the file's top-level fields, and a service they describe
 * is added to the file's). The result is checked as a file is, refusals naming the flags.
 */
import {badInput} from '../errors.js'
import type {JoinMethod} from '../resources/types.js'
import {FieldError, formatPath, type FieldPath} from '../resources/parse.js'
import {parseLabelSelector} from '../resources/refs.js'
import {readRawConfig, type BotConfig, type RawConfig, type RawSelector} from './config.js'
import {toRawConfig} from './config-render.js'

/** The flags by their names on the command line. */
export interface BotFlags {
  'proxy-server'?: string
  token?: string
  'join-method'?: JoinMethod
  'ca-pin'?: string[]
  storage?: string
  destination?: string
  'name-selector'?: string
  'label-selector'?: string
  'svid-path'?: string
  listen?: string
  audience?: string[]
  'certificate-ttl'?: string
  'renewal-interval'?: string
  oneshot?: boolean
  'diag-addr'?: string
}

/** A configuration from flags alone (paths relative to the working directory). */
export function configFromFlags(flags: BotFlags): Promise<BotConfig> {
  return withFlags({version: 'v2'}, flags)
}

/** `config` with the flags over its top-level fields, and the service they describe added. */
export function mergeFlags(config: BotConfig, flags: BotFlags): Promise<BotConfig> {
  return withFlags(toRawConfig(config), flags)
}

/** Where each flag lands in the YAML, so that a refusal names the flag. */
type FlagFields = Map<string, string>

async function withFlags(base: RawConfig, flags: BotFlags): Promise<BotConfig> {
  const raw: RawConfig = {...base, onboarding: {...base.onboarding}}
  const fields: FlagFields = new Map()
  const set = <K extends keyof RawConfig>(key: K, value: RawConfig[K] | undefined, flag: string) => {
    if (value === undefined) return
    raw[key] = value
    fields.set(key, flag)
  }
  if (flags['proxy-server'] !== undefined) delete raw.auth_server
  set('proxy_server', flags['proxy-server'], '--proxy-server')
  set('credential_ttl', flags['certificate-ttl'], '--certificate-ttl')
  set('renewal_interval', flags['renewal-interval'], '--renewal-interval')
  set('diag_addr', flags['diag-addr'], '--diag-addr')
  set('storage', flags.storage === undefined ? undefined : {type: 'directory', path: flags.storage}, '--storage')
  if (flags.oneshot) raw.oneshot = true
  const onboarding = raw.onboarding!
  if (flags['join-method'] !== undefined) {
    onboarding.join_method = flags['join-method']
    fields.set('onboarding.join_method', '--join-method')
  }
  if (flags.token !== undefined) onboarding.token = flags.token
  // A token the file does not give can only come from --token, which a refusal of its absence then names.
  if (flags.token !== undefined || onboarding.token === undefined) fields.set('onboarding.token', '--token')
  if (flags['ca-pin']?.length) {
    onboarding.ca_pins = flags['ca-pin']
    fields.set('onboarding.ca_pins', '--ca-pin')
  }
  addFlagService(raw, flags, fields)
  try {
    return await readRawConfig(raw, {base: process.cwd(), name: (path) => flagOf(fields, path) ?? formatPath(path)})
  } catch (error) {
    if (error instanceof FieldError) throw badInput(`bot config: ${error.message}`)
    throw error
  }
}

/** The flag that set the field at `path` or one of its parents. */
function flagOf(fields: FlagFields, path: FieldPath): string | undefined {
  for (let k = path.length; k > 0; k--) {
    const flag = fields.get(formatPath(path.slice(0, k)))
    if (flag !== undefined) return flag
  }
  return undefined
}

/** The one service (or legacy output) the flags describe, if any. */
function addFlagService(raw: RawConfig, flags: BotFlags, fields: FlagFields): void {
  const selectorFlag = flags['name-selector'] !== undefined ? '--name-selector' : flags['label-selector'] !== undefined ? '--label-selector' : undefined
  if (flags['name-selector'] !== undefined && flags['label-selector'] !== undefined) throw badInput('bot config: give --name-selector or --label-selector, not both')
  const audiences = flags.audience ?? []
  const destination = flags.destination
  if (flags['svid-path'] !== undefined) {
    if (selectorFlag) throw badInput(`bot config: --svid-path issues by SPIFFE ID path and ${selectorFlag} from a workload identity; give one of them`)
    if (flags.listen !== undefined) throw badInput('bot config: the Workload API (--listen) serves workload identities: give --name-selector or --label-selector, not --svid-path')
    if (destination === undefined) throw badInput('bot config: --svid-path needs --destination, the directory to write the SVID into')
    const at = `outputs[${raw.outputs?.length ?? 0}]`
    const fileName = (audience: string) => (audiences.length === 1 ? 'jwt_svid' : `jwt_svid_${audience.replace(/[^A-Za-z0-9._-]/g, '_')}`)
    raw.outputs = [
      ...(raw.outputs ?? []),
      {type: 'spiffe-svid', destination: {type: 'directory', path: destination}, svid: {path: flags['svid-path']}, jwts: audiences.map((audience) => ({audience, file_name: fileName(audience)}))},
    ]
    fields.set(`${at}.destination`, '--destination').set(`${at}.svid`, '--svid-path').set(`${at}.jwts`, '--audience')
    return
  }
  if (flags.listen !== undefined && flags['svid-path'] === undefined && selectorFlag === undefined) {
    throw badInput('bot config: --listen needs what to serve: --name-selector or --label-selector')
  }
  if (selectorFlag === undefined) {
    if (destination !== undefined) throw badInput('bot config: --destination needs what to issue into it: --name-selector, --label-selector or --svid-path')
    if (audiences.length) throw badInput('bot config: --audience needs --name-selector, --label-selector or --svid-path')
    return
  }
  if (flags.listen !== undefined && (destination !== undefined || audiences.length)) {
    throw badInput('bot config: --listen serves the Workload API; --destination and --audience write files: give one or the other')
  }
  if (destination === undefined && flags.listen === undefined) throw badInput(`bot config: ${selectorFlag} needs --destination, the directory to write the SVIDs into (or --listen, to serve them on the Workload API)`)
  let selector: RawSelector
  try {
    selector =
      flags['name-selector'] !== undefined
        ? {name: flags['name-selector']}
        : {labels: Object.fromEntries(Object.entries(parseLabelSelector(flags['label-selector']!, '--label-selector')).map(([key, value]) => [key, [value]]))}
  } catch (error) {
    throw badInput(`bot config: ${(error as Error).message}`)
  }
  const at = `services[${raw.services?.length ?? 0}]`
  if (flags.listen !== undefined) {
    raw.services = [...(raw.services ?? []), {type: 'workload-identity-api', listen: flags.listen, selector}]
    fields.set(`${at}.selector`, selectorFlag).set(`${at}.listen`, '--listen')
    return
  }
  const common = {selector, destination: {type: 'directory' as const, path: destination!}}
  raw.services = [...(raw.services ?? []), audiences.length ? {type: 'workload-identity-jwt', ...common, audiences} : {type: 'workload-identity-x509', ...common}]
  fields.set(`${at}.selector`, selectorFlag).set(`${at}.destination`, '--destination').set(`${at}.audiences`, '--audience')
}

/** The configuration `-c FILE` and the flags describe together. */
export async function resolveBotConfig(flags: BotFlags & {config?: string}): Promise<BotConfig> {
  if (flags.config === undefined) return configFromFlags(flags)
  const {loadBotConfig} = await import('./config.js')
  return mergeFlags(await loadBotConfig(flags.config), flags)
}
