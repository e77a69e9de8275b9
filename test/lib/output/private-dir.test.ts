/**
 * The rules for directories wid writes into or keeps state in (src/lib/output/private-dir.ts):
 * ours or root's, writable by nobody else, and so is every directory above them. Runs as
 * root (like CI); uid 65534 and group 100 stand for another user and a shared group.
 */
import {chmodSync, chownSync, lchownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {checkPrivateDirectory, isPrivateGroup} from '../../../src/lib/output/private-dir.js'
import {refusal} from '../../helpers/errors.js'

let root: string

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'wid-private-'))
})

afterEach(() => {
  rmSync(root, {recursive: true, force: true})
})

/** A directory below `root` with this mode (and owner and group, when given). */
function dir(name: string, mode: number, owner?: {uid?: number; gid?: number}): string {
  const path = join(root, name)
  mkdirSync(path, {recursive: true})
  chmodSync(path, mode)
  if (owner) chownSync(path, owner.uid ?? 0, owner.gid ?? 0)
  return path
}

const output = {prefix: 'output'}

describe('checkPrivateDirectory', () => {
  it('accepts a directory of ours that only we can write, and a missing one below it', () => {
    // Given a 0700 directory of ours (and root's private group's 0770 one)
    const own = dir('own', 0o700)
    const privateGroup = dir('group', 0o770, {gid: 0})
    // When checked, Then nothing is refused, and whether it exists is answered
    expect(checkPrivateDirectory(own, output)).toBe(true)
    expect(checkPrivateDirectory(privateGroup, output)).toBe(true)
    expect(checkPrivateDirectory(join(own, 'new', 'deeper'), output)).toBe(false)
  })

  it("refuses a directory owned by another user, saying whose it is", () => {
    // Given a directory of uid 65534, writable by nobody else
    const theirs = dir('theirs', 0o700, {uid: 65534, gid: 65534})
    // When checked, Then it is refused as bad input
    const error = refusal(() => checkPrivateDirectory(theirs, output))
    expect(error.code).toBe('bad_input')
    expect(error.message).toBe(`output: ${theirs} is owned by another user (uid 65534); choose a directory of your own`)
  })

  it('refuses a directory others may write, naming its mode and the chmod that fixes it', () => {
    const loose = dir('loose', 0o777)
    const error = refusal(() => checkPrivateDirectory(loose, output))
    expect(error.code).toBe('bad_input')
    expect(error.message).toBe(`output: ${loose} is writable by others (mode 0777); chmod go-w ${loose}, or choose another directory`)
  })

  it('refuses a directory writable by a shared group', () => {
    // Given a 0770 directory of group 100 ("users"), which is not root's private group
    const shared = dir('shared', 0o770, {gid: 100})
    const error = refusal(() => checkPrivateDirectory(shared, output))
    expect(error.message).toBe(`output: ${shared} is writable by group 100 (mode 0770); chmod g-w ${shared}, or choose another directory`)
  })

  it('refuses a sticky directory others may write as the directory itself, unless whole files only are put there', () => {
    // Given a /tmp-like directory
    const sticky = dir('sticky', 0o1777)
    // When it is to hold a file set, Then it is refused
    expect((refusal(() => checkPrivateDirectory(sticky, output))).message).toMatch(/is writable by others \(mode 1777\)/)
    // When it only receives single files renamed into place, Then it is accepted
    expect(checkPrivateDirectory(sticky, {...output, allowSticky: true})).toBe(true)
  })

  it('refuses a directory below a parent that others may write, and accepts one below a sticky parent', () => {
    // Given a parent 0777 without the sticky bit, and one with it
    const loose = dir('loose', 0o777)
    const sticky = dir('sticky', 0o1777)
    mkdirSync(join(loose, 'svid'), {mode: 0o700})
    mkdirSync(join(sticky, 'svid'), {mode: 0o700})
    // When the directories below them are checked (existing or not)
    const below = refusal(() => checkPrivateDirectory(join(loose, 'svid'), output))
    const missing = refusal(() => checkPrivateDirectory(join(loose, 'new'), output))
    // Then the loose parent is named, and the sticky one is fine
    expect(below.message).toBe(`output: ${loose}, a parent of ${join(loose, 'svid')}, is writable by others (mode 0777); chmod go-w ${loose}, or choose another directory`)
    expect(missing.message).toMatch(/, a parent of .*new, is writable by others/)
    expect(checkPrivateDirectory(join(sticky, 'svid'), output)).toBe(true)
    expect(checkPrivateDirectory(join(sticky, 'new'), output)).toBe(false)
  })

  it('refuses a parent owned by another user, even one nobody else may write', () => {
    const theirs = dir('theirs', 0o755, {uid: 65534})
    mkdirSync(join(theirs, 'svid'), {mode: 0o700})
    const error = refusal(() => checkPrivateDirectory(join(theirs, 'svid'), output))
    expect(error.message).toBe(`output: ${theirs}, a parent of ${join(theirs, 'svid')}, is owned by another user (uid 65534); choose a directory of your own`)
  })

  it('follows a symlink on the way and checks the real directories too', () => {
    // Given a safe link to a directory below a loose parent, and one to a loose directory
    const loose = dir('loose', 0o777)
    mkdirSync(join(loose, 'svid'), {mode: 0o700})
    const safe = dir('safe', 0o700)
    symlinkSync(join(loose, 'svid'), join(safe, 'link'))
    symlinkSync(loose, join(safe, 'to-loose'))
    // When checked through the links, Then the real parent and the real directory are refused
    expect((refusal(() => checkPrivateDirectory(join(safe, 'link'), output))).message).toBe(
      `output: ${loose}, a parent of ${join(safe, 'link')}, is writable by others (mode 0777); chmod go-w ${loose}, or choose another directory`,
    )
    expect((refusal(() => checkPrivateDirectory(join(safe, 'to-loose'), output))).message).toBe(
      `output: ${join(safe, 'to-loose')} is writable by others (mode 0777); chmod go-w ${loose}, or choose another directory`,
    )
    expect((refusal(() => checkPrivateDirectory(join(safe, 'to-loose', 'new'), output))).message).toMatch(/a parent of .*to-loose\/new, is writable by others/)
  })

  it("refuses another user's symlink as the directory itself, on the way, or met while following a link of ours, whatever it points to", () => {
    // Given a safe directory of ours, a link to it owned by uid 65534 (who may re-point it at
    // any time, like one planted in /tmp), and a link of ours that leads through theirs
    const target = dir('target', 0o700)
    const theirs = join(root, 'their-link')
    symlinkSync(target, theirs)
    lchownSync(theirs, 65534, 65534)
    const ours = join(root, 'our-link')
    symlinkSync(theirs, ours)
    // When each is checked, Then their link is refused, named, as bad input
    const itself = refusal(() => checkPrivateDirectory(theirs, output))
    expect(itself.code).toBe('bad_input')
    expect(itself.message).toBe(`output: ${theirs} is a symlink owned by another user (uid 65534), who can re-point it at any time; choose another directory`)
    expect(refusal(() => checkPrivateDirectory(join(theirs, 'svid'), output)).message).toBe(
      `output: ${theirs}, a symlink on the way to ${join(theirs, 'svid')}, is owned by another user (uid 65534), who can re-point it at any time; choose another directory`,
    )
    expect(refusal(() => checkPrivateDirectory(ours, output)).message).toBe(
      `output: ${theirs}, a symlink on the way to ${ours}, is owned by another user (uid 65534), who can re-point it at any time; choose another directory`,
    )
    // And the same link of ours (root's) leading straight to the directory is fine
    const direct = join(root, 'direct-link')
    symlinkSync(target, direct)
    expect(checkPrivateDirectory(direct, output)).toBe(true)
  })

  it('names the directory with its label, for WID_HOME', () => {
    const home = dir('home', 0o777)
    const error = refusal(() => checkPrivateDirectory(home, {prefix: 'backend', label: 'WID_HOME'}))
    expect(error.message).toBe(`backend: ${home} (WID_HOME) is writable by others (mode 0777); chmod go-w ${home}, or choose another directory`)
  })
})

describe('isPrivateGroup (Debian user-group-modes)', () => {
  const passwd = ['root:x:0:0:root:/root:/bin/bash', 'alice:x:1000:1000::/home/alice:/bin/sh', 'bob:x:1001:100::/home/bob:/bin/sh', ''].join('\n')

  it("accepts the user's primary group with no other member", () => {
    expect(isPrivateGroup(1000, 1000, 'alice:x:1000:\n', passwd)).toBe(true)
    expect(isPrivateGroup(1000, 1000, 'alice:x:1000:alice\n', passwd)).toBe(true)
  })

  it('refuses a group that is not the primary one, lists another member, is another user\'s primary group, or is unknown', () => {
    expect(isPrivateGroup(100, 1000, 'users:x:100:\n', passwd)).toBe(false)
    expect(isPrivateGroup(1000, 1000, 'alice:x:1000:alice,bob\n', passwd)).toBe(false)
    expect(isPrivateGroup(100, 1001, 'users:x:100:\n', passwd + 'carol:x:1002:100::/home/carol:/bin/sh\n')).toBe(false)
    expect(isPrivateGroup(1000, 1000, 'other:x:1001:\n', passwd)).toBe(false)
    expect(isPrivateGroup(1000, 4242, 'alice:x:1000:\n', passwd)).toBe(false)
  })
})
