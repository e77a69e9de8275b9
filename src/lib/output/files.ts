/**
 * The one place that writes files. Every write is temp file + fsync + rename; keys and
 * tokens are 0600 and created directories 0700; a symlink or foreign file at a target is
 * never written through, and a file wid did not write is replaced only with `force`.
 *
 * Sets of files that belong together (an SVID's certificate and key) are published the
 * way Kubernetes publishes projected volumes: the files are written into a fresh hidden
 * version directory, `..data` is atomically re-pointed at it, and each visible name is a
 * symlink `name -> ..data/name`. At every instant the visible files are one consistent set.
 * (As with Kubernetes, a reader that resolved `..data` just before the swap may find the
 * old version gone when it opens a file: it gets ENOENT and reads again, never a torn pair.)
 */
import {randomBytes} from 'node:crypto'
import {constants, promises as fs} from 'node:fs'
import {basename, dirname, join} from 'node:path'
import {WidError} from '../errors.js'

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

function ioError(path: string, error: unknown): WidError {
  if (error instanceof WidError) return error
  const code = (error as NodeJS.ErrnoException).code
  const reason =
    code === 'EACCES' || code === 'EPERM'
      ? 'permission denied'
      : code === 'ENOTDIR'
        ? 'a parent is not a directory'
        : code === 'ENOSPC'
          ? 'no space left on device'
          : code === 'EROFS'
            ? 'read-only file system'
            : ((error as Error).message ?? String(error))
  return new WidError('io', `output: cannot write ${path}: ${reason}`, {cause: error})
}

async function lstatOrUndefined(path: string) {
  try {
    return await fs.lstat(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw ioError(path, error)
  }
}

/** Fails early, before any work, when `dir` exists but is not a directory. */
export async function checkOutputDirectory(dir: string): Promise<void> {
  let stat
  try {
    stat = await fs.stat(dir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
    throw ioError(dir, error)
  }
  if (!stat.isDirectory()) throw new WidError('bad_input', `output: ${dir} exists and is not a directory`)
}

/** Creates `dir` (and missing parents) with mode 0700. */
export async function ensureDirectory(dir: string): Promise<void> {
  await checkOutputDirectory(dir)
  try {
    await fs.mkdir(dir, {recursive: true, mode: 0o700})
  } catch (error) {
    throw ioError(dir, error)
  }
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
  const dir = dirname(path)
  await ensureDirectory(dir)
  const existing = await lstatOrUndefined(path)
  if (existing?.isDirectory()) throw new WidError('bad_input', `output: ${path} is a directory`)
  if (existing && !options.force) {
    const what = existing.isSymbolicLink() ? 'is a symlink' : 'already exists'
    throw new WidError('already_exists', `output: ${path} ${what}; use --force to replace it`)
  }
  const temp = join(dir, tempName(basename(path)))
  try {
    await writeAndSync(temp, data, mode)
    await fs.rename(temp, path)
    await syncDirectory(dir)
  } catch (error) {
    await fs.rm(temp, {force: true})
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

async function currentVersion(dir: string): Promise<string | undefined> {
  try {
    const target = await fs.readlink(join(dir, DATA_LINK))
    return target.startsWith('..') && !target.includes('/') ? target : undefined
  } catch {
    return undefined
  }
}

/**
 * Publishes `files` in `dir` as one consistent set (see the module comment). Files that an
 * earlier call published and this one does not name are carried over unchanged.
 */
export async function writeFileSet(dir: string, files: OutputFile[], options: WriteOptions = {}): Promise<string[]> {
  await ensureDirectory(dir)
  for (const file of files) {
    const path = join(dir, file.name)
    const stat = await lstatOrUndefined(path)
    if (!stat || (stat.isSymbolicLink() && (await isOurLink(path, file.name)))) continue
    if (stat.isDirectory()) throw new WidError('bad_input', `output: ${path} is a directory`)
    if (!options.force) {
      const what = stat.isSymbolicLink() ? 'is a symlink wid did not create' : 'exists and was not written by wid'
      throw new WidError('already_exists', `output: ${path} ${what}; use --force to replace it`)
    }
  }
  const previous = await currentVersion(dir)
  const version = `..${new Date().toISOString().replace(/[:.]/g, '_')}.${randomBytes(4).toString('hex')}`
  const versionDir = join(dir, version)
  const dataTemp = join(dir, tempName(DATA_LINK))
  try {
    await fs.mkdir(versionDir, {mode: 0o700})
    for (const file of files) await writeAndSync(join(versionDir, file.name), file.data, file.mode)
    if (previous) await carryOver(dir, previous, versionDir, new Set(files.map((f) => f.name)))
    await syncDirectory(versionDir)
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
    await fs.rm(dataTemp, {force: true})
    if ((await currentVersion(dir)) !== version) await fs.rm(versionDir, {recursive: true, force: true})
    throw ioError(join(dir, files[0]?.name ?? ''), error)
  }
  if (previous && previous !== version) await fs.rm(join(dir, previous), {recursive: true, force: true})
  return files.map((f) => join(dir, f.name))
}

async function carryOver(dir: string, previous: string, versionDir: string, replaced: Set<string>): Promise<void> {
  let names: string[]
  try {
    names = await fs.readdir(join(dir, previous))
  } catch {
    return
  }
  for (const name of names) {
    if (replaced.has(name) || !(await isOurLink(join(dir, name), name))) continue
    await fs.copyFile(join(dir, previous, name), join(versionDir, name), constants.COPYFILE_EXCL)
    const {mode} = await fs.stat(join(dir, previous, name))
    await fs.chmod(join(versionDir, name), mode & 0o777)
  }
}
