/**
 * `wid svid inspect` reads regular files of bounded size only: a FIFO (which would block),
 * a device (/dev/zero never ends), a directory or an oversized file is refused at once with
 * one line. --bundle may also be a pipe, as in the documented `--bundle <(wid auth export ...)`.
 */
import {spawn, spawnSync} from 'node:child_process'
import {mkdirSync, readFileSync, symlinkSync, truncateSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {expectOneLineError, tempDir, widIn, WID_BIN, type RunResult} from '../helpers/cli.js'

/** Far above what a refusal takes: only a run that hangs (the failure these tests guard against) reaches it. */
const HANG_GUARD_MS = 30_000

/** Runs a shell command line with WID_HOME set; kills it and fails if it hangs. */
function shell(home: string, line: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', line], {env: {...process.env, WID_HOME: home, WID: `${process.execPath} ${WID_BIN}`, DEBUG: ''}, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const guard = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`hung: ${line}`))
    }, HANG_GUARD_MS)
    child.on('close', (code) => {
      clearTimeout(guard)
      resolve({code: code ?? -1, stdout, stderr})
    })
  })
}

describe('wid svid inspect on files that are not regular files', () => {
  const tmp = tempDir()
  const home = join(tmp.path, 'home')
  const wid = widIn(home)
  const svid = join(tmp.path, 'svid')
  /** `wid svid inspect ARGS` through the shell, with the hang guard; `$WID` is the wid command. */
  const inspect = (args: string) => shell(home, `exec $WID svid inspect ${args}`)

  beforeAll(async () => {
    expect((await wid(['init', '--cluster-name', 'example.org'])).code).toBe(0)
    expect((await wid(['svid', 'issue', '--output', svid, '/svc/inspect'])).code).toBe(0)
  })
  afterAll(() => tmp.cleanup())

  it('refuses a FIFO that nobody writes, at once', async () => {
    // Given a FIFO with no writer (opening it for reading would block)
    const fifo = join(tmp.path, 'fifo.pem')
    spawnSync('mkfifo', [fifo])
    // When it is inspected
    const result = await inspect(fifo)
    // Then it is refused as bad input, without waiting
    expect(expectOneLineError(result)).toBe(`svid: ${fifo} is a FIFO, not a regular file`)
    expect(result.code).toBe(2)
  })

  it('refuses a directory whose svid.pem is a FIFO', async () => {
    const dir = join(tmp.path, 'fifo-dir')
    mkdirSync(dir)
    spawnSync('mkfifo', [join(dir, 'svid.pem')])
    const result = await inspect(dir)
    expect(expectOneLineError(result)).toBe(`svid: ${join(dir, 'svid.pem')} is a FIFO, not a regular file`)
    expect(result.code).toBe(2)
  })

  it('refuses /dev/zero (a device), also through a symlink and as --bundle', async () => {
    // Given /dev/zero, which never ends, and a certificate "file" that links to it
    const link = join(tmp.path, 'zero.pem')
    symlinkSync('/dev/zero', link)
    // When each is inspected, Then it is refused without being read
    for (const [args, named] of [
      ['/dev/zero', '/dev/zero'],
      [link, link],
      [`${svid} --bundle /dev/zero`, '/dev/zero'],
    ]) {
      const result = await inspect(args!)
      expect(expectOneLineError(result)).toBe(`svid: ${named} is a character device, not a regular file`)
      expect(result.code).toBe(2)
    }
  })

  it('refuses an SVID file over 1 MiB and a bundle over 4 MiB', async () => {
    // Given a (sparse) certificate file of 1 MiB and one byte, and a bundle of 4 MiB and one
    const big = join(tmp.path, 'big.pem')
    writeFileSync(big, '')
    truncateSync(big, 1024 * 1024 + 1)
    const bigBundle = join(tmp.path, 'big-bundle.pem')
    writeFileSync(bigBundle, '')
    truncateSync(bigBundle, 4 * 1024 * 1024 + 1)
    // When they are inspected, Then each is refused, naming the limit
    const result = await inspect(big)
    expect(expectOneLineError(result)).toBe(`svid: ${big} is larger than the 1 MiB allowed for an SVID file`)
    expect(result.code).toBe(2)
    const bundle = await inspect(`${svid} --bundle ${bigBundle}`)
    expect(expectOneLineError(bundle)).toBe(`svid: ${bigBundle} is larger than the 4 MiB allowed for a bundle`)
    expect(bundle.code).toBe(2)
  })

  it('refuses an endless bundle through a pipe once it passes 4 MiB', async () => {
    const result = await inspect(`${svid} --bundle <(cat /dev/zero)`)
    expect(expectOneLineError(result)).toMatch(/^svid: \/dev\/fd\/\d+ is larger than the 4 MiB allowed for a bundle$/)
    expect(result.code).toBe(2)
  })

  it('reads --bundle from a pipe, as in --bundle <(wid auth export --type tls-spiffe)', async () => {
    // Given the bundle written by wid svid issue, fed through bash process substitution
    writeFileSync(join(tmp.path, 'bundle.pem'), readFileSync(join(svid, 'svid_bundle.pem')))
    // When the SVID is inspected against it, and against the CA exported by wid itself
    const fromCat = await inspect(`${join(svid, 'svid.pem')} --bundle <(cat ${join(tmp.path, 'bundle.pem')})`)
    const fromExport = await inspect(`${svid} --bundle <($WID auth export --type tls-spiffe)`)
    // Then the chain is verified
    for (const result of [fromCat, fromExport]) {
      expect(result.code, result.stderr).toBe(0)
      expect(result.stdout).toMatch(/Bundle: +\/dev\/fd\/\d+ \(1 CA\): chain verified/)
    }
  })
})
