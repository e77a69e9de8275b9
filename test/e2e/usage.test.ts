/**
 * The command line itself: tctl habits that work, and mistakes that get one line in wid's
 * style with a "did you mean" (issue 10 item 15), and colour only on a terminal (item 19).
 */
import {execFileSync, spawnSync} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {WORKLOAD_IDENTITY} from '../helpers/design-documents.js'
import {expectOneLineError, tempDir, widIn, WID_BIN} from '../helpers/cli.js'

describe('the command line', () => {
  const tmp = tempDir()
  const home = join(tmp.path, 'home')
  const wid = widIn(home)
  beforeAll(async () => {
    expect((await wid(['init', '--cluster-name', 'example.org'])).code).toBe(0)
  })
  afterAll(() => tmp.cleanup())

  it('wid create FILE takes the file as tctl create does, and -f still works', async () => {
    const file = join(tmp.path, 'workload-identity.yaml')
    writeFileSync(file, WORKLOAD_IDENTITY)
    const created = await wid(['create', file])
    expect(created.code, created.stderr).toBe(0)
    expect(created.stderr.trim()).toBe('workload_identity "example-workload-identity" has been created')
    const again = await wid(['create', '--force', '-f', file])
    expect(again.code, again.stderr).toBe(0)
    expect(expectOneLineError(await wid(['create', file, '-f', file]))).toBe(`create: give the file once: wid create -f ${file} (or wid create ${file})`)
  })

  it('never takes piped standard input as a missing argument (oclif would): create -f - reads it as the file', async () => {
    // Given YAML on stdin, and -f -
    const created = await wid(['create', '-f', '-'], {input: WORKLOAD_IDENTITY.replace('example-workload-identity', 'from-stdin')})
    expect(created.code, created.stderr).toBe(0)
    expect(created.stderr.trim()).toBe('workload_identity "from-stdin" has been created')
    // And piped text is not a KIND for get, nor a PATH for svid issue
    expect(expectOneLineError(await wid(['get'], {input: 'role\n'}))).toMatch(/^get: say what to show/)
    expect(expectOneLineError(await wid(['svid', 'issue', '--output', join(tmp.path, 'x')], {input: '/svc/from-stdin\n'}))).toMatch(/^svid: give the SPIFFE ID path to issue/)
  })

  const cases: [string, string[], string][] = [
    ['a typo of a command', ['craete', '-f', 'x.yaml'], 'unknown command "craete" (did you mean "wid create"? see wid --help)'],
    ['a typo of a subcommand', ['bots', 'lst'], 'unknown command "bots lst" (did you mean "wid bots ls"? see wid --help)'],
    ['a topic in the singular', ['user', 'add', 'alice'], 'unknown command "user add alice" (did you mean "wid users add"? see wid --help)'],
    ['nothing like any command', ['frobnicate'], 'unknown command "frobnicate" (see wid --help)'],
    ['an argument to a command that takes none', ['status', 'extra'], 'wid status takes no argument "extra" (see wid status --help)'],
    ['a typo of a flag', ['svid', 'issue', '--outptu', 'x', '/svc/x'], 'unknown flag --outptu (did you mean --output?) for wid svid issue (see wid svid issue --help)'],
    ['an unknown short flag', ['svid', 'issue', '-o', 'x', '-z', '/svc/x'], 'unknown flag -z for wid svid issue (see wid svid issue --help)'],
    ['a value outside the options', ['svid', 'issue', '--key-type', 'ec-p265', '--output', 'x', '/svc/x'], 'invalid --key-type "ec-p265": expected one of ec-p256, ec-p384, rsa-2048 (did you mean "ec-p256"?)'],
    ['a flag without its value', ['svid', 'issue', '/svc/x', '--output'], '--output needs a value'],
    ['flags that exclude each other', ['svid', 'issue', '--name', 'a', '--labels', 'b=c', '--output', 'x'], '--name and --labels cannot be used together'],
    ['get without a kind', ['get'], 'get: say what to show: a KIND or KIND/NAME, e.g. wid get workload_identity (kinds: workload_identity, role, bot, user, token, integration)'],
    ['create without a file', ['create'], 'create: give the file to read: wid create -f FILE (or - for stdin)'],
    ['a missing argument', ['bots', 'add'], 'wid bots add needs NAME: name of the bot (see wid bots add --help)'],
    ['a missing required flag', ['tokens', 'add'], 'missing required flag --bot-name'],
  ]
  it.each(cases)('%s: one line in wid\'s words, status 2', async (_what, args, message) => {
    const result = await wid(args)
    expect(result.code).toBe(2)
    expect(expectOneLineError(result)).toBe(message)
  })
})

describe('colour on a terminal (and only there)', () => {
  const tmp = tempDir()
  afterAll(() => tmp.cleanup())
  const GREEN = '\u001b[32m'
  const RED = '\u001b[31m'
  const YELLOW = '\u001b[33m'

  /** Runs wid under script(1), which gives it a real terminal, and returns what the terminal showed.
   *  CI is unset: Node, like most tools, keeps to plain text when CI is set and names no known service. */
  function onTerminal(args: string[], env: NodeJS.ProcessEnv = {}): string {
    const command = [process.execPath, WID_BIN, ...args].map((a) => `'${a}'`).join(' ')
    try {
      return execFileSync('script', ['-qec', command, '/dev/null'], {env: {...process.env, WID_HOME: join(tmp.path, 'home'), TERM: 'xterm-256color', NO_COLOR: undefined, FORCE_COLOR: undefined, CI: undefined, ...env}, encoding: 'utf8'})
    } catch (error) {
      return (error as {stdout: string}).stdout
    }
  }

  it('successes are green, errors red and warnings yellow', () => {
    expect(onTerminal(['init', '--cluster-name', 'example.org'])).toContain(`${GREEN}✔ created cluster example.org`)
    expect(onTerminal(['get', 'nokind'])).toContain(`${RED}Error: unknown kind "nokind"`)
    const warned = onTerminal(['aws', 'profile', 'p', '--role-arn', 'arn:aws:iam::123456789012:role/r', '--svid-dir', join(tmp.path, 'nothing-yet'), '--config-file', join(tmp.path, 'aws-config')])
    expect(warned).toContain(`${YELLOW}warning: `)
  })

  it('none with NO_COLOR, and none when the output is not a terminal', async () => {
    const plain = onTerminal(['get', 'nokind'], {NO_COLOR: '1'})
    expect(plain).toContain('Error: unknown kind "nokind"')
    expect(plain).not.toContain('\u001b[')
    const piped = await widIn(join(tmp.path, 'home'))(['get', 'nokind'], {env: {NO_COLOR: undefined, FORCE_COLOR: undefined}})
    expect(piped.stderr).not.toContain('\u001b[')
  })

  it('works for a uid with no passwd entry and no SHELL (a container\'s user), from any directory, where oclif would ask for a login shell', () => {
    const {SHELL: _shell, ...env} = process.env
    const run = (args: string[]) => spawnSync('setpriv', ['--reuid=54321', '--regid=54321', '--clear-groups', process.execPath, WID_BIN, ...args], {env: {...env, HOME: tmp.path, WID_HOME: join(tmp.path, 'nobody')}, cwd: tmp.path, encoding: 'utf8'})
    expect(spawnSync('getent', ['passwd', '54321']).status).not.toBe(0)
    const help = run(['help', 'status'])
    expect(help.status, help.stderr).toBe(0)
    expect(help.stdout).toContain('wid status')
    const unknown = run(['statsu'])
    expect(unknown.status).toBe(2)
    expect(expectOneLineError({code: unknown.status ?? -1, stdout: unknown.stdout, stderr: unknown.stderr})).toMatch(/^unknown command "statsu"/)
  })
})
