/**
 * `wid backup` and `wid restore`: the whole cluster (cluster config, CA and JWT keys,
 * resources, users, bots and their instances, tokens, login state, audit) written to one
 * file from a consistent snapshot while servers and commands keep writing, and loaded back
 * into an empty store in one transaction, every item with its revision, so that the
 * restored cluster is the same trust domain with the same keys and the same bundle sequence.
 */
import {existsSync, rmSync} from 'node:fs'
import {open, rename, rm, type FileHandle} from 'node:fs/promises'
import {basename, dirname, join} from 'node:path'
import {StoreNotEmpty, type Backend, type Item} from '../backend/backend.js'
import {openStorage, type StorageSettings} from '../backend/open.js'
import {randomHex} from '../crypto/random.js'
import {WidError, badInput} from '../errors.js'
import {databasePath} from '../home.js'
import {readBounded} from '../output/read.js'
import {shortPath} from '../output/paths.js'
import {getClusterConfig, RESTORE_MARK_KEY, type RestoreMark} from '../services/cluster-config.js'
import {BackupError, BackupReader, BackupWriter, type BackupHeader} from './format.js'

/** Long enough that guessing it offline, even at scrypt's cost, is out of reach. */
export const MIN_PASSPHRASE_LENGTH = 12

export interface StoreLocation {
  storage: StorageSettings
  /** The data directory of an embedded (SQLite) store. */
  home: string
}

export interface BackupResult {
  file: string
  clusterName: string
  items: number
  encrypted: boolean
  /** The store's revision as of the snapshot. */
  revision: number
  created: string
}

export interface RestoreResult {
  file: string
  clusterName: string
  items: number
  /** When the backup was taken. */
  created: string
  /** Where the cluster now is (the SQLite file, or the database without its password). */
  to: string
}

export function checkPassphrase(passphrase: string, prefix: string): string {
  if (passphrase.length < MIN_PASSPHRASE_LENGTH) throw badInput(`${prefix}: the passphrase is too short (at least ${MIN_PASSPHRASE_LENGTH} characters)`)
  return passphrase
}

/** The first line of a file, without its line ending. */
export async function readPassphraseFile(path: string, prefix: string): Promise<string> {
  const content = await readBounded(path, {prefix, maxBytes: 64 * 1024, what: 'a passphrase file', pipeTimeoutMs: 10_000})
  if (content === undefined) throw badInput(`${prefix}: the passphrase file ${shortPath(path)} does not exist`)
  const passphrase = content.toString('utf8').split(/\r?\n/)[0]!
  if (passphrase === '') throw badInput(`${prefix}: the passphrase file ${shortPath(path)} is empty`)
  return passphrase
}

async function openExisting(location: StoreLocation, prefix: string): Promise<Backend> {
  const noCluster = () => new WidError('not_found', `${prefix}: no cluster in ${location.storage.type === 'sqlite' ? location.home : 'the configured database'} to back up`)
  // Opening a data directory that has no database would create one
  if (location.storage.type === 'sqlite' && !existsSync(databasePath(location.home))) throw noCluster()
  const backend = await openStorage(location.storage, location.home)
  try {
    if (!(await getClusterConfig(backend))) throw noCluster()
    return backend
  } catch (error) {
    await backend.close()
    throw error
  }
}

/**
 * Writes the snapshot to a new file beside `out` (0600, created exclusively) and renames it
 * onto `out` once it is whole and synced: `out` is the old backup or the new one, never half.
 */
export async function backupCluster(location: StoreLocation, out: string, options: {passphrase?: string; version: string; now?: Date}): Promise<BackupResult> {
  const backend = await openExisting(location, 'backup')
  const partial = join(dirname(out), `.${basename(out)}.partial-${randomHex(6)}`)
  let file: FileHandle | undefined
  try {
    const {clusterName} = (await getClusterConfig(backend))!
    try {
      file = await open(partial, 'wx', 0o600)
    } catch (error) {
      throw fileError(error, `backup: cannot write ${shortPath(out)}`)
    }
    const created = (options.now ?? new Date()).toISOString()
    const written = await backend.readSnapshot(async (revision, pages) => {
      const writer = await BackupWriter.start(file!, {created, wid_version: options.version, cluster_name: clusterName, source: backend.kind, revision}, options.passphrase)
      for await (const page of pages) await writer.writeItems(page)
      return {items: await writer.end(), revision}
    })
    await file.sync()
    await file.close()
    file = undefined
    await rename(partial, out).catch((error: unknown) => {
      throw fileError(error, `backup: cannot write ${shortPath(out)}`)
    })
    return {file: out, clusterName, items: written.items, revision: written.revision, encrypted: options.passphrase !== undefined, created}
  } catch (error) {
    await file?.close().catch(() => undefined)
    await rm(partial, {force: true})
    throw error instanceof WidError ? error : fileError(error, `backup: cannot write ${shortPath(out)}`)
  } finally {
    await backend.close()
  }
}

function fileError(error: unknown, what: string): WidError {
  const code = (error as NodeJS.ErrnoException).code
  const reason =
    code === 'ENOENT' ? 'no such directory' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'ENOSPC' ? 'no space left on device' : code === 'EISDIR' ? 'it is a directory' : (error as Error).message
  return new WidError('io', `${what}: ${reason}`, {cause: error})
}

/** Opens a backup and reads its header: one line if it is not a regular file or not a backup. */
export async function openBackup(path: string): Promise<{reader: BackupReader; close(): Promise<void>}> {
  const name = shortPath(path)
  let file: FileHandle
  try {
    file = await open(path, 'r')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw code === 'ENOENT' ? badInput(`restore: ${name} does not exist`) : fileError(error, `restore: cannot read ${name}`)
  }
  try {
    if (!(await file.stat()).isFile()) throw badInput(`restore: ${name} is not a regular file`)
    return {reader: await BackupReader.open(file), close: () => file.close()}
  } catch (error) {
    await file.close()
    throw explain(error, name)
  }
}

/** A problem of the file in one line that names it. */
function explain(error: unknown, name: string): unknown {
  if (!(error instanceof BackupError)) return error
  return new WidError(error.code, `restore: ${name} is ${error.message}; nothing was restored`)
}

/**
 * Loads a backup into the empty store of `location`, all or nothing: the items are checked
 * as they are loaded, and the transaction commits only once the end of the file proved it
 * whole and sound. A data directory that had no database before is left without one when
 * the restore fails.
 */
export async function restoreCluster(
  location: StoreLocation,
  path: string,
  passphrase: (header: BackupHeader) => Promise<string>,
  now = new Date(),
): Promise<RestoreResult> {
  const name = shortPath(path)
  const {reader, close} = await openBackup(path)
  try {
    if (reader.encrypted) await reader.unlock(await passphrase(reader.header))
    const sqlite = location.storage.type === 'sqlite' ? databasePath(location.home) : undefined
    const created = sqlite !== undefined && !existsSync(sqlite)
    const backend = await openStorage(location.storage, location.home)
    let restored = false
    try {
      const {items} = await backend.load(reader.header.revision, withRestoreMark(reader.pages(), reader.header, now))
      const config = await getClusterConfig(backend)
      restored = true
      // (the restore's own mark is no item of the backup)
      return {file: path, clusterName: config?.clusterName ?? reader.header.cluster_name, items: items - 1, created: reader.header.created, to: backend.location}
    } catch (error) {
      if (error instanceof StoreNotEmpty) throw new WidError('already_exists', `restore: ${error.message}; restore into a new, empty ${sqlite ? 'WID_HOME' : 'database'}`)
      throw error
    } finally {
      await backend.close()
      if (!restored && created) for (const suffix of ['', '-wal', '-shm']) rmSync(`${sqlite}${suffix}`, {force: true})
    }
  } catch (error) {
    throw explain(error, name)
  } finally {
    await close()
  }
}

/**
 * The backup's items, and the mark of this restore (RestoreMark) under the backup's revision,
 * in place of any mark of an earlier restore: a bot instance not written since then may
 * present a generation ahead of the restored one, once (renewBot).
 */
async function* withRestoreMark(pages: AsyncIterable<Item[]>, header: BackupHeader, now: Date): AsyncGenerator<Item[]> {
  for await (const page of pages) yield page.filter((item) => item.key !== RESTORE_MARK_KEY)
  const mark: RestoreMark = {at: now.toISOString(), backupCreated: header.created, revision: header.revision}
  yield [{key: RESTORE_MARK_KEY, value: JSON.stringify(mark), revision: header.revision}]
}

/** The store a command acts on: the one a server configuration names, else the embedded one in `home`. */
export async function storeLocation(configFile: string | undefined, home: string): Promise<StoreLocation> {
  if (configFile === undefined) return {storage: {type: 'sqlite'}, home}
  const {configuredStorage} = await import('../server/config.js')
  const {storage, dataDir} = await configuredStorage(configFile)
  return {storage, home: dataDir ?? home}
}
