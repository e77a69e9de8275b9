/**
 * SHA-256 of executables, read from an already opened file (for the unix attestor, a
 * process's /proc/PID/exe, which is the file that process runs even if its path has since
 * been replaced or deleted). Read in slices so a large binary never holds the event loop;
 * remembered by what fstat says of the opened file, so a binary that every workload runs
 * is hashed once; concurrent requests for the same file share one reading.
 */
import {createHash} from 'node:crypto'
import type {BigIntStats} from 'node:fs'
import type {FileHandle} from 'node:fs/promises'

const SLICE_BYTES = 1024 * 1024

export interface BinaryHashStats {
  /** files read and hashed in full */
  computed: number
  /** answers from the cache */
  cacheHits: number
  /** answers that joined a reading already under way */
  shared: number
}

/**
 * The file's identity for the cache: a change of contents changes the size, the
 * modification time or (which no user can set back) the change time.
 */
function fileKey(stat: BigIntStats): string {
  return `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}`
}

export class BinaryHashCache {
  readonly stats: BinaryHashStats = {computed: 0, cacheHits: 0, shared: 0}
  private readonly hashes = new Map<string, string>()
  private readonly pending = new Map<string, Promise<string | undefined>>()

  constructor(
    private readonly maxBytes: number,
    private readonly maxEntries: number,
  ) {}

  /** The hex SHA-256 of `file`, or undefined if it is not a regular file, is larger than the cap, or changed while it was read. */
  async hash(file: FileHandle): Promise<string | undefined> {
    const stat = await file.stat({bigint: true})
    if (!stat.isFile() || stat.size > BigInt(this.maxBytes)) return undefined
    const key = fileKey(stat)
    const cached = this.hashes.get(key)
    if (cached !== undefined) {
      this.stats.cacheHits++
      this.hashes.delete(key)
      this.hashes.set(key, cached)
      return cached
    }
    const pending = this.pending.get(key)
    if (pending) {
      this.stats.shared++
      return pending
    }
    const reading = this.read(file, key).finally(() => this.pending.delete(key))
    this.pending.set(key, reading)
    return reading
  }

  private async read(file: FileHandle, key: string): Promise<string | undefined> {
    this.stats.computed++
    const hash = createHash('sha256')
    const slice = Buffer.allocUnsafe(SLICE_BYTES)
    let position = 0
    for (;;) {
      const {bytesRead} = await file.read(slice, 0, SLICE_BYTES, position)
      if (bytesRead === 0) break
      position += bytesRead
      if (position > this.maxBytes) return undefined
      hash.update(slice.subarray(0, bytesRead))
    }
    if (fileKey(await file.stat({bigint: true})) !== key) return undefined
    const digest = hash.digest('hex')
    this.hashes.set(key, digest)
    if (this.hashes.size > this.maxEntries) this.hashes.delete(this.hashes.keys().next().value!)
    return digest
  }
}
