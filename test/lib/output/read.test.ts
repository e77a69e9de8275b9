/**
 * The bounded reader (src/lib/output/read.ts): regular files up to a cap; pipes only where
 * the caller accepts them, with the same cap and a deadline; never a device, socket or FIFO
 * otherwise, and never blocking.
 */
import {spawn, spawnSync, type ChildProcess} from 'node:child_process'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {readBounded} from '../../../src/lib/output/read.js'
import {rejection} from '../../helpers/errors.js'

let root: string
const writers: ChildProcess[] = []

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'wid-read-'))
})

afterEach(() => {
  // each writer leads a process group of its own: the shell and what it runs go together
  for (const writer of writers.splice(0)) {
    try {
      process.kill(-writer.pid!, 'SIGKILL')
    } catch {
      // the group has exited already
    }
  }
  rmSync(root, {recursive: true, force: true})
})

const options = {prefix: 'svid', maxBytes: 16, what: 'an SVID file'}

/** A FIFO in `root` whose writer runs `script` (a shell command writing to its stdout). */
function fifoFrom(script: string): string {
  const fifo = join(root, 'fifo')
  spawnSync('mkfifo', [fifo])
  writers.push(spawn('sh', ['-c', `(${script}) > ${fifo}`], {stdio: 'ignore', detached: true}))
  return fifo
}

describe('readBounded', () => {
  it('reads a regular file up to the cap, and answers undefined for a missing one', async () => {
    writeFileSync(join(root, 'f'), 'exactly 16 bytes')
    expect((await readBounded(join(root, 'f'), options))!.toString()).toBe('exactly 16 bytes')
    expect(await readBounded(join(root, 'missing'), options)).toBeUndefined()
  })

  it('refuses a regular file over the cap', async () => {
    writeFileSync(join(root, 'f'), 'seventeen bytes!!')
    const error = await rejection(readBounded(join(root, 'f'), options))
    expect(error.code).toBe('bad_input')
    expect(error.message).toBe(`svid: ${join(root, 'f')} is larger than the 16 bytes allowed for an SVID file`)
  })

  it('refuses a directory, a device, a socket and, unless pipes are accepted, a FIFO', async () => {
    mkdirSync(join(root, 'dir'))
    const server = createServer().listen(join(root, 'sock'))
    await new Promise((resolve) => server.once('listening', resolve))
    spawnSync('mkfifo', [join(root, 'fifo')])
    try {
      for (const [path, kind] of [
        [join(root, 'dir'), 'a directory'],
        ['/dev/null', 'a character device'],
        [join(root, 'sock'), 'a socket'],
        [join(root, 'fifo'), 'a FIFO'],
      ]) {
        const error = await rejection(readBounded(path!, options))
        expect(error.code).toBe('bad_input')
        expect(error.message).toBe(`svid: ${path} is ${kind}, not a regular file`)
      }
    } finally {
      server.close()
    }
  })

  it('reads a pipe where pipes are accepted, until its writer closes it', async () => {
    const fifo = fifoFrom("printf 'from '; sleep 0.2; printf 'a pipe'")
    expect((await readBounded(fifo, {...options, pipeTimeoutMs: 20_000}))!.toString()).toBe('from a pipe')
  })

  it('refuses a pipe that passes the cap, without reading it to the end', async () => {
    const fifo = fifoFrom('cat /dev/zero')
    const error = await rejection(readBounded(fifo, {...options, pipeTimeoutMs: 20_000}))
    expect(error.code).toBe('bad_input')
    expect(error.message).toBe(`svid: ${fifo} is larger than the 16 bytes allowed for an SVID file`)
  })

  it('gives up on a pipe whose writer does not close it by the deadline', async () => {
    // Given a writer that holds the pipe open without writing
    const fifo = fifoFrom('sleep 30')
    // When it is read with a 200 ms deadline, Then the read fails saying so
    const error = await rejection(readBounded(fifo, {...options, pipeTimeoutMs: 200}))
    expect(error.code).toBe('unavailable')
    expect(error.message).toBe(`svid: ${fifo} was not closed by its writer within 0.2s`)
  })
})
