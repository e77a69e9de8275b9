/** What a StoreObserver is told by the SQLite backend: each get's cache hit or miss, each write's time. */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {putItem, type StoreObserver} from '../../../src/lib/backend/backend.js'
import {SqliteBackend} from '../../../src/lib/backend/sqlite.js'

/** The writer thread runs the backend's own module file, which has to be JavaScript: that variant uses the build (see contract.test.ts). */
const BUILT = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'dist', 'lib', 'backend', 'sqlite.js')).href

let dir: string
beforeEach(() => void (dir = mkdtempSync(join(tmpdir(), 'wid-observer-'))))
afterEach(() => rmSync(dir, {recursive: true, force: true}))

function recorder(): StoreObserver & {reads: boolean[]; writes: number[]} {
  const reads: boolean[] = []
  const writes: number[] = []
  return {reads, writes, cacheRead: (hit) => reads.push(hit), wrote: (seconds) => writes.push(seconds)}
}

describe('StoreObserver', () => {
  for (const writerThread of [false, true]) {
    it(`is told of SQLite's cache hits and misses, and of every write${writerThread ? ' through the writer thread' : ''}`, async () => {
      const observer = recorder()
      const Backend = writerThread ? ((await import(BUILT)) as {SqliteBackend: typeof SqliteBackend}).SqliteBackend : SqliteBackend
      const backend = await Backend.open(join(dir, 'wid.db'), {writerThread, observer})
      try {
        await putItem(backend, '/a', '1')
        expect(await backend.get('/a')).toMatchObject({value: '1'})
        expect(await backend.get('/a')).toMatchObject({value: '1'})
        // an absent key is cached too
        expect(await backend.get('/b')).toBeUndefined()
        expect(await backend.get('/b')).toBeUndefined()
        expect(observer.reads).toEqual([false, true, false, true])
        expect(observer.writes).toHaveLength(1)
        expect(observer.writes[0]).toBeGreaterThan(0)
      } finally {
        await backend.close()
      }
    })
  }
})
