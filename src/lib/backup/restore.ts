/**
 * `wid restore`: a backup (backup.ts) loaded into an empty store in one transaction, every
 * item with its revision, so that the restored cluster is the same trust domain with the
 * same keys and the same bundle sequence.
 */
import {constants, existsSync, linkSync, rmSync, statSync} from 'node:fs'
import {open, stat, type FileHandle} from 'node:fs/promises'
import {join} from 'node:path'
import {StoreNotEmpty, type Backend, type Item} from '../backend/backend.js'
import {openStorage} from '../backend/open.js'
import {SqliteBackend} from '../backend/sqlite.js'
import {randomHex} from '../crypto/random.js'
import {WidError, badInput} from '../errors.js'
import {databasePath} from '../home.js'
import {fileKind, shortPath} from '../output/paths.js'
import {authorityKey} from '../services/authorities.js'
import {CLUSTER_CONFIG_KEY, getClusterConfig, RESTORE_MARK_KEY, type RestoreMark} from '../services/cluster-config.js'
import {fileError, removeOnSignal, type StoreLocation} from './backup.js'
import {BackupError, BackupReader, type BackupHeader} from './format.js'

export interface RestoreResult {
  file: string
  clusterName: string
  items: number
  encrypted: boolean
  /** When the backup was taken. */
  created: string
  /** Where the cluster now is (the SQLite file, or the database without its password). */
  to: string
}

/** How the passphrase is had: `given` when the user named one (a file), else asked only if the backup needs one. */
export interface PassphraseSource {
  given: boolean
  get(header: BackupHeader): Promise<string>
}

/** The keys without which a store is no cluster: a backup that lacks one is refused. */
const REQUIRED_KEYS = [CLUSTER_CONFIG_KEY, ...(['spiffe', 'jwt', 'host', 'client'] as const).map(authorityKey)]

/** Opens a backup and reads its header: one line if it is not a regular file or not a backup. */
async function openBackup(path: string): Promise<{reader: BackupReader; close(): Promise<void>}> {
  const name = shortPath(path)
  let file: FileHandle
  try {
    // Looked at before it is opened (opening a FIFO would wait for a writer), and opened without blocking anyway
    const kind = await stat(path)
    if (!kind.isFile()) throw badInput(`restore: ${name} is ${fileKind(kind)}, not a regular file`)
    file = await open(path, constants.O_RDONLY | constants.O_NONBLOCK)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw badInput(`restore: ${name} does not exist`)
    throw error instanceof WidError ? error : fileError(error, `restore: cannot read ${name}`)
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
 * whole and sound. An embedded store that does not exist yet is built under another name and
 * linked into place only once it is complete, so that nothing else ever sees (or creates a
 * cluster in) a half-restored one.
 */
export async function restoreCluster(location: StoreLocation, path: string, passphrase: PassphraseSource, now = new Date()): Promise<RestoreResult> {
  const name = shortPath(path)
  const {reader, close} = await openBackup(path)
  try {
    if (reader.encrypted) await reader.unlock(await passphrase.get(reader.header))
    else if (passphrase.given) {
      throw badInput(`restore: ${name} is not encrypted, yet a passphrase was given (was an unencrypted file put in place of an encrypted backup?); if you trust it, restore it without --passphrase-file`)
    }
    const pages = checkedPages(reader.pages(), reader.header, now)
    const sqlite = location.storage.type === 'sqlite' ? databasePath(location.home) : undefined
    const {items, clusterName, to} =
      sqlite !== undefined && !existsSync(sqlite) ? await loadIntoNewFile(sqlite, reader.header.revision, pages) : await loadInto(await openStorage(location.storage, location.home), reader.header.revision, pages)
    // (the restore's own mark is no item of the backup)
    return {file: path, clusterName, items: items - 1, encrypted: reader.encrypted, created: reader.header.created, to}
  } catch (error) {
    if (error instanceof StoreNotEmpty) {
      throw new WidError('already_exists', `restore: ${error.message}; restore into a new, empty ${location.storage.type === 'sqlite' ? 'WID_HOME' : 'database'}`)
    }
    throw explain(error, name)
  } finally {
    await close()
  }
}

async function loadInto(backend: Backend, revision: number, pages: AsyncIterable<Item[]>): Promise<{items: number; clusterName: string; to: string}> {
  try {
    const {items} = await backend.load(revision, pages)
    return {items, clusterName: (await getClusterConfig(backend))!.clusterName, to: backend.location}
  } finally {
    await backend.close()
  }
}

/** Built as `.wid.db.restoring-…` beside the store, closed (its WAL checkpointed away), then linked to the store's name, which must still be free. */
async function loadIntoNewFile(path: string, revision: number, pages: AsyncIterable<Item[]>): Promise<{items: number; clusterName: string; to: string}> {
  const building = join(path, '..', `.wid.db.restoring-${randomHex(6)}`)
  const files = ['', '-wal', '-shm'].map((suffix) => `${building}${suffix}`)
  const done = removeOnSignal(files)
  try {
    const result = await loadInto(await SqliteBackend.open(building), revision, pages)
    if (existsSync(`${building}-wal`) && statSync(`${building}-wal`).size > 0) throw new WidError('internal', `restore: ${building} kept a write-ahead log after closing`)
    try {
      linkSync(building, path)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw fileError(error, `restore: cannot create ${path}`)
      throw new WidError('already_exists', `restore: ${path} was created while the backup was restored (a wid command or server used WID_HOME meanwhile); nothing was restored`)
    }
    return {...result, to: path}
  } finally {
    for (const file of files) rmSync(file, {force: true})
    done()
  }
}

/**
 * The backup's items, checked as they pass: keys in strictly increasing (UTF-8 byte) order,
 * so no key twice; no revision above the header's (the counter it sets); every key a
 * cluster needs present. Then the mark of this restore (RestoreMark) under the backup's
 * revision, in place of any mark of an earlier restore: a bot instance not written since may
 * present a generation ahead of the restored one (renewBot).
 */
async function* checkedPages(pages: AsyncIterable<Item[]>, header: BackupHeader, now: Date): AsyncGenerator<Item[]> {
  const damaged = (why: string) => new BackupError('damaged', `damaged (${why})`)
  const required = new Set(REQUIRED_KEYS)
  let previous: Buffer | undefined
  for await (const page of pages) {
    for (const item of page) {
      const key = Buffer.from(item.key, 'utf8')
      if (previous !== undefined && Buffer.compare(previous, key) >= 0) throw damaged(`its keys are out of order or repeated at ${JSON.stringify(item.key)}`)
      if (item.revision > header.revision) throw damaged(`an item's revision is above the backup's`)
      previous = key
      required.delete(item.key)
    }
    yield page.filter((item) => item.key !== RESTORE_MARK_KEY)
  }
  if (required.size > 0) throw damaged(`it holds no cluster: ${[...required].join(', ')} missing`)
  const mark: RestoreMark = {at: now.toISOString(), backupCreated: header.created, revision: header.revision}
  yield [{key: RESTORE_MARK_KEY, value: JSON.stringify(mark), revision: header.revision}]
}
