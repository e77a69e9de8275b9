/**
 * Bounded reads of files a user names. Only a regular file is read — never a device (reading
 * /dev/zero would never end; opening some devices has effects), a socket or a directory —
 * and at most `maxBytes` of it. A FIFO is refused too, except where a caller accepts a pipe
 * (bash's `<(command)` is one, named /dev/fd/63): it is then read until its writer closes
 * it, with the same cap and a deadline. Nothing here can block: the kind is checked before
 * opening, the file is opened with O_NONBLOCK (opening a FIFO without a writer would wait)
 * and checked again on the descriptor.
 */
import {closeSync, constants, fstatSync, openSync, promises as fs, readSync, type Stats} from 'node:fs'
import {Socket} from 'node:net'
import {WidError} from '../errors.js'
import {fileKind, shortPath} from './paths.js'

export const MiB = 1024 * 1024

export interface BoundedReadOptions {
  /** The package prefix of messages (`svid`). */
  prefix: string
  /** The most bytes accepted. */
  maxBytes: number
  /** What the file holds, for the message when it is too large: `an SVID file`. */
  what: string
  /** Accept a pipe too, read until its writer closes it within this many milliseconds. */
  pipeTimeoutMs?: number
}

const size = (bytes: number) => (bytes % MiB === 0 ? `${bytes / MiB} MiB` : `${bytes} bytes`)

/** The file's contents; undefined when it does not exist. */
export async function readBounded(path: string, options: BoundedReadOptions): Promise<Buffer | undefined> {
  const name = shortPath(path)
  const failure = (error: unknown) => new WidError('io', `${options.prefix}: cannot read ${name}: ${(error as Error).message}`, {cause: error})
  const tooLarge = () => new WidError('bad_input', `${options.prefix}: ${name} is larger than the ${size(options.maxBytes)} allowed for ${options.what}`)
  const acceptable = (stat: Stats) => stat.isFile() || (stat.isFIFO() && options.pipeTimeoutMs !== undefined)
  const refuse = (stat: Stats) => new WidError('bad_input', `${options.prefix}: ${name} is ${fileKind(stat)}, not a regular file`)
  let stat: Stats
  try {
    stat = await fs.stat(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw failure(error)
  }
  if (!acceptable(stat)) throw refuse(stat)
  let fd: number
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY)
  } catch (error) {
    throw failure(error)
  }
  let pipe = false
  try {
    const opened = fstatSync(fd)
    if (!acceptable(opened)) throw refuse(opened)
    if (opened.isFIFO()) {
      pipe = true
      return await readPipe(fd, options.maxBytes, options.pipeTimeoutMs!, tooLarge, () => new WidError('unavailable', `${options.prefix}: ${name} was not closed by its writer within ${options.pipeTimeoutMs! / 1000}s`))
    }
    if (opened.size > options.maxBytes) throw tooLarge()
    return readRegular(fd, options.maxBytes, tooLarge)
  } catch (error) {
    throw error instanceof WidError ? error : failure(error)
  } finally {
    // A pipe's descriptor belongs to the socket that read it, which closed it.
    if (!pipe) closeSync(fd)
  }
}

/**
 * The first line of a small file holding a secret (an invite, a passphrase), as scripts
 * write them: a regular file, or a pipe closed by its writer within 10 s. Without its line
 * ending and a byte-order mark; trimmed with `trim`. `label` names the file in the one line
 * said when it is missing or that line is empty (`login: the invite file ./x is empty`),
 * `what` in the one said when it is too large (as readBounded).
 */
export async function readFirstLine(path: string, options: {prefix: string; label: string; what: string; maxBytes: number; trim?: boolean}): Promise<string> {
  const content = await readBounded(path, {prefix: options.prefix, maxBytes: options.maxBytes, what: options.what, pipeTimeoutMs: 10_000})
  const missing = (what: string) => new WidError('bad_input', `${options.prefix}: the ${options.label} ${shortPath(path)} ${what}`)
  if (content === undefined) throw missing('does not exist')
  const first = content.toString('utf8').replace(/^\uFEFF/, '').split(/\r?\n/)[0]!
  const line = options.trim ? first.trim() : first
  if (line === '') throw missing('is empty')
  return line
}

/** At most `maxBytes + 1` bytes, so that a file that grew past the cap is still refused. */
function readRegular(fd: number, maxBytes: number, tooLarge: () => WidError): Buffer {
  const buffer = Buffer.alloc(Math.min(maxBytes + 1, 64 * 1024))
  const chunks: Buffer[] = []
  let total = 0
  for (;;) {
    const read = readSync(fd, buffer, 0, buffer.length, null)
    if (read === 0) return Buffer.concat(chunks, total)
    chunks.push(Buffer.from(buffer.subarray(0, read)))
    total += read
    if (total > maxBytes) throw tooLarge()
  }
}

function readPipe(fd: number, maxBytes: number, timeoutMs: number, tooLarge: () => WidError, timedOut: () => WidError): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = new Socket({fd, readable: true, writable: false})
    const chunks: Buffer[] = []
    let total = 0
    const finish = (error: Error | undefined) => {
      clearTimeout(timer)
      socket.destroy()
      if (error) reject(error)
      else resolve(Buffer.concat(chunks, total))
    }
    const timer = setTimeout(() => finish(timedOut()), timeoutMs)
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk)
      total += chunk.length
      if (total > maxBytes) finish(tooLarge())
    })
    socket.on('end', () => finish(undefined))
    socket.on('error', (error) => finish(error))
  })
}
