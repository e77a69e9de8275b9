/**
 * The file writer (src/lib/output/files.ts): atomic single files that never follow or
 * clobber what wid did not write, and Kubernetes-style file sets published via `..data`.
 */
import {spawn, spawnSync} from 'node:child_process'
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import {tmpdir} from 'node:os'
import {basename, join} from 'node:path'
import {Worker} from 'node:worker_threads'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {lockDirectory, writeFileAtomic, writeFileSet, type OutputFile} from '../../../src/lib/output/files.js'
import {rejection} from '../../helpers/errors.js'

let root: string

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'wid-files-'))
})

afterEach(() => {
  rmSync(root, {recursive: true, force: true})
})

const mode = (path: string) => statSync(path).mode & 0o777
const lmode = (path: string) => lstatSync(path).mode & 0o777

/** Every entry below `dir` (hidden ones too) with its kind and content or link target. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (path: string, rel: string) => {
    for (const name of readdirSync(path).sort()) {
      const full = join(path, name)
      const key = rel ? `${rel}/${name}` : name
      const stat = lstatSync(full)
      if (stat.isSymbolicLink()) out[key] = `link -> ${readlinkSync(full)}`
      else if (stat.isDirectory()) {
        out[key] = `dir ${(stat.mode & 0o777).toString(8)}`
        walk(full, key)
      } else out[key] = `file ${(stat.mode & 0o777).toString(8)} ${readFileSync(full, 'utf8')}`
    }
  }
  walk(dir, '')
  return out
}

/** Names below `dir` that look like the writer's temporary files. */
function tempFiles(dir: string): string[] {
  return (readdirSync(dir, {recursive: true}) as string[]).filter((name) => name.endsWith('.tmp'))
}

/** The hidden version directories (`..<timestamp>.<random>`) in `dir`. */
function versionDirs(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.startsWith('..') && name !== '..data')
}

describe('writeFileAtomic', () => {
  it('creates missing parent directories 0700 and the file with the given mode', async () => {
    // Given a path two directories deep that do not exist yet
    const key = join(root, 'out', 'keys', 'svid.key')
    const cert = join(root, 'out', 'keys', 'svid.pem')
    // When a key (0600, string data) and a certificate (0644, byte data) are written
    await writeFileAtomic(key, 'secret key', 0o600)
    await writeFileAtomic(cert, new TextEncoder().encode('certificate ✓'), 0o644)
    // Then the directories are 0700 and each file has its content and mode
    expect(mode(join(root, 'out'))).toBe(0o700)
    expect(mode(join(root, 'out', 'keys'))).toBe(0o700)
    expect(readFileSync(key, 'utf8')).toBe('secret key')
    expect(mode(key)).toBe(0o600)
    expect(readFileSync(cert, 'utf8')).toBe('certificate ✓')
    expect(mode(cert)).toBe(0o644)
    // And nothing else was left in the directory
    expect(readdirSync(join(root, 'out', 'keys')).sort()).toEqual(['svid.key', 'svid.pem'])
  })

  it('gives the file exactly the requested mode, whatever the umask', async () => {
    // Given a process umask that would strip group write (022 by default; set explicitly here)
    const previous = process.umask(0o022)
    try {
      // When a file is written with a group-writable mode
      const path = join(root, 'shared.pem')
      await writeFileAtomic(path, 'x', 0o664)
      // Then the mode is exactly the requested one
      expect(mode(path)).toBe(0o664)
    } finally {
      process.umask(previous)
    }
  })

  it('refuses to replace an existing file without force, and replaces it with force', async () => {
    // Given an existing file
    const path = join(root, 'token.jwt')
    writeFileSync(path, 'old', {mode: 0o644})
    // When it is written without force
    const error = await rejection(writeFileAtomic(path, 'new', 0o600))
    // Then the write is refused with already_exists, pointing at --force, and the file is unchanged
    expect(error.code).toBe('already_exists')
    expect(error.message).toContain(path)
    expect(error.message).toContain('--force')
    expect(readFileSync(path, 'utf8')).toBe('old')
    expect(mode(path)).toBe(0o644)
    // When it is written with force
    await writeFileAtomic(path, 'new', 0o600, {force: true})
    // Then the content and mode are the new ones and no temp file is left
    expect(readFileSync(path, 'utf8')).toBe('new')
    expect(mode(path)).toBe(0o600)
    expect(readdirSync(root)).toEqual(['token.jwt'])
  })

  it('refuses a directory as the target, even with force', async () => {
    // Given a directory at the target path
    const path = join(root, 'bundle.pem')
    mkdirSync(path)
    writeFileSync(join(path, 'inside'), 'x')
    // When it is written, with and without force
    for (const options of [{}, {force: true}]) {
      const error = await rejection(writeFileAtomic(path, 'data', 0o644, options))
      // Then it is refused as a directory and the directory is intact
      expect(error.code).toBe('bad_input')
      expect(error.message).toContain('is a directory')
      expect(lstatSync(path).isDirectory()).toBe(true)
      expect(readFileSync(join(path, 'inside'), 'utf8')).toBe('x')
    }
    expect(tempFiles(root)).toEqual([])
  })

  it('refuses a parent path that is not a directory', async () => {
    // Given a regular file where the parent directory should be
    writeFileSync(join(root, 'out'), 'a file')
    // When a file is written beneath it
    const error = await rejection(writeFileAtomic(join(root, 'out', 'svid.pem'), 'data', 0o644))
    // Then it is refused naming the parent, which is unchanged
    expect(error.code).toBe('bad_input')
    expect(error.message).toContain('is not a directory')
    expect(readFileSync(join(root, 'out'), 'utf8')).toBe('a file')
  })

  it('never writes through a symlink at the target', async () => {
    // Given a symlink at the target that points at someone else's file
    const victim = join(root, 'victim.txt')
    writeFileSync(victim, 'precious', {mode: 0o644})
    const path = join(root, 'out', 'svid.key')
    mkdirSync(join(root, 'out'))
    symlinkSync(victim, path)
    // When it is written without force
    const error = await rejection(writeFileAtomic(path, 'attacker-controlled?', 0o600))
    // Then it is refused as a symlink and neither the link nor the pointed-to file changed
    expect(error.code).toBe('already_exists')
    expect(error.message).toContain('symlink')
    expect(error.message).toContain('--force')
    expect(readlinkSync(path)).toBe(victim)
    expect(readFileSync(victim, 'utf8')).toBe('precious')
    // When it is written with force
    await writeFileAtomic(path, 'new key', 0o600, {force: true})
    // Then the link itself was replaced by a regular file and the pointed-to file is still untouched
    expect(lstatSync(path).isSymbolicLink()).toBe(false)
    expect(lstatSync(path).isFile()).toBe(true)
    expect(readFileSync(path, 'utf8')).toBe('new key')
    expect(lmode(path)).toBe(0o600)
    expect(readFileSync(victim, 'utf8')).toBe('precious')
    expect(mode(victim)).toBe(0o644)
  })

  it('replaces a dangling symlink only with force, without creating its target', async () => {
    // Given a symlink to a path that does not exist
    const target = join(root, 'nowhere', 'created-by-accident')
    const path = join(root, 'svid.pem')
    symlinkSync(target, path)
    // When it is written without and then with force
    expect((await rejection(writeFileAtomic(path, 'x', 0o644))).code).toBe('already_exists')
    await writeFileAtomic(path, 'x', 0o644, {force: true})
    // Then the link became a regular file and the link's target was never created
    expect(lstatSync(path).isFile()).toBe(true)
    expect(() => lstatSync(target)).toThrow()
  })

  it('leaves no temp file behind when the write fails', async () => {
    // Given a directory with one existing file
    writeFileSync(join(root, 'keep'), 'k')
    // When a write fails after its temp file was created (the data cannot be written)
    const error = await rejection(writeFileAtomic(join(root, 'svid.pem'), {bogus: true} as unknown as string, 0o644))
    // Then it fails as an io error and the directory holds exactly what it held before
    expect(error.code).toBe('io')
    expect(readdirSync(root)).toEqual(['keep'])
  })
})

const files = (version: string, names = ['cert.pem', 'key.pem']): OutputFile[] =>
  names.map((name) => ({name, data: `${name} v${version}`, mode: name.startsWith('key') ? 0o600 : 0o644}))

describe('writeFileSet', () => {
  it('publishes a first set as ..data plus one symlink per file', async () => {
    // Given an output directory that does not exist yet
    const dir = join(root, 'svid')
    // When a certificate (0644) and a key (0600) are published
    const paths = await writeFileSet(dir, files('1'))
    // Then the visible names are symlinks into ..data, which points at one hidden 0700 version directory
    expect(paths).toEqual([join(dir, 'cert.pem'), join(dir, 'key.pem')])
    expect(mode(dir)).toBe(0o700)
    const [version] = versionDirs(dir)
    expect(versionDirs(dir)).toHaveLength(1)
    expect(readlinkSync(join(dir, '..data'))).toBe(version)
    expect(lmode(join(dir, version!))).toBe(0o700)
    expect(readlinkSync(join(dir, 'cert.pem'))).toBe(join('..data', 'cert.pem'))
    expect(readlinkSync(join(dir, 'key.pem'))).toBe(join('..data', 'key.pem'))
    // And the files read through the links have their content and modes
    expect(readFileSync(join(dir, 'cert.pem'), 'utf8')).toBe('cert.pem v1')
    expect(readFileSync(join(dir, 'key.pem'), 'utf8')).toBe('key.pem v1')
    expect(mode(join(dir, 'cert.pem'))).toBe(0o644)
    expect(mode(join(dir, 'key.pem'))).toBe(0o600)
    // And nothing else is in the directory
    expect(readdirSync(dir).sort()).toEqual(['..data', version, 'cert.pem', 'key.pem'].sort())
  })

  it('replaces the contents on a second publish and removes the old version directory', async () => {
    // Given a published set
    const dir = join(root, 'svid')
    await writeFileSet(dir, files('1'))
    const [first] = versionDirs(dir)
    // When a new set with the same names is published
    await writeFileSet(dir, files('2'))
    // Then the visible files show the new contents through the same links
    expect(readFileSync(join(dir, 'cert.pem'), 'utf8')).toBe('cert.pem v2')
    expect(readFileSync(join(dir, 'key.pem'), 'utf8')).toBe('key.pem v2')
    expect(readlinkSync(join(dir, 'cert.pem'))).toBe(join('..data', 'cert.pem'))
    // And the old version directory is gone, leaving exactly one (the one ..data points at)
    const versions = versionDirs(dir)
    expect(versions).toHaveLength(1)
    expect(versions[0]).not.toBe(first)
    expect(readlinkSync(join(dir, '..data'))).toBe(versions[0])
    expect(readdirSync(dir).sort()).toEqual(['..data', versions[0], 'cert.pem', 'key.pem'].sort())
  })

  it('carries over files of an earlier set that the new set does not name', async () => {
    // Given a published set of three files
    const dir = join(root, 'svid')
    await writeFileSet(dir, files('1', ['cert.pem', 'key.pem', 'bundle.pem']))
    // When a set naming only the certificate is published
    await writeFileSet(dir, files('2', ['cert.pem']))
    // Then the certificate is new and the other two are carried over with their content and mode
    expect(readFileSync(join(dir, 'cert.pem'), 'utf8')).toBe('cert.pem v2')
    expect(readFileSync(join(dir, 'key.pem'), 'utf8')).toBe('key.pem v1')
    expect(readFileSync(join(dir, 'bundle.pem'), 'utf8')).toBe('bundle.pem v1')
    expect(mode(join(dir, 'key.pem'))).toBe(0o600)
    expect(mode(join(dir, 'bundle.pem'))).toBe(0o644)
    // And they live in the new version directory, the old one being gone
    const versions = versionDirs(dir)
    expect(versions).toHaveLength(1)
    expect(readdirSync(join(dir, versions[0]!)).sort()).toEqual(['bundle.pem', 'cert.pem', 'key.pem'])
    // When yet another partial set is published
    await writeFileSet(dir, files('3', ['key.pem']))
    // Then the carried-over files are carried over again
    expect(readFileSync(join(dir, 'cert.pem'), 'utf8')).toBe('cert.pem v2')
    expect(readFileSync(join(dir, 'key.pem'), 'utf8')).toBe('key.pem v3')
    expect(readFileSync(join(dir, 'bundle.pem'), 'utf8')).toBe('bundle.pem v1')
  })

  it('refuses to carry over a file of the earlier set that is a symlink, never copying its target', async () => {
    // Given a published set whose version directory someone then changed: key.pem became a
    // symlink to a secret, bundle.pem a FIFO
    const secret = join(root, 'secret')
    writeFileSync(secret, 'the secret', {mode: 0o600})
    const dir = join(root, 'svid')
    await writeFileSet(dir, files('1', ['cert.pem', 'key.pem']))
    const version = join(dir, readlinkSync(join(dir, '..data')))
    rmSync(join(version, 'key.pem'))
    symlinkSync(secret, join(version, 'key.pem'))
    // When a set naming only the certificate is published
    const error = await rejection(writeFileSet(dir, files('2', ['cert.pem'])))
    // Then it is refused naming the planted file, and the secret was copied nowhere
    expect(error.code).toBe('bad_input')
    expect(error.message).toBe(`output: ${join(version, 'key.pem')} is a symlink, not a regular file; refusing to carry it over into the new set`)
    expect(readFileSync(join(dir, 'cert.pem'), 'utf8')).toBe('cert.pem v1')
    expect(versionDirs(dir)).toEqual([basename(version)])
    const copies = readdirSync(dir, {recursive: true, withFileTypes: true}).filter((e) => e.isFile() && readFileSync(join(e.parentPath, e.name), 'utf8') === 'the secret')
    expect(copies).toEqual([])
    // And a FIFO is refused the same way, without waiting for a writer
    rmSync(join(version, 'key.pem'))
    spawnSync('mkfifo', [join(version, 'key.pem')])
    expect((await rejection(writeFileSet(dir, files('2', ['cert.pem'])))).message).toMatch(/key\.pem is a FIFO, not a regular file; refusing to carry it over/)
  })

  it('refuses a foreign regular file at a target name without force, changing nothing', async () => {
    // Given a published set and a foreign file at a name the next set uses
    const dir = join(root, 'svid')
    await writeFileSet(dir, files('1', ['cert.pem']))
    writeFileSync(join(dir, 'key.pem'), 'someone else’s key', {mode: 0o600})
    const before = snapshot(dir)
    // When a set of cert.pem (ours) and key.pem (foreign) is published without force
    const error = await rejection(writeFileSet(dir, files('2')))
    // Then it is refused naming the foreign file and pointing at --force
    expect(error.code).toBe('already_exists')
    expect(error.message).toContain(join(dir, 'key.pem'))
    expect(error.message).toContain('--force')
    // And nothing in the directory changed, not even the file that was ours
    expect(snapshot(dir)).toEqual(before)
    // When it is published with force
    await writeFileSet(dir, files('2'), {force: true})
    // Then the foreign file became one of our links
    expect(readlinkSync(join(dir, 'key.pem'))).toBe(join('..data', 'key.pem'))
    expect(readFileSync(join(dir, 'key.pem'), 'utf8')).toBe('key.pem v2')
    expect(tempFiles(dir)).toEqual([])
  })

  it('refuses a foreign symlink at a target name without force and never writes through it', async () => {
    // Given a symlink at a target name that points outside
    const victim = join(root, 'victim')
    writeFileSync(victim, 'precious')
    const dir = join(root, 'svid')
    mkdirSync(dir, {mode: 0o700})
    symlinkSync(victim, join(dir, 'key.pem'))
    const before = snapshot(dir)
    // When a set is published without force
    const error = await rejection(writeFileSet(dir, files('1')))
    // Then it is refused as a symlink wid did not create, and nothing changed
    expect(error.code).toBe('already_exists')
    expect(error.message).toContain('symlink')
    expect(snapshot(dir)).toEqual(before)
    // When it is published with force
    await writeFileSet(dir, files('1'), {force: true})
    // Then the link was replaced by ours and the pointed-to file is untouched
    expect(readlinkSync(join(dir, 'key.pem'))).toBe(join('..data', 'key.pem'))
    expect(readFileSync(victim, 'utf8')).toBe('precious')
  })

  it('refuses a directory at a target name, even with force', async () => {
    // Given a directory where a file of the set should go
    const dir = join(root, 'svid')
    mkdirSync(join(dir, 'cert.pem'), {recursive: true})
    const before = snapshot(dir)
    // When a set is published with force
    const error = await rejection(writeFileSet(dir, files('1'), {force: true}))
    // Then it is refused and nothing changed
    expect(error.code).toBe('bad_input')
    expect(error.message).toContain('is a directory')
    expect(snapshot(dir)).toEqual(before)
  })

  it('leaves no temp files or version directories behind after a failed publish', async () => {
    // Given a published set
    const dir = join(root, 'svid')
    await writeFileSet(dir, files('1'))
    const before = snapshot(dir)
    // When a publish fails halfway (the same name twice: the second write of it fails)
    const error = await rejection(
      writeFileSet(dir, [
        {name: 'cert.pem', data: 'new', mode: 0o644},
        {name: 'cert.pem', data: 'newer', mode: 0o644},
      ]),
    )
    // Then it is an io error, and the directory is exactly as it was: no temp files, no new version directory
    expect(error.code).toBe('io')
    expect(snapshot(dir)).toEqual(before)
    expect(tempFiles(dir)).toEqual([])
    expect(readFileSync(join(dir, 'cert.pem'), 'utf8')).toBe('cert.pem v1')
  })

  it('leaves no temp files behind after many successful publishes', async () => {
    // Given a directory that had several sets published into it
    const dir = join(root, 'svid')
    for (let i = 0; i < 5; i++) await writeFileSet(dir, files(String(i)))
    // Then only ..data, one version directory and the links remain
    expect(tempFiles(dir)).toEqual([])
    expect(readdirSync(dir).sort()).toEqual(['..data', ...versionDirs(dir), 'cert.pem', 'key.pem'].sort())
    expect(versionDirs(dir)).toHaveLength(1)
  })

  it('never shows a reader a torn pair while 200 sets are published', async () => {
    // Given a first published set {a: 0, b: 0}
    const dir = join(root, 'pair')
    const pair = (n: number): OutputFile[] => [
      {name: 'a', data: String(n), mode: 0o644},
      {name: 'b', data: String(n), mode: 0o644},
    ]
    await writeFileSet(dir, pair(0))
    // And a reader on its own thread that reads a, then b, then a again, as fast as it can
    const stop = new Int32Array(new SharedArrayBuffer(4))
    const reader = new Worker(
      `
      const {workerData, parentPort} = require('node:worker_threads')
      const {readFileSync} = require('node:fs')
      const {join} = require('node:path')
      const stop = new Int32Array(workerData.stop)
      const read = (name) => readFileSync(join(workerData.dir, name), 'utf8')
      const result = {rounds: 0, checked: 0, torn: [], missing: 0, values: new Set()}
      while (Atomics.load(stop, 0) === 0) {
        result.rounds++
        try {
          const a1 = read('a'), b = read('b'), a2 = read('a')
          if (a1 !== a2) continue
          result.checked++
          result.values.add(a1)
          if (b !== a1) result.torn.push([a1, b, a2])
        } catch (error) {
          if (error.code !== 'ENOENT') throw error
          result.missing++
        }
      }
      parentPort.postMessage({...result, torn: result.torn.slice(0, 10), tornCount: result.torn.length, values: result.values.size})
      `,
      {eval: true, workerData: {dir, stop: stop.buffer}},
    )
    const report = new Promise<{rounds: number; checked: number; torn: string[][]; tornCount: number; missing: number; values: number}>(
      (resolve, reject) => {
        reader.once('message', resolve)
        reader.once('error', reject)
      },
    )
    // When a writer publishes {a: n, b: n} for n = 1..200
    try {
      for (let n = 1; n <= 200; n++) await writeFileSet(dir, pair(n))
    } finally {
      Atomics.store(stop, 0, 1)
    }
    const result = await report
    await reader.terminate()
    // Then whenever both reads of a agreed, b agreed with them: no torn pair was ever seen
    expect(result.torn).toEqual([])
    expect(result.tornCount).toBe(0)
    // And the reader really ran alongside the writer, observing many different sets
    expect(result.checked).toBeGreaterThanOrEqual(20)
    expect(result.values).toBeGreaterThanOrEqual(5)
    // (result.missing is not asserted: a read that resolved ..data to the previous version just
    // before that version directory was removed fails with ENOENT. Kubernetes' atomic writer has
    // the same window; it shows up only under heavy load and never yields a torn pair.)
    // And the final state is the last set, with nothing left over
    expect(readFileSync(join(dir, 'a'), 'utf8')).toBe('200')
    expect(readFileSync(join(dir, 'b'), 'utf8')).toBe('200')
    expect(versionDirs(dir)).toHaveLength(1)
    expect(tempFiles(dir)).toEqual([])
  })
})

describe('writeFileSet: the writer lock', () => {
  /** The pid of a process that has exited. */
  const exitedPid = () => spawnSync(process.execPath, ['-e', '0']).pid!

  /** Both files of the set name the same version. */
  const consistentVersion = (dir: string) => {
    const cert = readFileSync(join(dir, 'cert.pem'), 'utf8')
    const key = readFileSync(join(dir, 'key.pem'), 'utf8')
    expect(key.replace('key.pem', 'cert.pem')).toBe(cert)
    return cert
  }

  it('lets one holder at a time through when 20 waiters find the lock of a writer that exited', async () => {
    // Given a directory locked by a process that has exited
    const dir = join(root, 'holders')
    mkdirSync(dir)
    writeFileSync(join(dir, '..wid.lock'), String(exitedPid()))
    // When 20 waiters take the lock at once, each holding it for a moment
    let holding = 0
    let most = 0
    await Promise.all(
      Array.from({length: 20}, async () => {
        const unlock = await lockDirectory(dir)
        most = Math.max(most, ++holding)
        await new Promise((resolve) => setTimeout(resolve, 2))
        holding--
        await unlock()
      }),
    )
    // Then never more than one held it (the dead holder's lock was broken once, not by each)
    expect(most).toBe(1)
    expect(readdirSync(dir)).toEqual([])
  })

  it('breaks the lock of a writer that exited exactly once while 20 writers wait on it', async () => {
    // Given a published set and a lock left by a process that has exited
    const dir = join(root, 'stale')
    await writeFileSet(dir, files('0'))
    writeFileSync(join(dir, '..wid.lock'), String(exitedPid()))
    // When 20 writers publish at once
    await Promise.all(Array.from({length: 20}, (_, i) => writeFileSet(dir, files(String(i + 1)))))
    // Then each took the lock in turn: the visible set is one of theirs and whole, exactly one
    // version directory remains, and no lock file is left
    expect(consistentVersion(dir)).toMatch(/^cert\.pem v\d+$/)
    expect(readdirSync(dir).filter((name) => name.startsWith('..wid.lock'))).toEqual([])
    expect(versionDirs(dir)).toHaveLength(1)
  })

  it.runIf(existsSync('/proc/self/stat'))('breaks the lock of a writer whose pid now names a process started since (after a crash and a reboot)', async () => {
    // Given a lock naming a live process, but with a start that is not that process's
    const dir = join(root, 'reused-pid')
    await writeFileSet(dir, files('0'))
    const other = spawn('sleep', ['30'], {stdio: 'ignore'})
    try {
      writeFileSync(join(dir, '..wid.lock'), `${other.pid} 00000000-0000-0000-0000-000000000000/1`)
      // When a writer publishes
      await writeFileSet(dir, files('1'))
      // Then it broke the lock at once, instead of waiting for it and giving up
      expect(consistentVersion(dir)).toBe('cert.pem v1')
      expect(readdirSync(dir).filter((name) => name.startsWith('..wid.lock'))).toEqual([])
    } finally {
      other.kill('SIGKILL')
    }
  })

  it('breaks a lock that names no holder once it is older than a writer takes to fill it in', async () => {
    // Given a lock file with no pid in it, written 10 s ago by a writer that died creating it
    const dir = join(root, 'empty-lock')
    await writeFileSet(dir, files('0'))
    const lockPath = join(dir, '..wid.lock')
    writeFileSync(lockPath, '')
    const old = new Date(Date.now() - 10_000)
    utimesSync(lockPath, old, old)
    // When a writer publishes, then it breaks that lock and succeeds
    await writeFileSet(dir, files('1'))
    expect(consistentVersion(dir)).toBe('cert.pem v1')
    expect(existsSync(lockPath)).toBe(false)
  })
})

describe('directories others can change (see private-dir.test.ts for the rules)', () => {
  it('refuses to publish a set into a directory others may write, writing nothing', async () => {
    // Given an existing output directory with mode 0777
    const dir = join(root, 'svid')
    mkdirSync(dir)
    chmodSync(dir, 0o777)
    // When a set is published into it
    const error = await rejection(writeFileSet(dir, files('1')))
    // Then it is refused and the directory stays empty
    expect(error.code).toBe('bad_input')
    expect(error.message).toBe(`output: ${dir} is writable by others (mode 0777); chmod go-w ${dir}, or choose another directory`)
    expect(readdirSync(dir)).toEqual([])
  })

  it('creates nothing below a parent others may write', async () => {
    const parent = join(root, 'shared')
    mkdirSync(parent)
    chmodSync(parent, 0o777)
    expect((await rejection(writeFileAtomic(join(parent, 'a', 'b', 'file'), 'x', 0o600))).message).toMatch(/shared, a parent of .*\/a\/b, is writable by others/)
    expect(readdirSync(parent)).toEqual([])
  })

  it('writes a single file into a sticky directory others may write, like /tmp', async () => {
    const sticky = join(root, 'tmp')
    mkdirSync(sticky)
    chmodSync(sticky, 0o1777)
    await writeFileAtomic(join(sticky, 'bundle.pem'), 'pem', 0o644)
    expect(readFileSync(join(sticky, 'bundle.pem'), 'utf8')).toBe('pem')
    expect((await rejection(writeFileSet(sticky, files('1')))).message).toMatch(/is writable by others \(mode 1777\)/)
  })
})
