/**
 * Directories other users can change are refused, the way ssh refuses a loose ~/.ssh: an
 * --output directory (or one above it) and WID_HOME. Runs as root, like CI; uid 65534 and
 * group 100 ("users") stand for another user and a shared group.
 */
import {chmodSync, chownSync, existsSync, lchownSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {expectOneLineError, tempDir, widIn} from '../helpers/cli.js'

describe('directories other users can change', () => {
  const tmp = tempDir()
  const home = join(tmp.path, 'home')
  const wid = widIn(home)
  const issue = (out: string) => wid(['svid', 'issue', '--output', out, '/svc/foo'])

  /** A symlink at `path` to `target` that belongs to uid 65534, as if that user had planted it. */
  const theirLink = (target: string, path: string) => {
    symlinkSync(target, path)
    lchownSync(path, 65534, 65534)
    return path
  }
  const reason = 'who can re-point it at any time; choose another directory'

  /** A fresh directory with this mode (and owner and group, when given). */
  const directory = (name: string, mode: number, owner?: {uid?: number; gid?: number}) => {
    const path = join(tmp.path, name)
    mkdirSync(path, {recursive: true})
    chmodSync(path, mode)
    if (owner) chownSync(path, owner.uid ?? 0, owner.gid ?? 0)
    return path
  }

  beforeAll(async () => {
    const init = await wid(['init', '--cluster-name', 'example.org'])
    expect(init.code, init.stderr).toBe(0)
  })
  afterAll(() => tmp.cleanup())

  describe('wid svid issue --output', () => {
    it('refuses a directory owned by another user, writing nothing', async () => {
      // Given an output directory that belongs to uid 65534
      const out = directory('theirs', 0o755, {uid: 65534, gid: 65534})
      // When an SVID is issued into it
      const result = await issue(out)
      // Then it is refused as bad input (exit 2) with one line, and nothing is written
      expect(expectOneLineError(result)).toBe(`output: ${out} is owned by another user (uid 65534); choose a directory of your own`)
      expect(result.code).toBe(2)
      expect(readdirSync(out)).toEqual([])
    })

    it('refuses a directory others may write (0777)', async () => {
      const out = directory('world', 0o777)
      const result = await issue(out)
      expect(expectOneLineError(result)).toBe(`output: ${out} is writable by others (mode 0777); chmod go-w ${out}, or choose another directory`)
      expect(result.code).toBe(2)
      expect(readdirSync(out)).toEqual([])
    })

    it('refuses a directory writable by a shared group (0770, group users)', async () => {
      const out = directory('group', 0o770, {gid: 100})
      const result = await issue(out)
      expect(expectOneLineError(result)).toBe(`output: ${out} is writable by group 100 (mode 0770); chmod g-w ${out}, or choose another directory`)
      expect(result.code).toBe(2)
      expect(readdirSync(out)).toEqual([])
    })

    it('refuses a directory below a parent others may write without the sticky bit, creating nothing', async () => {
      // Given a parent 0777 without the sticky bit
      const parent = directory('loose-parent', 0o777)
      const out = join(parent, 'svid')
      // When an SVID is issued into a new directory below it
      const result = await issue(out)
      // Then the parent is named, and nothing was created
      expect(expectOneLineError(result)).toBe(`output: ${parent}, a parent of ${out}, is writable by others (mode 0777); chmod go-w ${parent}, or choose another directory`)
      expect(result.code).toBe(2)
      expect(readdirSync(parent)).toEqual([])
    })

    it('writes below a sticky parent others may write, like /tmp', async () => {
      const parent = directory('sticky-parent', 0o1777)
      const result = await issue(join(parent, 'svid'))
      expect(result.code, result.stderr).toBe(0)
      expect(readFileSync(join(parent, 'svid', 'svid.pem'), 'utf8')).toMatch(/^-----BEGIN CERTIFICATE-----/)
    })

    it("writes into a directory writable by the user's private group", async () => {
      // Given a 0770 directory of group root, which has no member but root (our private group)
      const out = directory('private-group', 0o770, {gid: 0})
      const result = await issue(out)
      expect(result.code, result.stderr).toBe(0)
      expect(existsSync(join(out, 'svid_key.pem'))).toBe(true)
    })

    it("refuses another user's symlink in a sticky directory like /tmp, leaving the directory it points to alone", async () => {
      // Given root's SVID directory, and a link to it that uid 65534 planted in a /tmp-like directory
      const victim = join(tmp.path, 'payments-svid')
      expect((await issue(victim)).code).toBe(0)
      const before = readFileSync(join(victim, 'svid.pem'), 'utf8')
      const link = theirLink(victim, join(directory('sticky-tmp', 0o1777), 'svid-out'))
      // When root issues an SVID into the link
      const result = await issue(link)
      // Then it is refused as bad input with one line, and the SVID set it points to is unchanged
      expect(expectOneLineError(result)).toBe(`output: ${link} is a symlink owned by another user (uid 65534), ${reason}`)
      expect(result.code).toBe(2)
      expect(readFileSync(join(victim, 'svid.pem'), 'utf8')).toBe(before)
      // And a directory below their link is refused too
      expect(expectOneLineError(await issue(join(link, 'below')))).toBe(`output: ${link}, a symlink on the way to ${join(link, 'below')}, is owned by another user (uid 65534), ${reason}`)
    })

    it("auth export --out refuses a file below another user's symlink", async () => {
      // Given a directory of ours, reached through uid 65534's link in a sticky directory
      const mine = directory('export-target', 0o700)
      const link = theirLink(mine, join(directory('sticky-export', 0o1777), 'out'))
      // When the bundle is exported into it, Then it is refused, and nothing was written
      const result = await wid(['auth', 'export', '--type', 'tls-spiffe', '--out', join(link, 'bundle.pem')])
      expect(expectOneLineError(result)).toBe(`output: ${link} is a symlink owned by another user (uid 65534), ${reason}`)
      expect(result.code).toBe(2)
      expect(readdirSync(mine)).toEqual([])
    })

    it('refuses to carry a planted symlink over into a new set, never copying its target', async () => {
      // Given an SVID directory with an X.509-SVID and a JWT-SVID, whose jwt_svid in the
      // version directory was then replaced by a symlink to a secret
      const secret = join(tmp.path, 'secret')
      writeFileSync(secret, 'root secret', {mode: 0o600})
      const out = join(tmp.path, 'planted')
      expect((await issue(out)).code).toBe(0)
      expect((await wid(['svid', 'issue', '--type', 'jwt', '--audience', 'a', '--output', out, '/svc/foo'])).code).toBe(0)
      const version = join(out, readlinkSync(join(out, '..data')))
      rmSync(join(version, 'jwt_svid'))
      symlinkSync(secret, join(version, 'jwt_svid'))
      // When a new X.509-SVID is issued into it (which carries jwt_svid over)
      const result = await issue(out)
      // Then it is refused naming the planted file, and the secret is in no version directory
      expect(expectOneLineError(result)).toBe(`output: ${join(version, 'jwt_svid')} is a symlink, not a regular file; refusing to carry it over into the new set`)
      expect(result.code).toBe(2)
      const copies = readdirSync(out, {recursive: true, withFileTypes: true}).filter((e) => e.isFile() && readFileSync(join(e.parentPath, e.name), 'utf8') === 'root secret')
      expect(copies).toEqual([])
    })
  })

  describe('WID_HOME', () => {
    it('refuses a WID_HOME owned by another user, creating no store', async () => {
      // Given an empty WID_HOME that belongs to uid 65534
      const other = directory('home-theirs', 0o700, {uid: 65534, gid: 65534})
      // When a command that needs the embedded cluster runs
      const result = await widIn(other)(['svid', 'issue', '--output', join(tmp.path, 'unused'), '/svc/foo'])
      // Then it is refused as bad input, and neither wid.db nor the output was created
      expect(expectOneLineError(result)).toBe(`backend: ${other} (WID_HOME) is owned by another user (uid 65534); choose a directory of your own`)
      expect(result.code).toBe(2)
      expect(readdirSync(other)).toEqual([])
      expect(existsSync(join(tmp.path, 'unused'))).toBe(false)
    })

    it("refuses a WID_HOME that is another user's symlink, creating no store", async () => {
      // Given a WID_HOME reached through uid 65534's link to an empty directory of ours
      const mine = directory('home-target', 0o700)
      const link = theirLink(mine, join(directory('sticky-home', 0o1777), 'wid-home'))
      // When commands that read the login or open the embedded cluster run
      const status = await widIn(link)(['status'])
      const init = await widIn(link)(['init'])
      // Then both are refused as bad input, and no store was created
      for (const result of [status, init]) expect(expectOneLineError(result)).toBe(`backend: ${link} (WID_HOME) is a symlink owned by another user (uid 65534), ${reason}`)
      expect([status.code, init.code]).toEqual([2, 2])
      expect(readdirSync(mine)).toEqual([])
    })

    it('refuses a WID_HOME others may write, also for wid init and wid server start', async () => {
      const loose = directory('home-world', 0o777)
      const message = `backend: ${loose} (WID_HOME) is writable by others (mode 0777); chmod go-w ${loose}, or choose another directory`
      for (const args of [['status'], ['init'], ['server', 'start', '--listen', '127.0.0.1:0']]) {
        const result = await widIn(loose)(args)
        expect(expectOneLineError(result), args.join(' ')).toBe(message)
        expect(result.code).toBe(2)
      }
      expect(readdirSync(loose)).toEqual([])
    })

    it('refuses a login kept in a WID_HOME others may write, before reading it', async () => {
      // Given a 0777 WID_HOME whose current-profile someone planted
      const loose = directory('home-login', 0o777)
      writeFileSync(join(loose, 'current-profile'), '127.0.0.1:1\n')
      // When a command looks for the login, Then the directory is refused, not the profile used
      const result = await widIn(loose)(['status'])
      expect(expectOneLineError(result)).toBe(`login: ${loose} (WID_HOME) is writable by others (mode 0777); chmod go-w ${loose}, or choose another directory`)
      expect(result.code).toBe(2)
    })

    it('refuses an existing cluster once its WID_HOME became writable by others', async () => {
      chmodSync(home, 0o777)
      try {
        const result = await wid(['status'])
        expect(expectOneLineError(result)).toMatch(/^backend: .*home \(WID_HOME\) is writable by others \(mode 0777\)/)
      } finally {
        chmodSync(home, 0o700)
      }
      expect((await wid(['status'])).code).toBe(0)
    })
  })
})
