/**
 * Where an output's files go: a directory (one consistent file set per renewal, the same
 * writer as wid svid issue) or memory (kept in the agent only, as tbot's memory destination).
 */
import {join} from 'node:path'
import {checkOutputDirectory, writeFileSet, type OutputFile} from '../output/files.js'
import {readBounded} from '../output/read.js'
import type {Destination as DestinationConfig} from './config.js'

export interface Destination {
  readonly description: string
  /** Refuses a directory that others could change, before anything is written. */
  check(): Promise<void>
  /** `replace`: the files may replace ones wid did not write (their content was read and kept, or is to be overwritten). */
  write(files: OutputFile[], options?: {replace?: boolean}): Promise<void>
  read(name: string): Promise<string | undefined>
}

export class DirectoryDestination implements Destination {
  readonly description: string
  private readonly dir: string

  constructor(dir: string) {
    this.dir = dir
    this.description = dir
  }

  async check(): Promise<void> {
    await checkOutputDirectory(this.dir)
  }

  async write(files: OutputFile[], options: {replace?: boolean} = {}): Promise<void> {
    await writeFileSet(this.dir, files, {force: options.replace === true})
  }

  async read(name: string): Promise<string | undefined> {
    return (await readBounded(join(this.dir, name), {prefix: 'bot', maxBytes: 1024 * 1024, what: 'an output file'}))?.toString('utf8')
  }
}

export class MemoryDestination implements Destination {
  readonly description = 'memory'
  private readonly files = new Map<string, string>()

  async check(): Promise<void> {}

  async write(files: OutputFile[]): Promise<void> {
    for (const file of files) this.files.set(file.name, typeof file.data === 'string' ? file.data : Buffer.from(file.data).toString('utf8'))
  }

  async read(name: string): Promise<string | undefined> {
    return this.files.get(name)
  }
}

export function openDestination(config: DestinationConfig): Destination {
  return config.type === 'memory' ? new MemoryDestination() : new DirectoryDestination(config.path)
}
