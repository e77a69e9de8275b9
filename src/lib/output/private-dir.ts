/**
 * Directories that nobody but us and root can change. Another user who can write the
 * directory wid writes SVIDs into (or one above it) can swap `svid_bundle.pem` for their own
 * CA; one who can write `$WID_HOME` can plant a login or a store. So, as ssh refuses a loose
 * `~/.ssh`, wid refuses such a directory with one line that says what is wrong and how to fix it.
 *
 * The rules (OpenSSH's, with Debian's "user-group-modes"):
 * - the directory is owned by us or root, and neither its group nor others may write it —
 *   except that group write is fine when the group is our private group (our primary group,
 *   with no other member in /etc/group nor another user whose primary group it is);
 * - so is each existing directory above it, where a sticky directory that others may write
 *   (like /tmp) is fine too: others cannot rename or remove our entries in it;
 * - when a symlink is on the way, the same holds for the directories of its real path;
 * - every symlink met on the way (the path itself, a directory above it, or one met while
 *   following another link) is owned by us or root: its owner can re-point it at any time, say
 *   from a directory of ours (which the checks saw) to one of theirs once we have written. This
 *   is the kernel's protected_symlinks rule for sticky directories like /tmp, applied
 *   everywhere, since not every host turns that rule on (fs.protected_symlinks=0).
 * Cost: one lstat per path component (twice when a symlink is on the way, plus a readlink per
 * link), a few microseconds in all, done synchronously; the group and passwd files are read
 * only for a group-writable directory of our own group.
 */
import {lstatSync, readFileSync, readlinkSync, type Stats} from 'node:fs'
import {dirname, isAbsolute, join, resolve} from 'node:path'
import {WidError} from '../errors.js'
import {shortPath} from './paths.js'

export interface PrivateDirectoryOptions {
  /** The package prefix of messages (`output`, `backend`, `login`). */
  prefix: string
  /** What the directory is to the user, shown after its path: `WID_HOME`. */
  label?: string
  /**
   * The directory only ever receives whole files renamed into place (no lock files or
   * version directories), so a sticky one that others may write, like /tmp, is fine.
   */
  allowSticky?: boolean
}

interface Identity {
  uid: number
  privateGroup: (gid: number) => boolean
}

/**
 * Whether `gid` is the private group of user `uid`: its primary group, listing no other
 * member in the group file, and the primary group of no other user in the passwd file.
 */
export function isPrivateGroup(gid: number, uid: number, groupFile: string, passwdFile: string): boolean {
  const users = passwdFile.split('\n').map((line) => line.split(':'))
  const self = users.find((fields) => fields.length >= 4 && Number(fields[2]) === uid && fields[2] !== '')
  if (!self || Number(self[3]) !== gid) return false
  if (users.some((fields) => fields.length >= 4 && Number(fields[3]) === gid && fields[3] !== '' && Number(fields[2]) !== uid)) return false
  const group = groupFile
    .split('\n')
    .map((line) => line.split(':'))
    .find((fields) => fields.length >= 4 && Number(fields[2]) === gid && fields[2] !== '')
  if (!group) return false
  const members = group[3]!.trim() === '' ? [] : group[3]!.trim().split(',')
  return members.every((member) => member === self[0])
}

function currentIdentity(): Identity | undefined {
  if (typeof process.geteuid !== 'function') return undefined
  const uid = process.geteuid()
  const answers = new Map<number, boolean>()
  const privateGroup = (gid: number): boolean => {
    let answer = answers.get(gid)
    if (answer === undefined) {
      try {
        answer = isPrivateGroup(gid, uid, readFileSync('/etc/group', 'utf8'), readFileSync('/etc/passwd', 'utf8'))
      } catch {
        answer = false
      }
      answers.set(gid, answer)
    }
    return answer
  }
  return {uid, privateGroup}
}

const octal = (stat: Stats) => (stat.mode & 0o7777).toString(8).padStart(4, '0')

/** What is wrong with one directory, with the command that fixes it; undefined when nothing is. */
function looseness(stat: Stats, path: string, identity: Identity, allowSticky: boolean): string | undefined {
  if (stat.uid !== identity.uid && stat.uid !== 0) return `is owned by another user (uid ${stat.uid}); choose a directory of your own`
  if (allowSticky && (stat.mode & 0o1000) !== 0) return undefined
  if ((stat.mode & 0o002) !== 0) return `is writable by others (mode ${octal(stat)}); chmod go-w ${shortPath(path)}, or choose another directory`
  if ((stat.mode & 0o020) !== 0 && !identity.privateGroup(stat.gid)) {
    return `is writable by group ${stat.gid} (mode ${octal(stat)}); chmod g-w ${shortPath(path)}, or choose another directory`
  }
  return undefined
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path)
  } catch {
    // Missing (or unreachable, which the write itself then reports): nothing to check here.
    return undefined
  }
}

/** `path` and every directory above it, deepest first. */
function lineage(path: string): string[] {
  const paths = [path]
  for (let current = path; dirname(current) !== current; current = dirname(current)) paths.push(dirname(current))
  return paths
}

/** Symlinks followed before giving up, as the kernel's ELOOP. */
const MAX_LINKS = 40

/**
 * Resolves `absolute` link by link, as the kernel does, handing each symlink met to `onLink`.
 * Answers the real path of the part that exists, and whether that is all of `absolute`.
 */
function resolveLinks(absolute: string, onLink: (link: string, stat: Stats) => void): {real: string; complete: boolean; linked: boolean} {
  const pending = absolute.split('/').filter((part) => part !== '')
  let current = '/'
  let links = 0
  while (pending.length > 0) {
    const part = pending.shift()!
    if (part === '.') continue
    if (part === '..') {
      current = dirname(current)
      continue
    }
    const next = join(current, part)
    const stat = lstatOrUndefined(next)
    if (!stat) return {real: current, complete: false, linked: links > 0}
    if (!stat.isSymbolicLink()) {
      current = next
      continue
    }
    onLink(next, stat)
    let target: string
    try {
      target = readlinkSync(next)
    } catch {
      return {real: current, complete: false, linked: true}
    }
    if (++links > MAX_LINKS) return {real: current, complete: false, linked: true}
    if (isAbsolute(target)) current = '/'
    pending.unshift(...target.split('/').filter((p) => p !== ''))
  }
  return {real: current, complete: true, linked: links > 0}
}

/**
 * Refuses `path` (as a directory wid writes into or keeps state in) when someone other than
 * us or root could change it or a directory above it; see the module comment. Answers
 * whether `path` exists, so that a caller that then creates it can check again afterwards
 * (someone may have made it in between, in a sticky directory like /tmp).
 */
export function checkPrivateDirectory(path: string, options: PrivateDirectoryOptions): boolean {
  const absolute = resolve(path)
  const identity = currentIdentity()
  const stats = lineage(absolute).map(lstatOrUndefined)
  const exists = stats[0] !== undefined
  if (!identity) return exists
  const name = `${shortPath(path)}${options.label ? ` (${options.label})` : ''}`
  const check = (dir: string, stat: Stats, isTarget: boolean) => {
    const problem = looseness(stat, dir, identity, !isTarget || (options.allowSticky ?? false))
    if (problem === undefined) return
    const which = isTarget ? name : `${shortPath(dir)}, a parent of ${name},`
    throw new WidError('bad_input', `${options.prefix}: ${which} ${problem}`)
  }
  lineage(absolute).forEach((dir, index) => {
    const stat = stats[index]
    if (stat?.isDirectory()) check(dir, stat, index === 0)
  })
  if (!stats.some((stat) => stat?.isSymbolicLink())) return exists
  const resolved = resolveLinks(absolute, (link, stat) => {
    if (stat.uid === identity.uid || stat.uid === 0) return
    const which = link === absolute ? `${name} is a symlink owned by another user (uid ${stat.uid}),` : `${shortPath(link)}, a symlink on the way to ${name}, is owned by another user (uid ${stat.uid}),`
    throw new WidError('bad_input', `${options.prefix}: ${which} who can re-point it at any time; choose another directory`)
  })
  const realStats = lineage(resolved.real).map(lstatOrUndefined)
  lineage(resolved.real).forEach((dir, index) => {
    const stat = realStats[index]
    if (stat?.isDirectory()) check(dir, stat, index === 0 && resolved.complete)
  })
  return exists
}
