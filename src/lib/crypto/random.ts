/**
 * Random bytes drawn from the CSPRNG in blocks: one system call per 4 KiB instead of one
 * per serial number or id, which shows up on the issuance hot path.
 */
import {randomBytes} from 'node:crypto'
import {hex} from './der.js'

const pool = {bytes: new Uint8Array(0), offset: 0}

export function pooledRandomBytes(size: number): Uint8Array {
  if (pool.offset + size > pool.bytes.length) {
    pool.bytes = randomBytes(Math.max(4096, size))
    pool.offset = 0
  }
  const out = pool.bytes.subarray(pool.offset, pool.offset + size)
  pool.offset += size
  return out
}

export function randomHex(bytes: number): string {
  return hex(pooledRandomBytes(bytes))
}
