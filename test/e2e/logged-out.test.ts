/**
 * A WID_HOME that has been logged in to a server never gets a local cluster implicitly:
 * after `wid logout`, a cron job's `wid svid issue` must fail (saying how to log in again or
 * to create a local cluster), not quietly issue SVIDs of another trust domain.
 */
import {existsSync, mkdirSync, readFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {expectOneLineError, tempDir, widIn} from '../helpers/cli.js'
import {inviteFile, startWidServer, type WidServer} from '../helpers/server.js'

const PASSWORD = 'correct horse battery staple'

describe('no implicit local cluster in a WID_HOME used to log in', () => {
  const tmp = tempDir()
  const serverHome = join(tmp.path, 'server')
  const admin = widIn(serverHome)
  const home = join(tmp.path, 'workload')
  const wid = widIn(home)
  let server: WidServer
  let proxy: string

  beforeAll(async () => {
    expect((await admin(['init', '--cluster-name', 'example.org'])).code).toBe(0)
    server = await startWidServer(serverHome)
    proxy = `127.0.0.1:${server.port}`
    const invite = (await admin(['users', 'add', 'alice', '--roles', 'access'])).stdout.trim()
    const pin = JSON.parse((await admin(['status', '--json'])).stdout).hostCaPins[0]
    const login = await wid(['login', '--proxy', proxy, '--user', 'alice', '--invite-file', inviteFile(tmp.path, invite), '--ca-pin', pin, '--password-stdin'], {input: `${PASSWORD}\n`})
    expect(login.code, login.stderr).toBe(0)
  })
  afterAll(async () => {
    await server?.stop()
    tmp.cleanup()
  })

  it('while logged in, --local finds no local cluster and creates none', async () => {
    const result = await wid(['status', '--local'])
    expect(expectOneLineError(result)).toBe(`not a local cluster: ${home} is logged in to ${proxy} (drop --local to use it; wid init creates a local cluster in ${home})`)
    expect(result.code).toBe(9)
    expect(existsSync(join(home, 'wid.db'))).toBe(false)
  })

  it('wid server start creates no cluster either, while logged in and after logout', async () => {
    // Given a WID_HOME logged in to a server
    const serving = join(tmp.path, 'serving')
    const pin = JSON.parse((await admin(['status', '--json'])).stdout).hostCaPins[0]
    expect((await widIn(serving)(['login', '--proxy', proxy, '--user', 'alice', '--ca-pin', pin, '--password-stdin'], {input: `${PASSWORD}\n`})).code).toBe(0)
    // When a server is started in it (on the running server's port: were it not refused, it would fail to listen, not serve)
    const start = () => widIn(serving)(['server', 'start', '--listen', `127.0.0.1:${server.port}`])
    const loggedIn = await start()
    // Then it is refused with exit status 9, saying how to create a cluster, and none is created
    expect(expectOneLineError(loggedIn)).toBe(`not a local cluster: ${serving} is logged in to ${proxy} (wid init creates a local cluster in ${serving})`)
    expect(loggedIn.code).toBe(9)
    // And the same after logout
    expect((await widIn(serving)(['logout'])).code).toBe(0)
    const loggedOut = await start()
    expect(expectOneLineError(loggedOut)).toBe(
      `not logged in: you logged out of ${proxy} (wid login --proxy ${proxy} --user alice logs in again; wid init creates a local cluster in ${serving} instead)`,
    )
    expect(loggedOut.code).toBe(9)
    expect(existsSync(join(serving, 'wid.db'))).toBe(false)
  })

  it('after logout, svid issue is refused until wid init creates a local cluster', async () => {
    // Given the workload machine logged out
    expect((await wid(['logout'])).code).toBe(0)
    // When its cron job issues an SVID (also with --local)
    const out = join(tmp.path, 'svid')
    const message = `not logged in: you logged out of ${proxy} (wid login --proxy ${proxy} --user alice logs in again; wid init creates a local cluster in ${home} instead)`
    for (const extra of [[], ['--local']]) {
      const result = await wid(['svid', 'issue', '--output', out, '/svc/foo', ...extra])
      // Then it fails with exit status 9, saying how to go on, and nothing was created
      expect(expectOneLineError(result)).toBe(message)
      expect(result.code).toBe(9)
    }
    expect(existsSync(join(home, 'wid.db'))).toBe(false)
    expect(existsSync(out)).toBe(false)
    // When the admin of the machine creates a local cluster explicitly
    const init = await wid(['init', '--cluster-name', 'local.example'])
    expect(init.code, init.stderr).toBe(0)
    // Then it is used as usual
    const issued = await wid(['svid', 'issue', '--output', out, '/svc/foo'])
    expect(issued.code, issued.stderr).toBe(0)
    expect(issued.stderr).toContain('spiffe://local.example/svc/foo')
  })

  it('an existing local cluster keeps working after logout', async () => {
    // Given a WID_HOME with a local cluster, logged in and then out
    const both = join(tmp.path, 'both')
    expect((await widIn(both)(['init', '--cluster-name', 'mine.example'])).code).toBe(0)
    const pin = JSON.parse((await admin(['status', '--json'])).stdout).hostCaPins[0]
    const login = await widIn(both)(['login', '--proxy', proxy, '--user', 'alice', '--ca-pin', pin, '--password-stdin'], {input: `${PASSWORD}\n`})
    expect(login.code, login.stderr).toBe(0)
    expect((await widIn(both)(['logout'])).code).toBe(0)
    // When a command runs, Then it uses that cluster
    const status = await widIn(both)(['status', '--json'])
    expect(status.code, status.stderr).toBe(0)
    expect(JSON.parse(status.stdout)).toMatchObject({mode: 'local', clusterName: 'mine.example'})
  })

  it('logout records a login made before the last login was recorded', async () => {
    // Given a login whose record is missing (as one made by an earlier wid)
    const earlier = join(tmp.path, 'earlier')
    const pin = JSON.parse((await admin(['status', '--json'])).stdout).hostCaPins[0]
    expect((await widIn(earlier)(['login', '--proxy', proxy, '--user', 'alice', '--ca-pin', pin, '--password-stdin'], {input: `${PASSWORD}\n`})).code).toBe(0)
    rmSync(join(earlier, 'profiles', 'last-login.json'))
    // When it logs out, Then the record is written, with no secret in it
    expect((await widIn(earlier)(['logout'])).code).toBe(0)
    expect(JSON.parse(readFileSync(join(earlier, 'profiles', 'last-login.json'), 'utf8'))).toEqual({proxy, user: 'alice'})
    expect(expectOneLineError(await widIn(earlier)(['status']))).toMatch(/^not logged in: you logged out of 127\.0\.0\.1:\d+ \(wid login --proxy 127\.0\.0\.1:\d+ --user alice logs in again/)
  })

  it('a WID_HOME logged out before the last login was recorded is refused too', async () => {
    // Given a WID_HOME with only the profiles directory an earlier login and logout left
    const older = join(tmp.path, 'older')
    mkdirSync(join(older, 'profiles'), {recursive: true, mode: 0o700})
    const result = await widIn(older)(['status'])
    expect(expectOneLineError(result)).toBe(
      `not logged in: ${older} was used to log in to a server (wid login --proxy HOST:PORT --user NAME logs in again; wid init creates a local cluster in ${older} instead)`,
    )
    expect(result.code).toBe(9)
    expect(existsSync(join(older, 'wid.db'))).toBe(false)
  })
})
