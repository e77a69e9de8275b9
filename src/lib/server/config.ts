/** `wid server start` settings: a YAML file (checked against schemas/server-config.json), then flags. */
import {readFile} from 'node:fs/promises'
import {resolve} from 'node:path'
import {WidError} from '../errors.js'
import {FieldError, parseResourceStream} from '../resources/parse.js'
import {validateConfig} from '../resources/schema.js'
import type {StorageSettings} from '../backend/open.js'
import {parseDiagAddr} from '../diag-server.js'

export interface ServerSettings {
  host: string
  port: number
  publicAddr?: string
  dataDir?: string
  tlsCertFile?: string
  tlsKeyFile?: string
  /** PEM CA certificates trusted, besides the system's, to fetch the keys of private issuers of delegated join tokens. */
  joinCaFile?: string
  logLevel: string
  storage: StorageSettings
  /** HOST:PORT (checked) of the plain-HTTP diagnostics endpoints: /healthz, /readyz, /metrics. */
  diagAddr?: string
}

export const DEFAULT_LISTEN = '0.0.0.0:3443'

export function parseListen(value: string, where: string): {host: string; port: number} {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+):(\d{1,5})$/.exec(value.trim())
  const port = Number(match?.[2])
  if (!match || port > 65535) throw new WidError('bad_input', `${where}: invalid listen address "${value}" (expected HOST:PORT, e.g. 0.0.0.0:3443)`)
  return {host: match[1]!.replace(/^\[|\]$/g, ''), port}
}

interface FileConfig {
  listen?: string
  public_addr?: string
  data_dir?: string
  storage?: {type: 'sqlite' | 'postgresql'; conn_string?: string; pool_size?: number}
  tls?: {cert_file: string; key_file: string}
  join?: {ca_file?: string}
  log?: {level?: string}
  diag_addr?: string
}

async function readConfigFile(path: string): Promise<FileConfig> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    const reasons: Record<string, string> = {ENOENT: 'no such file', EISDIR: 'it is a directory (give the YAML file)', EACCES: 'permission denied'}
    throw new WidError(code === 'ENOENT' ? 'not_found' : 'io', `server: cannot read ${path}: ${reasons[code ?? ''] ?? (error as Error).message}`)
  }
  const [document, extra] = parseResourceStream(text, path)
  if (extra) throw new WidError('bad_input', `${extra.locate([])}: the configuration must be a single document`)
  const value = document?.value ?? {}
  try {
    await validateConfig('server-config', value)
  } catch (error) {
    if (error instanceof FieldError) throw new WidError('bad_input', `${document!.locate(error.path, error.atKey)}: ${error.message}`)
    throw error
  }
  const {storage} = value as FileConfig
  if (storage?.type === 'postgresql' && storage.conn_string === undefined) {
    throw new WidError('bad_input', `${document!.locate(['storage'])}: storage.conn_string: needed with type postgresql (e.g. postgresql://wid@db.example.com:5432/wid)`)
  }
  if (storage?.type === 'sqlite' && (storage.conn_string !== undefined || storage.pool_size !== undefined)) {
    const field = storage.conn_string !== undefined ? 'conn_string' : 'pool_size'
    throw new WidError('bad_input', `${document!.locate(['storage', field], true)}: storage.${field}: only with type postgresql (sqlite keeps its database in data_dir)`)
  }
  return value as FileConfig
}

function storageSettings(file: FileConfig): StorageSettings {
  const {storage} = file
  if (storage?.type !== 'postgresql') return {type: 'sqlite'}
  return {type: 'postgresql', connString: storage.conn_string!, ...(storage.pool_size === undefined ? {} : {poolSize: storage.pool_size})}
}

export interface ServerFlags {
  config?: string
  listen?: string
  publicAddr?: string
  dataDir?: string
  tlsCert?: string
  tlsKey?: string
  diagAddr?: string
}

/** The store a server's configuration names, for admin commands run with `-c wid.yaml` on its host (as tctl on an auth server). */
export async function configuredStorage(path: string): Promise<{storage: StorageSettings; dataDir?: string}> {
  const {storage, dataDir} = await serverSettings({config: path})
  return {storage, ...(dataDir === undefined ? {} : {dataDir})}
}

/** The file's settings with the flags on top; paths in the file are relative to the file. */
export async function serverSettings(flags: ServerFlags): Promise<ServerSettings> {
  const file = flags.config === undefined ? {} : await readConfigFile(flags.config)
  const base = flags.config === undefined ? process.cwd() : resolve(flags.config, '..')
  const listenValue = flags.listen ?? file.listen ?? DEFAULT_LISTEN
  const {host, port} = parseListen(listenValue, flags.listen !== undefined ? '--listen' : flags.config ?? 'default')
  const tlsCertFile = flags.tlsCert ?? (file.tls ? resolve(base, file.tls.cert_file) : undefined)
  const tlsKeyFile = flags.tlsKey ?? (file.tls ? resolve(base, file.tls.key_file) : undefined)
  if ((tlsCertFile === undefined) !== (tlsKeyFile === undefined)) throw new WidError('bad_input', 'server: give both --tls-cert and --tls-key, or neither')
  const diagAddr = flags.diagAddr ?? file.diag_addr
  if (diagAddr !== undefined) parseDiagAddr(diagAddr, flags.diagAddr !== undefined ? 'server: --diag-addr' : `server: ${flags.config}: diag_addr`)
  return {
    host,
    port,
    publicAddr: flags.publicAddr ?? file.public_addr,
    dataDir: flags.dataDir ?? (file.data_dir === undefined ? undefined : resolve(base, file.data_dir)),
    tlsCertFile,
    tlsKeyFile,
    joinCaFile: file.join?.ca_file === undefined ? undefined : resolve(base, file.join.ca_file),
    logLevel: file.log?.level ?? 'info',
    storage: storageSettings(file),
    ...(diagAddr === undefined ? {} : {diagAddr}),
  }
}
