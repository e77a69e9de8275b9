/**
 * On a machine whose system Node is older than 22.13 (Debian 12 has 18, many CI images 20),
 * `wid` re-runs itself under the Node that `npm ci` installed beside it (node-<platform>-<arch>).
 * These tests run the real system Node when it is that old; CI's Debian image has Node 20.
 */
import {spawn, spawnSync} from 'node:child_process'
import {copyFileSync, mkdirSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {expectOneLineError, PROJECT_ROOT, runWid, tempDir, widIn, WID_BIN, type RunResult} from '../helpers/cli.js'
import {loginInFlight, within} from '../helpers/server.js'

function oldSystemNode(): string | undefined {
  for (const path of ['/usr/bin/node', '/usr/local/bin/node']) {
    const result = spawnSync(path, ['-p', 'process.versions.node'], {encoding: 'utf8'})
    if (result.status === 0 && Number(result.stdout.split('.')[0]) < 22) return path
  }
  return undefined
}

const OLD_NODE = oldSystemNode()
const PASSWORD = 'correct horse battery staple'

/** wid (or another copy of its bin/run.js) run by the old Node. */
const runWith = (node: string, script: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> => runWid(args, {node, script, env})

describe.skipIf(!OLD_NODE)(`wid under an old system Node (${OLD_NODE ?? 'none found'})`, () => {
  const tmp = tempDir()
  afterAll(() => tmp.cleanup())

  it('re-runs itself under the pinned Node: --version, status and svid issue work', async () => {
    // Given the system Node is older than 22.13
    // When wid runs under it
    const version = await runWith(OLD_NODE!, WID_BIN, ['--version'])
    // Then the answer comes from the Node installed with wid, not an error
    expect(version.code, version.stderr).toBe(0)
    expect(version.stdout).toMatch(/^wid-spiffe\/\S+ linux-\S+ node-v(2[2-9]|[3-9]\d)\./)
    const home = join(tmp.path, 'home')
    const issued = await runWith(OLD_NODE!, WID_BIN, ['svid', 'issue', '--output', join(tmp.path, 'svid'), '/svc/old-node'], {WID_HOME: home})
    expect(issued.code, issued.stderr).toBe(0)
    const status = await runWith(OLD_NODE!, WID_BIN, ['status', '--json'], {WID_HOME: home})
    expect(status.code, status.stderr).toBe(0)
    expect(JSON.parse(status.stdout).dataDir).toBe(home)
  })

  it('passes on its exit status and a bad-input error unchanged', async () => {
    const result = await runWith(OLD_NODE!, WID_BIN, ['get', 'nokind'], {WID_HOME: join(tmp.path, 'home')})
    expect(result.code).toBe(2)
    expect(expectOneLineError(result)).toMatch(/^unknown kind "nokind"/)
  })

  it('passes SIGTERM on to the server, which stops cleanly, and leaves no process behind', async () => {
    // Given a server started under the old Node
    const home = join(tmp.path, 'server')
    const child = spawn(OLD_NODE!, [WID_BIN, 'server', 'start', '--listen', '127.0.0.1:0'], {env: {...process.env, WID_HOME: home}, stdio: ['ignore', 'pipe', 'pipe']})
    let output = ''
    child.stdout.on('data', (d) => (output += d))
    child.stderr.on('data', (d) => (output += d))
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    await new Promise<void>((resolve, reject) => {
      const check = () => (output.includes('listening on') ? resolve() : undefined)
      child.stderr.on('data', check)
      void exited.then(() => reject(new Error(`server exited early:\n${output}`)))
    })
    const pinned = Number(spawnSync('pgrep', ['-P', String(child.pid)], {encoding: 'utf8'}).stdout.trim())
    expect(pinned).toBeGreaterThan(0)
    // When the old Node's process gets SIGTERM
    child.kill('SIGTERM')
    // Then the server under the pinned Node drains and stops, and the status is 0
    expect(await exited).toBe(0)
    expect(output).toMatch(/server stopped/)
    expect(() => process.kill(pinned, 0)).toThrow(/ESRCH/)
  })

  it('a Ctrl-C to the whole process group, which reaches the server twice, drains the request in flight and exits with status 0', async () => {
    // Given a server started under the old Node, leading a process group of its own as in a terminal
    const home = join(tmp.path, 'group')
    expect((await widIn(home)(['init', '--cluster-name', 'example.org'])).code).toBe(0)
    const invite = (await widIn(home)(['users', 'add', 'alice', '--roles', 'access'])).stdout.trim()
    const child = spawn(OLD_NODE!, [WID_BIN, 'server', 'start', '--listen', '127.0.0.1:0'], {
      env: {...process.env, WID_HOME: home, DEBUG: ''},
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    })
    let output = ''
    child.stdout.on('data', (d) => (output += d))
    child.stderr.on('data', (d) => (output += d))
    let exitCode: number | null | undefined
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve((exitCode = code))))
    try {
      const port = await new Promise<number>((resolve, reject) => {
        const check = () => {
          const listening = /listening on 127\.0\.0\.1:(\d+)/.exec(output)
          if (listening) resolve(Number(listening[1]))
        }
        child.stderr.on('data', check)
        void exited.then(() => reject(new Error(`server exited early:\n${output}`)))
      })
      // And a login in flight
      const login = await loginInFlight(port, 'alice', PASSWORD, invite)
      // When the process group gets SIGINT (Ctrl-C): the pinned Node's process gets it directly, and again from its parent
      process.kill(-child.pid!, 'SIGINT')
      await within(10, () => /stopping/.test(output) || exitCode !== undefined, () => output)
      // Then the login is answered, the server says it stopped, and the status is 0
      expect((await login.finish()).status).toBe(200)
      expect(await exited).toBe(0)
      expect(output).toMatch(/server stopped/)
    } finally {
      if (exitCode === undefined) process.kill(-child.pid!, 'SIGKILL')
    }
  })

  it('without a pinned Node, says what to do and exits with status 11', async () => {
    // Given a copy of bin/ with no node_modules beside it
    const bin = join(tmp.path, 'lone', 'bin')
    mkdirSync(bin, {recursive: true})
    for (const file of ['run.js', 'pinned-node.js']) copyFileSync(join(PROJECT_ROOT, 'bin', file), join(bin, file))
    copyFileSync(join(PROJECT_ROOT, 'package.json'), join(tmp.path, 'lone', 'package.json'))
    // When it runs under the old Node
    const result = await runWith(OLD_NODE!, join(bin, 'run.js'), ['--version'])
    // Then one line says so
    expect(result.code).toBe(11)
    expect(expectOneLineError(result)).toMatch(/^wid needs Node\.js 22\.13 or newer \(this is v\d+\.[\d.]+\) and found none installed with it; run npm ci/)
  })
})
