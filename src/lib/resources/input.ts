/** Reading a resource stream from a file or stdin, with the size limit applied while reading. */
import {createReadStream} from 'node:fs'
import {WidError} from '../errors.js'
import {MAX_INPUT_BYTES} from './parse.js'

export async function readInput(path: string): Promise<{text: string; source: string}> {
  const source = path === '-' ? 'stdin' : path
  const stream = path === '-' ? process.stdin : createReadStream(path)
  const chunks: Buffer[] = []
  let size = 0
  try {
    for await (const chunk of stream) {
      size += (chunk as Buffer).length
      if (size > MAX_INPUT_BYTES) {
        stream.destroy()
        throw new WidError('bad_input', `${source}: input is larger than ${MAX_INPUT_BYTES / 1024 / 1024} MiB`)
      }
      chunks.push(chunk as Buffer)
    }
  } catch (error) {
    if (error instanceof WidError) throw error
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new WidError('not_found', `${source} does not exist`)
    if (code === 'EISDIR') throw new WidError('bad_input', `${source} is a directory`)
    if (code === 'EACCES') throw new WidError('io', `${source}: permission denied`)
    throw new WidError('io', `cannot read ${source}: ${(error as Error).message}`)
  }
  const buffer = Buffer.concat(chunks)
  const text = new TextDecoder('utf-8', {fatal: false}).decode(buffer)
  if (text.includes('\u0000')) throw new WidError('bad_input', `${source}: binary input (expected YAML or JSON text)`)
  return {text, source}
}
