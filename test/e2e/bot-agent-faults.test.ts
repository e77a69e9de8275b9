/** The bot agent started while its server is down: it waits and retries, says so on /readyz, and needs nobody when the server comes up. */
import {spawn} from 'node:child_process'
import {existsSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {tempDir, WID_BIN, widIn} from '../helpers/cli.js'
import {LEGACY_ROLE} from '../helpers/design-documents.js'
import {freePort, startWidServer, within, type WidServer} from '../helpers/server.js'

const tmp = tempDir('wid-bot-faults-')
afterAll(() => tmp.cleanup())

describe('wid bot start with the server down', () => {
  it('retries with /readyz at 503 naming the identity, then writes its output once the server is up', async () => {
    const serverHome = join(tmp.path, 'server')
    const admin = widIn(serverHome)
    expect((await admin(['init', '--cluster-name', 'example.org'])).code).toBe(0)
    expect((await admin(['create', '-f', '-'], {input: LEGACY_ROLE})).code).toBe(0)
    const token = (await admin(['bots', 'add', 'my-bot', '--roles', 'example-service-legacy'])).stdout.trim()
    const pin = (JSON.parse((await admin(['status', '--json'])).stdout) as {hostCaPins: string[]}).hostCaPins[0]!
    const [port, diag] = [await freePort(), await freePort()]
    const tokenFile = join(tmp.path, 'token')
    writeFileSync(tokenFile, token + '\n', {mode: 0o600})
    const out = join(tmp.path, 'out')
    const config = join(tmp.path, 'bot.yaml')
    writeFileSync(
      config,
      `version: v2
proxy_server: 127.0.0.1:${port}
onboarding:
  join_method: token
  token: ${tokenFile}
  ca_pins: ["${pin}"]
storage:
  type: directory
  path: ${join(tmp.path, 'storage')}
diag_addr: 127.0.0.1:${diag}
outputs:
  - type: spiffe-svid
    destination:
      type: directory
      path: ${out}
    svid:
      path: /svc/example-service
`,
    )
    const agent = spawn(process.execPath, [WID_BIN, 'bot', 'start', '-c', config], {env: {...process.env, WID_HOME: join(tmp.path, 'home'), DEBUG: ''}, stdio: ['ignore', 'pipe', 'pipe']})
    let log = ''
    agent.stderr!.on('data', (d) => (log += d))
    let server: WidServer | undefined
    try {
      await within(30, () => log.includes('bot identity renewal failed'), () => log)
      const notReady = await fetch(`http://127.0.0.1:${diag}/readyz`)
      expect(notReady.status).toBe(503)
      const body = (await notReady.json()) as {failing: Array<{name: string; reason: string}>}
      expect(body.failing.map((f) => f.name)).toEqual(['identity', 'spiffe-svid-1'])
      expect(body.failing[0]!.reason).toContain(`127.0.0.1:${port}`)

      server = await startWidServer(serverHome, port)
      // the backoff doubles from 1 s: the next try comes within a few seconds
      await within(60, () => existsSync(join(out, 'svid.pem')), () => log)
      await within(10, () => log.includes('output renewed'), () => log)
      expect((await fetch(`http://127.0.0.1:${diag}/readyz`)).status).toBe(200)
    } finally {
      agent.kill('SIGTERM')
      await server?.stop()
    }
  }, 120_000)
})
