/**
 * Audit retention and export as operators run them, in an embedded cluster and through a
 * server: the setting and its bad values, pruning of events older than the retention (events
 * planted with old times stand for a clock moved on), `wid audit prune --before`, export lines
 * with the fields the README documents, `--follow` picking up a later event until a signal
 * ends it, and a user without the rules refused. The pruning itself runs on a frozen clock in
 * test/lib/services/audit-retention.test.ts.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {expectOneLineError, PROJECT_ROOT, tempDir, widIn, WID_BIN} from '../helpers/cli.js'
import {eventually, inviteFile, startWidServer, type WidServer} from '../helpers/server.js'

const PASSWORD = 'correct horse battery staple'
const dist = async <T>(path: string): Promise<T> => (await import(pathToFileURL(join(PROJECT_ROOT, 'dist', path)).href)) as T

/** The fields of the README's export table. */
function documentedFields(): Set<string> {
  const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('### Audit retention, and export to a SIEM'), readme.indexOf('### Metrics and alerts'))
  const fields = [...section.matchAll(/^\| ((?:`[a-z_]+`(?:, )?)+) \|/gm)].flatMap((m) => [...m[1]!.matchAll(/`([a-z_]+)`/g)].map((f) => f[1]!))
  return new Set(fields)
}

/** Writes audit events straight into an embedded cluster's store, as if written at `times`. */
async function plantEvents(home: string, times: string[]): Promise<void> {
  const {SqliteBackend} = await dist<typeof import('../../src/lib/backend/sqlite.js')>('lib/backend/sqlite.js')
  const {auditOperation} = await dist<typeof import('../../src/lib/services/audit.js')>('lib/services/audit.js')
  const backend = await SqliteBackend.open(join(home, 'wid.db'))
  try {
    await backend.atomicWrite([], times.map((time, i) => auditOperation({time, type: 'svid.issued', actor: 'bot:planted', spiffe_id: 'spiffe://example.org/svc/old', serial: String(i), svid_type: 'x509', ttl_seconds: 3600})))
  } finally {
    await backend.close()
  }
}

/** `wid audit export --follow` running, with its output so far. */
function follow(home: string): {child: ChildProcess; lines: () => string[]; stderr: () => string; exit: Promise<number | null>} {
  const child = spawn(process.execPath, [WID_BIN, 'audit', 'export', '--follow'], {env: {...process.env, WID_HOME: home, DEBUG: ''}, stdio: ['ignore', 'pipe', 'pipe']})
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (d) => (stdout += d))
  child.stderr!.on('data', (d) => (stderr += d))
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return {child, lines: () => stdout.split('\n').filter(Boolean), stderr: () => stderr, exit}
}

const hoursAgo = (hours: number) => new Date(Date.now() - hours * 3600_000).toISOString()

describe('wid audit retention, prune and export', () => {
  const tmp = tempDir()
  afterAll(() => tmp.cleanup())

  describe('in an embedded cluster', () => {
    const home = join(tmp.path, 'embedded')
    const pruneHome = join(tmp.path, 'pruned')
    const wid = widIn(home)
    beforeAll(async () => {
      expect((await wid(['init', '--cluster-name', 'example.org'])).code).toBe(0)
    })

    it('shows the default, sets a retention, and refuses bad ones in one line', async () => {
      expect((await wid(['audit', 'retention'])).stdout).toBe('retention:    2160h (90 days), the default\noldest event: none\nlast pruned:  never\n')
      const set = await wid(['audit', 'retention', '--set', '720h'])
      expect(set.code, set.stderr).toBe(0)
      expect(set.stderr).toBe('✔ audit events are kept for 720h\n')
      expect(JSON.parse((await wid(['audit', 'retention', '--json'])).stdout)).toMatchObject({retention: '720h', retentionSeconds: 720 * 3600, default: false})
      const bad: [string[], string][] = [
        [['--set', '30m'], 'audit retention: 30m is too short (at least 1h)'],
        [['--set', '90d'], 'invalid --set "90d" (expected a duration such as 8h, 90m or 1h30m)'],
      ]
      for (const [args, message] of bad) {
        const result = await wid(['audit', 'retention', ...args])
        expect(expectOneLineError(result)).toBe(message)
        expect(result.code).toBe(2)
      }
    })

    it('prunes events older than the retention when a command opens the store, and by hand with --before', async () => {
      // Given a cluster whose first events are from before the retention (90 days) and the next within it
      const pruned = widIn(pruneHome)
      expect((await pruned(['init', '--cluster-name', 'example.org'])).code).toBe(0)
      await plantEvents(pruneHome, [hoursAgo(24 * 100), hoursAgo(24 * 95), hoursAgo(2), hoursAgo(0.5)])
      const serials = async () => JSON.parse((await pruned(['audit', 'ls', '--type', 'svid.issued', '--json'])).stdout).map((e: {serial: string}) => e.serial)
      // When the audit commands read it, they leave it as it is (an old backup's log can be read before it is pruned)
      expect(await serials()).toEqual(['0', '1', '2', '3'])
      expect((await pruned(['audit', 'export'])).stdout.trimEnd().split('\n').filter((line) => line.includes('bot:planted'))).toHaveLength(4)
      // When any other command opens the store, Then the two past the retention are gone
      expect((await pruned(['status'])).code).toBe(0)
      const shown = JSON.parse((await pruned(['audit', 'retention', '--json'])).stdout)
      expect(shown).toMatchObject({default: true, oldestEvent: expect.any(String), lastPruned: {events: 2}})
      expect(Date.parse(shown.oldestEvent)).toBeGreaterThan(Date.now() - 3 * 3600_000)
      expect(await serials()).toEqual(['2', '3'])
      // And by hand: events older than an hour
      const byHand = await pruned(['audit', 'prune', '--before', '1h', '--json'])
      expect(byHand.code, byHand.stderr).toBe(0)
      expect(JSON.parse(byHand.stdout)).toMatchObject({deleted: 1})
      expect(await serials()).toEqual(['3'])
      expect(JSON.parse((await pruned(['audit', 'ls', '--type', 'audit.pruned', '--json'])).stdout)).toMatchObject([{type: 'audit.pruned', before: expect.any(String)}])
      expect(expectOneLineError(await pruned(['audit', 'prune', '--before', '2999-01-01T00:00:00Z']))).toBe('audit prune: 2999-01-01T00:00:00.000Z is less than 1h ago; events are pruned up to the shortest retention (1h) ago at most')
      expect(expectOneLineError(await pruned(['audit', 'prune', '--before', 'last week']))).toBe('invalid --before "last week" (expected a time such as 2026-12-01T00:00:00Z, or a duration ago such as 24h or 90m)')
    })

    it('exports JSON lines with the documented fields only, from --since on', async () => {
      await wid(['svid', 'issue', '/svc/foo', '--output', join(tmp.path, 'svid')])
      const lines = async (home: string) => {
        const exported = await widIn(home)(['audit', 'export'])
        expect(exported.code, exported.stderr).toBe(0)
        return exported.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>)
      }
      const events = await lines(home)
      const all = [...events, ...(await lines(pruneHome))]
      expect(all.map((e) => e.type)).toEqual(expect.arrayContaining(['audit.retention', 'audit.pruned', 'svid.issued']))
      // Each line has its own id: its time and a random part
      for (const event of events) expect(event.id).toMatch(new RegExp(`^${(event.time as string).replace(/\./g, '\\.')}\\.[0-9a-f]{12}$`))
      expect(new Set(events.map((e) => e.id)).size).toBe(events.length)
      const documented = documentedFields()
      for (const event of all) for (const field of Object.keys(event)) expect(documented, `${field} of ${event.type as string}`).toContain(field)
      const recent = await wid(['audit', 'export', '--since', new Date(Date.parse(events.at(-1)!.time as string)).toISOString()])
      expect(recent.stdout.trimEnd().split('\n').map((line) => JSON.parse(line).type)).toEqual(['svid.issued'])
    })

    it('follows new events until SIGINT (status 0), and ends quietly when its reader goes away', async () => {
      const running = follow(home)
      const before = (await wid(['audit', 'export'])).stdout.trimEnd().split('\n').length
      await eventually(20, async () => running.lines().length === before, () => `export printed: ${running.lines().join('\n')} ${running.stderr()}`)
      expect((await wid(['audit', 'retention', '--set', '1000h'])).code).toBe(0)
      await eventually(20, async () => running.lines().length === before + 1, () => `export printed: ${running.lines().at(-1)}`)
      expect(JSON.parse(running.lines().at(-1)!)).toMatchObject({type: 'audit.retention', retention_seconds: 1000 * 3600})
      running.child.kill('SIGINT')
      expect(await running.exit).toBe(0)
      expect(running.stderr()).toBe('')

      // A reader that takes one line and goes away (| head -1)
      const headed = follow(home)
      await eventually(20, async () => headed.lines().length > 0, () => headed.stderr())
      headed.child.stdout!.destroy()
      expect((await wid(['audit', 'retention', '--set', '1001h'])).code).toBe(0)
      expect(await headed.exit).toBe(0)
      expect(headed.stderr()).toBe('')
    })
  })

  describe('through a server', () => {
    const serverHome = join(tmp.path, 'server')
    const admin = widIn(serverHome)
    const aliceHome = join(tmp.path, 'alice')
    const alice = widIn(aliceHome)
    const bob = widIn(join(tmp.path, 'bob'))
    let server: WidServer

    beforeAll(async () => {
      expect((await admin(['init', '--cluster-name', 'example.org'])).code).toBe(0)
      // Events past the default retention, that no local command has seen: the server's sweep at start prunes them
      await plantEvents(serverHome, [hoursAgo(24 * 100), hoursAgo(24 * 95)])
      server = await startWidServer(serverHome)
      const pin = JSON.parse((await admin(['status', '--json'])).stdout).hostCaPins[0]
      for (const [user, role, home] of [['alice', 'editor', aliceHome], ['bob', 'access', join(tmp.path, 'bob')]] as const) {
        const invite = (await admin(['users', 'add', user, '--roles', role])).stdout.trim()
        const login = await widIn(home)(['login', '--proxy', `127.0.0.1:${server.port}`, '--user', user, '--ca-pin', pin, '--password-stdin', '--invite-file', inviteFile(tmp.path, invite)], {input: `${PASSWORD}\n`})
        expect(login.code, login.stderr).toBe(0)
      }
    })
    afterAll(async () => {
      await server?.stop()
    })

    it('prunes at start, logging how many', async () => {
      await eventually(20, async () => /"events":2,"msg":"audit events past the retention pruned"/.test(server.log()), () => server.log())
    })

    it('shows and sets the retention, prunes and follows the export for a user allowed to', async () => {
      const set = await alice(['audit', 'retention', '--set', '48h'])
      expect(set.code, set.stderr).toBe(0)
      expect(JSON.parse((await alice(['audit', 'retention', '--json'])).stdout)).toMatchObject({retention: '48h', lastPruned: {events: 2}})
      expect(JSON.parse((await alice(['audit', 'prune', '--before', '47h', '--json'])).stdout)).toEqual({deleted: 0, before: expect.any(String)})

      const running = follow(aliceHome)
      await eventually(20, async () => running.lines().some((line) => JSON.parse(line).type === 'audit.pruned'), () => `${running.lines().join('\n')} ${running.stderr()}`)
      // An event written on the server host, beside the server, reaches the remote export
      expect((await admin(['audit', 'retention', '--set', '49h'])).code).toBe(0)
      await eventually(20, async () => running.lines().some((line) => JSON.parse(line).retention_seconds === 49 * 3600), () => running.lines().join('\n'))
      running.child.kill('SIGTERM')
      expect(await running.exit).toBe(0)
      expect(running.stderr()).toBe('')
    })

    it('refuses a user without the rules, in one line', async () => {
      const refusals: [string[], RegExp][] = [
        [['audit', 'export'], /^auth: user "bob" is not allowed to list audit \(no role allows it\)$/],
        [['audit', 'retention'], /^auth: user "bob" is not allowed to read cluster_audit_config \(no role allows it\)$/],
        [['audit', 'retention', '--set', '24h'], /^auth: user "bob" is not allowed to update cluster_audit_config \(no role allows it\)$/],
        [['audit', 'prune', '--before', '1h'], /^auth: user "bob" is not allowed to update cluster_audit_config \(no role allows it\)$/],
      ]
      for (const [args, message] of refusals) {
        const result = await bob(args)
        expect(expectOneLineError(result)).toMatch(message)
        expect(result.code).toBe(5)
      }
    })
  })
})
