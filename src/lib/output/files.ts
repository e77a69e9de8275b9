/**
 * The one place that writes files. Every write is temp file + fsync + rename; keys and
 * tokens are 0600 and created directories 0700; a symlink, device or other foreign thing at
 * a target is never written through, and a file wid did not write is replaced only with
 * `force` (and never when it is not a regular file or symlink).
 *
 * Sets of files that belong together (an SVID's certificate and key) are published the
 * way Kubernetes publishes projected volumes: the files are written into a fresh hidden
 * version directory, `..data` is atomically re-pointed at it, and each visible name is a
 * symlink `name -> ..data/name`. At every instant the visible files are one consistent set.
 * (As with Kubernetes, a reader that resolved `..data` just before the swap may find the
 * old version gone when it opens a file: it gets ENOENT and reads again, never a torn pair.)
 * Writers to the same directory take turns through a lock file, so that each can safely
 * remove every version but the one it published.
 */
import {randomBytes} from 'node:crypto'
import {constants, promises as fs, type Stats} from 'node:fs'
import {basename, dirname, join, resolve} from 'node:path'
import {WidError} from '../errors.js'
import {lockHolder, lockText} from './lock-holder.js'
import {fileKind, shortPath} from './paths.js'
import {checkPrivateDirectory} from './private-dir.js'

export interface OutputFile {
  name: string
  data: string | Uint8Array
  mode: number
}

export interface WriteOptions {
  /** Replace a file that wid did not write. */
  force?: boolean
}

const DATA_LINK = '..data'
const LOCK_FILE = '..wid.lock'
const VERSION_NAME = /^\.\.\d{4}-\d{2}-\d{2}T\d{2}_\d{2}_\d{2}_\d{3}Z\.[0-9a-f]{8}$/
const BREAK_LOCK_FILE = '..wid.lock.break'
const LOCK_WAIT_MS = 30_000
/** A lock file with no pid in it after this long was left by a writer that died creating it. */
const STALE_EMPTY_LOCK_MS = 5_000

const ERRNO_REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ENOTDIR: 'a parent is not a directory',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  ENAMETOOLONG: 'the path is too long',
  ELOOP: 'too many levels of symbolic links',
  ENOENT: 'a parent directory does not exist',
  EEXIST: 'something else is in the way',
}

/** Why the file system refused, in words: the errno's reason, else the error's message. */
export function errnoReason(error: unknown): string {
  return ERRNO_REASONS[(error as NodeJS.ErrnoException).code ?? ''] ?? (error as Error).message ?? String(error)
}

export function ioError(path: string, error: unknown, verb = 'write'): WidError {
  if (error instanceof WidError) return error
  return new WidError('io', `output: cannot ${verb} ${shortPath(path)}: ${errnoReason(error)}`, {cause: error})
}

async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await fs.lstat(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw ioError(path, error, 'read')
  }
}

function checkName(dir: string): void {
  if (dir.trim() === '') throw new WidError('bad_input', 'output: the output path is empty')
}

export interface DirectoryUse {
  /** The directory only receives whole files renamed into place, so a sticky shared one like /tmp will do. */
  singleFiles?: boolean
}

/**
 * Fails early, before any work, when `dir` exists but is not a directory, or when someone
 * other than us or root could change it or a directory above it (see private-dir.ts).
 * Answers whether it exists.
 */
export async function checkOutputDirectory(dir: string, use: DirectoryUse = {}): Promise<boolean> {
  checkName(dir)
  let stat: Stats | undefined
  try {
    stat = await fs.stat(dir)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code !== 'ENOENT') throw ioError(dir, error)
    // Something there now that stat did not find: a dangling symlink, or a directory that a
    // concurrent writer made in between (then it is checked as found).
    const link = await lstatOrUndefined(dir)
    if (link?.isSymbolicLink() && !(await fs.stat(dir).catch(() => undefined))) throw new WidError('bad_input', `output: ${shortPath(dir)} is a dangling symlink`)
    if (link) stat = await fs.stat(dir).catch((again: unknown) => Promise.reject(ioError(dir, again)))
  }
  if (stat && !stat.isDirectory()) throw new WidError('bad_input', `output: ${shortPath(dir)} exists and is not a directory`)
  return checkPrivateDirectory(dir, {prefix: 'output', allowSticky: use.singleFiles})
}

/**
 * Creates `dir` (and missing parents) with mode 0700; returns the first directory it created,
 * if any. Parents are created one by one rather than with `recursive: true`, which spins
 * forever under some special file systems (e.g. /proc/1/x). A directory that someone else
 * made meanwhile is checked again.
 */
export async function ensureDirectory(dir: string, use: DirectoryUse = {}): Promise<string | undefined> {
  await checkOutputDirectory(dir, use)
  const missing: string[] = []
  for (let current = resolve(dir); ; current = dirname(current)) {
    if (await lstatOrUndefined(current)) break
    missing.unshift(current)
    if (dirname(current) === current) break
  }
  let created: string | undefined
  let raced = false
  try {
    for (const path of missing) {
      try {
        await fs.mkdir(path, {mode: 0o700})
        created ??= path
      } catch (error) {
        // another process made it meanwhile: fine, as long as it is a directory
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || !(await fs.stat(path)).isDirectory()) throw error
        raced = true
      }
    }
    if (raced) await checkOutputDirectory(dir, use)
  } catch (error) {
    if (created) await fs.rm(created, {recursive: true, force: true})
    throw ioError(dir, error)
  }
  return created
}

async function writeAndSync(path: string, data: string | Uint8Array, mode: number): Promise<void> {
  const handle = await fs.open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode)
  try {
    await handle.writeFile(data)
    await handle.chmod(mode)
    await handle.sync()
  } finally {
    await handle.close()
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await fs.open(dir, constants.O_RDONLY | constants.O_DIRECTORY)
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

const tempName = (name: string) => `.${name}.${randomBytes(6).toString('hex')}.tmp`

/** Writes one file atomically. An existing file (or symlink) is replaced only with `force`. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode: number, options: WriteOptions = {}): Promise<void> {
  checkName(path)
  const dir = dirname(path)
  const created = await ensureDirectory(dir, {singleFiles: true})
  const existing = await lstatOrUndefined(path)
  if (existing && !existing.isFile() && !existing.isSymbolicLink()) {
    throw new WidError('bad_input', `output: ${shortPath(path)} is ${existing.isDirectory() ? 'a directory' : 'not a regular file'}; refusing to replace it`)
  }
  if (existing && !options.force) {
    const what = existing.isSymbolicLink() ? 'is a symlink' : 'already exists'
    throw new WidError('already_exists', `output: ${shortPath(path)} ${what}; use --force to replace it`)
  }
  const temp = join(dir, tempName(basename(path)))
  try {
    await writeAndSync(temp, data, mode)
    await fs.rename(temp, path)
    await syncDirectory(dir)
  } catch (error) {
    await fs.rm(temp, {force: true})
    if (created) await fs.rm(created, {recursive: true, force: true})
    throw ioError(path, error)
  }
}

/** Whether `path` is one of our `name -> ..data/name` links. */
async function isOurLink(path: string, name: string): Promise<boolean> {
  try {
    return (await fs.readlink(path)) === join(DATA_LINK, name)
  } catch {
    return false
  }
}

/** The version `..data` points at, when `..data` is ours; throws when something else holds the name. */
async function currentVersion(dir: string, force: boolean): Promise<string | undefined> {
  const link = join(dir, DATA_LINK)
  const stat = await lstatOrUndefined(link)
  if (!stat) return undefined
  if (stat.isSymbolicLink()) {
    const target = await fs.readlink(link)
    const targetStat = VERSION_NAME.test(target) ? await lstatOrUndefined(join(dir, target)) : undefined
    if (targetStat?.isDirectory()) return target
  }
  if (!force) throw new WidError('already_exists', `output: ${shortPath(link)} was not written by wid; use --force to replace it`)
  if (stat.isDirectory()) throw new WidError('bad_input', `output: ${shortPath(link)} is a directory; refusing to replace it`)
  return undefined
}

/** Creates `path` holding our pid, or answers false when it already exists. */
async function createLockFile(path: string): Promise<boolean> {
  let handle: fs.FileHandle
  try {
    handle = await fs.open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw error
  }
  try {
    await handle.writeFile(lockText())
  } catch (error) {
    // Not left behind empty, which would hold every other writer up for STALE_EMPTY_LOCK_MS.
    await handle.close()
    await fs.rm(path, {force: true})
    throw error
  }
  await handle.close()
  return true
}

/**
 * Whether the lock at `path` is held by nobody: its holder has exited (its pid may name a
 * process started since, see lock-holder.ts), or it names no holder (one that died between
 * creating it and writing its pid) and is older than that could take. Answers the holder's
 * pid too, for messages.
 */
async function staleLock(path: string): Promise<{stale: boolean; holder: number}> {
  const [text, stat] = await Promise.all([fs.readFile(path, 'utf8').catch(() => undefined), lstatOrUndefined(path)])
  if (text === undefined || !stat) return {stale: false, holder: 0}
  const holder = lockHolder(text)
  if (holder.pid > 0) return {stale: !holder.alive, holder: holder.pid}
  return {stale: Date.now() - stat.mtimeMs > STALE_EMPTY_LOCK_MS, holder: 0}
}

/**
 * Removes a stale lock. Breakers take turns through a second lock and look again once they
 * hold it, so two waiters that both saw the same dead holder cannot both break the lock (the
 * second would otherwise remove the first one's fresh lock). Answers whether it broke it.
 */
async function breakStaleLock(dir: string, path: string): Promise<boolean> {
  const breaker = join(dir, BREAK_LOCK_FILE)
  if (!(await createLockFile(breaker))) {
    // A breaker that died while holding it (it does so for a few milliseconds) is cleared.
    if ((await staleLock(breaker)).stale) await fs.rm(breaker, {force: true})
    return false
  }
  try {
    if (!(await staleLock(path)).stale) return false
    await fs.rm(path, {force: true})
    return true
  } finally {
    await fs.rm(breaker, {force: true})
  }
}

/** Takes the directory's writer lock, waiting for a live holder and breaking a dead one's. */
export async function lockDirectory(dir: string): Promise<() => Promise<void>> {
  const path = join(dir, LOCK_FILE)
  const deadline = Date.now() + LOCK_WAIT_MS
  for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
    try {
      if (await createLockFile(path)) return () => fs.rm(path, {force: true})
      const {stale, holder} = await staleLock(path)
      if (stale && (await breakStaleLock(dir, path))) continue
      if (Date.now() > deadline) throw new WidError('unavailable', `output: ${shortPath(dir)} is locked by process ${holder || 'unknown'} (${LOCK_FILE})`)
    } catch (error) {
      throw ioError(dir, error)
    }
    await new Promise((resolve) => setTimeout(resolve, delay))
  }
}

/**
 * Publishes `files` in `dir` as one consistent set (see the module comment). Files that an
 * earlier call published and this one does not name are carried over unchanged.
 */
export async function writeFileSet(dir: string, files: OutputFile[], options: WriteOptions = {}): Promise<string[]> {
  const created = await ensureDirectory(dir)
  let unlock: (() => Promise<void>) | undefined
  let version: string | undefined
  try {
    unlock = await lockDirectory(dir)
    for (const file of files) {
      const path = join(dir, file.name)
      const stat = await lstatOrUndefined(path)
      if (!stat || (stat.isSymbolicLink() && (await isOurLink(path, file.name)))) continue
      if (!stat.isFile() && !stat.isSymbolicLink()) {
        throw new WidError('bad_input', `output: ${shortPath(path)} is ${stat.isDirectory() ? 'a directory' : 'not a regular file'}`)
      }
      if (!options.force) {
        const what = stat.isSymbolicLink() ? 'is a symlink wid did not create' : 'exists and was not written by wid'
        throw new WidError('already_exists', `output: ${shortPath(path)} ${what}; use --force to replace it`)
      }
    }
    const previous = await currentVersion(dir, options.force ?? false)
    version = `..${new Date().toISOString().replace(/[:.]/g, '_')}.${randomBytes(4).toString('hex')}`
    const versionDir = join(dir, version)
    await fs.mkdir(versionDir, {mode: 0o700})
    for (const file of files) await writeAndSync(join(versionDir, file.name), file.data, file.mode)
    if (previous) await carryOver(dir, previous, versionDir, new Set(files.map((f) => f.name)))
    await syncDirectory(versionDir)
    const dataTemp = join(dir, tempName(DATA_LINK))
    await fs.symlink(version, dataTemp)
    await fs.rename(dataTemp, join(dir, DATA_LINK))
    for (const file of files) {
      const path = join(dir, file.name)
      if (await isOurLink(path, file.name)) continue
      const linkTemp = join(dir, tempName(file.name))
      await fs.symlink(join(DATA_LINK, file.name), linkTemp)
      await fs.rename(linkTemp, path)
    }
    await syncDirectory(dir)
  } catch (error) {
    if (version && (await currentVersion(dir, true).catch(() => undefined)) !== version) {
      await fs.rm(join(dir, version), {recursive: true, force: true})
    }
    if (created) await fs.rm(created, {recursive: true, force: true})
    throw ioError(join(dir, files[0]?.name ?? ''), error)
  } finally {
    if (unlock) {
      await removeStale(dir, version)
      await unlock()
    }
  }
  return files.map((f) => join(dir, f.name))
}

/** Removes every version directory but the current one and temp files; best effort, under the lock. */
async function removeStale(dir: string, keep: string | undefined): Promise<void> {
  const current = (await currentVersion(dir, true).catch(() => undefined)) ?? keep
  const names = await fs.readdir(dir).catch(() => [] as string[])
  for (const name of names) {
    const stale = (VERSION_NAME.test(name) && name !== current) || /^\..*\.[0-9a-f]{12}\.tmp$/.test(name)
    if (stale) await fs.rm(join(dir, name), {recursive: true, force: true}).catch(() => undefined)
  }
}

/**
 * Copies the files of the previous version that the new set does not replace. They are
 * opened without following a symlink (nor waiting on a FIFO), and only a regular file is
 * copied: anything else in a version directory was put there by someone else, and is refused.
 */
async function carryOver(dir: string, previous: string, versionDir: string, replaced: Set<string>): Promise<void> {
  for (const name of await fs.readdir(join(dir, previous))) {
    if (replaced.has(name) || !(await isOurLink(join(dir, name), name))) continue
    const source = join(dir, previous, name)
    const refuse = (kind: string) => new WidError('bad_input', `output: ${shortPath(source)} is ${kind}, not a regular file; refusing to carry it over into the new set`)
    let handle: fs.FileHandle
    try {
      handle = await fs.open(source, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
    } catch (error) {
      throw (error as NodeJS.ErrnoException).code === 'ELOOP' ? refuse('a symlink') : error
    }
    try {
      const stat = await handle.stat()
      if (!stat.isFile()) throw refuse(fileKind(stat))
      await writeAndSync(join(versionDir, name), await handle.readFile(), stat.mode & 0o777)
    } finally {
      await handle.close()
    }
  }
}
