/**
 * `wid backup`: the whole cluster (cluster config, CA and JWT keys, resources, users, bots
 * and their instances, tokens, login state, audit) written to one file from a consistent
 * snapshot while servers and commands keep writing. restore.ts loads it back.
 */
import {existsSync, lstatSync, realpathSync, rmSync} from 'node:fs'
import {open, rename, type FileHandle} from 'node:fs/promises'
import {basename, dirname, join, resolve} from 'node:path'
import type {Backend} from '../backend/backend.js'
import {openStorage, type StorageSettings} from '../backend/open.js'
import {randomHex} from '../crypto/random.js'
import {WidError, badInput} from '../errors.js'
import {databasePath} from '../home.js'
import {errnoReason} from '../output/files.js'
import {fileKind, shortPath} from '../output/paths.js'
import {getClusterConfig} from '../services/cluster-config.js'
import {BackupWriter} from './format.js'

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

/** The store a command acts on: the one a server configuration names, else the embedded one in `home`. */
export async function storeLocation(configFile: string | undefined, home: string): Promise<StoreLocation> {
  if (configFile === undefined) return {storage: {type: 'sqlite'}, home}
  const {configuredStorage} = await import('../server/config.js')
  const {storage, dataDir} = await configuredStorage(configFile)
  return {storage, home: dataDir ?? home}
}

async function openExisting(location: StoreLocation): Promise<Backend> {
  const noCluster = () => new WidError('not_found', `backup: no cluster in ${location.storage.type === 'sqlite' ? location.home : 'the configured database'} to back up`)
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

/** A path as the file system names it: its directory's real path, and its own name. */
function realPath(path: string): string | undefined {
  try {
    return join(realpathSync(dirname(resolve(path))), basename(path))
  } catch {
    return undefined
  }
}

/**
 * `out` must be a file to replace, or nothing yet: never a device, a pipe, a directory or a
 * link (renaming over them would replace them: /dev/null with a file of CA keys), nor a file
 * the backup needs (the store itself, the passphrase file).
 */
function checkOut(out: string, location: StoreLocation, keep: string[]): void {
  const name = shortPath(out)
  if (/\/$/.test(out)) throw badInput(`backup: --out ${name} names a directory; give the path of the file to write`)
  try {
    const stat = lstatSync(out)
    if (!stat.isFile()) throw badInput(`backup: --out ${name} is ${fileKind(stat)}, not a regular file; give the path of the file to write`)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOTDIR') throw badInput(`backup: cannot write ${name}: a part of its path is not a directory`)
    if (code !== 'ENOENT') throw error
  }
  const target = realPath(out)
  const store = location.storage.type === 'sqlite' ? realPath(databasePath(location.home)) : undefined
  const needed = [...(store ? [store, `${store}-wal`, `${store}-shm`] : []), ...keep.map(realPath)]
  if (target !== undefined && needed.includes(target)) throw badInput(`backup: --out ${name} is a file the backup reads (the store, or the passphrase file); write the backup elsewhere`)
}

/** Removes `paths` if the process is interrupted meanwhile (SIGINT, SIGTERM); call the result once done. */
export function removeOnSignal(paths: string[]): () => void {
  const handlers = (['SIGINT', 'SIGTERM'] as const).map((signal) => {
    const handler = () => {
      for (const path of paths) rmSync(path, {force: true})
      process.exit(signal === 'SIGINT' ? 130 : 143)
    }
    process.once(signal, handler)
    return [signal, handler] as const
  })
  return () => {
    for (const [signal, handler] of handlers) process.off(signal, handler)
  }
}

/**
 * Writes the snapshot to a new file beside `out` (0600, created exclusively) and renames it
 * onto `out` once it is whole and synced, then syncs the directory: `out` is the old backup
 * or the new one, never half of one, also after a crash.
 */
export async function backupCluster(
  location: StoreLocation,
  out: string,
  options: {passphrase?: string; passphraseFile?: string; version: string; now?: Date},
): Promise<BackupResult> {
  checkOut(out, location, options.passphraseFile === undefined ? [] : [options.passphraseFile])
  const backend = await openExisting(location)
  const partial = join(dirname(out), `.${basename(out)}.partial-${randomHex(6)}`)
  const done = removeOnSignal([partial])
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
    await rename(partial, out)
    const directory = await open(dirname(resolve(out)), 'r')
    await directory.sync().finally(() => directory.close())
    return {file: out, clusterName, items: written.items, revision: written.revision, encrypted: options.passphrase !== undefined, created}
  } catch (error) {
    await file?.close().catch(() => undefined)
    rmSync(partial, {force: true})
    throw error instanceof WidError ? error : fileError(error, `backup: cannot write ${shortPath(out)}`)
  } finally {
    done()
    await backend.close()
  }
}

/** A file-system refusal as one line after `what`; the backup's own paths name a missing directory and a directory in the way plainly. */
export function fileError(error: unknown, what: string): WidError {
  const code = (error as NodeJS.ErrnoException).code
  const reason = code === 'ENOENT' ? 'no such directory' : code === 'EISDIR' ? 'it is a directory' : errnoReason(error)
  return new WidError('io', `${what}: ${reason}`, {cause: error})
}
