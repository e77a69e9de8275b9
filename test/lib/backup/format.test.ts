/**
 * The backup file (src/lib/backup/format.ts): what is written reads back exactly, and every
 * way a file can go wrong (cut anywhere, a byte changed anywhere, frames moved, a header
 * changed, a wrong passphrase, a newer format) is found before the reader says it is whole.
 */
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {open} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import type {Item} from '../../../src/lib/backend/backend.js'
import {BackupError, BackupReader, BackupWriter} from '../../../src/lib/backup/format.js'
import {deflateRawSync} from 'node:zlib'
import {createHash} from 'node:crypto'

const dir = mkdtempSync(join(tmpdir(), 'wid-backup-format-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

const PASSPHRASE = 'correct horse battery staple'
const pages: Item[][] = [
  Array.from({length: 1000}, (_, i) => ({key: `/audit/2026-11-30T00:00:00.${String(i).padStart(3, '0')}Z.abc`, value: JSON.stringify({type: 'svid.issued', n: i}), revision: i + 1})),
  [
    {key: '/authorities/spiffe', value: '{"key":"-----BEGIN PRIVATE KEY-----\\n…"}', revision: 1001},
    {key: '/test/ünïcode🔐', value: 'line\nnul\u0000end', revision: 1002},
  ],
]
const ITEMS = pages.flat()

let counter = 0
async function write(passphrase?: string): Promise<string> {
  const path = join(dir, `b${counter++}.backup`)
  const file = await open(path, 'wx', 0o600)
  const writer = await BackupWriter.start(file, {created: '2026-11-30T00:00:00.000Z', wid_version: '0.1.0', cluster_name: 'example.org', source: 'memory', revision: 1002}, passphrase)
  for (const page of pages) await writer.writeItems(page)
  expect(await writer.end()).toBe(ITEMS.length)
  await file.close()
  return path
}

/** Reads the whole file: its items, or the problem found. */
async function read(path: string, passphrase?: string): Promise<Item[] | string> {
  const file = await open(path, 'r')
  try {
    const reader = await BackupReader.open(file)
    if (passphrase !== undefined) await reader.unlock(passphrase)
    const items: Item[] = []
    for await (const page of reader.pages()) items.push(...page)
    return items
  } catch (error) {
    if (error instanceof BackupError) return error.problem
    throw error
  } finally {
    await file.close()
  }
}

function variant(path: string, change: (bytes: Buffer) => Buffer): string {
  const changed = join(dir, `v${counter++}.backup`)
  writeFileSync(changed, change(Buffer.from(readFileSync(path))))
  return changed
}

const flip = (at: number) => (bytes: Buffer) => {
  bytes[at] = bytes[at]! ^ 0x01
  return bytes
}

describe('the backup file', () => {
  it('reads back every item exactly, in order, plain and encrypted', async () => {
    const plain = await write()
    expect(await read(plain)).toEqual(ITEMS)
    const sealed = await write(PASSPHRASE)
    expect(await read(sealed, PASSPHRASE)).toEqual(ITEMS)
    // And the encrypted file shows none of its values (the CA key, the audit)
    const text = readFileSync(sealed, 'latin1')
    expect(text).not.toContain('PRIVATE KEY')
    expect(text).not.toContain('/audit/')
    // Its header says what is needed to open it, and no secret
    const header = JSON.parse(text.split('\n')[0]!) as {encryption: Record<string, unknown>}
    expect(header.encryption).toMatchObject({cipher: 'aes-256-gcm', kdf: 'scrypt', n: 131072, r: 8, p: 1})
  })

  it('finds a plain file cut at any length truncated, or (inside the header) not whole', async () => {
    const plain = await write()
    const size = readFileSync(plain).length
    const newline = readFileSync(plain).indexOf(0x0a)
    for (const length of [0, 10, newline, newline + 1, newline + 3, newline + 100, Math.floor(size / 2), size - 40, size - 1]) {
      const cut = variant(plain, (bytes) => bytes.subarray(0, length))
      const found = await read(cut)
      expect(found, `cut at ${length} of ${size}`).toBe(length === 0 ? 'not_backup' : 'truncated')
    }
  })

  it('finds a byte changed anywhere after the header of a plain file', async () => {
    const plain = await write()
    const bytes = readFileSync(plain)
    const start = bytes.indexOf(0x0a) + 1
    for (let at = start; at < bytes.length; at += Math.floor((bytes.length - start) / 23)) {
      expect(await read(variant(plain, flip(at))), `byte ${at} of ${bytes.length}`).toMatch(/^(damaged|truncated)$/)
    }
    // And a byte appended after the end
    expect(await read(variant(plain, (b) => Buffer.concat([b, Buffer.from('x')])))).toBe('damaged')
  })

  it('finds a changed header: another cluster name, revision or passphrase check', async () => {
    const plain = await write()
    const renamed = variant(plain, (b) => Buffer.from(b.toString('latin1').replace('"cluster_name":"example.org"', '"cluster_name":"evil.example"'), 'latin1'))
    expect(await read(renamed)).toBe('damaged')
    const sealed = await write(PASSPHRASE)
    const revised = variant(sealed, (b) => Buffer.from(b.toString('latin1').replace('"revision":1002', '"revision":9002'), 'latin1'))
    expect(await read(revised, PASSPHRASE)).toBe('damaged')
  })

  it('finds an encrypted file whose frames were changed, cut, dropped or swapped; a wrong passphrase is told apart', async () => {
    const sealed = await write(PASSPHRASE)
    const bytes = readFileSync(sealed)
    const start = bytes.indexOf(0x0a) + 1
    const firstLength = bytes.readUInt32BE(start)
    const second = start + 4 + firstLength
    const secondLength = bytes.readUInt32BE(second)
    const third = second + 4 + secondLength
    expect(await read(variant(sealed, flip(start + 100)), PASSPHRASE)).toBe('damaged')
    expect(await read(variant(sealed, (b) => b.subarray(0, third)), PASSPHRASE)).toBe('truncated')
    // The second frame dropped: the end frame now comes second
    expect(await read(variant(sealed, (b) => Buffer.concat([b.subarray(0, second), b.subarray(third)])), PASSPHRASE)).toBe('damaged')
    // The first two frames swapped
    expect(await read(variant(sealed, (b) => Buffer.concat([b.subarray(0, start), b.subarray(second, third), b.subarray(start, second), b.subarray(third)])), PASSPHRASE)).toBe(
      'damaged',
    )
    expect(await read(sealed, 'the wrong passphrase')).toBe('wrong_passphrase')
    expect(await read(sealed)).toBe('needs_passphrase')
  })

  it('refuses a frame that would inflate past 64 MiB (a few MB of zeros) without inflating it all', async () => {
    // Given a plain backup whose only items frame is 100 MiB of zeros, deflated, and an end frame whose digest fits
    const plain = await write()
    const bytes = readFileSync(plain)
    const header = bytes.subarray(0, bytes.indexOf(0x0a) + 1)
    const frame = (body: Buffer) => {
      const length = Buffer.alloc(4)
      length.writeUInt32BE(body.length)
      return Buffer.concat([length, body])
    }
    const bomb = frame(Buffer.concat([Buffer.from([1]), deflateRawSync(Buffer.alloc(100 * 1024 * 1024))]))
    const digest = createHash('sha256').update(header).update(bomb).digest('hex')
    const path = join(dir, 'bomb.backup')
    writeFileSync(path, Buffer.concat([header, bomb, frame(Buffer.concat([Buffer.from([2]), Buffer.from(JSON.stringify({items: 1, sha256: digest}))]))]))
    // When it is read, then it is damaged
    expect(await read(path)).toBe('damaged')
  })

  it('refuses a header whose key derivation would cost more than wid ever asks, or is not what wid writes, before deriving anything', async () => {
    const sealed = await write(PASSPHRASE)
    const headerWith = (change: (encryption: Record<string, unknown>) => unknown) =>
      variant(sealed, (b) => {
        const newline = b.indexOf(0x0a)
        const header = JSON.parse(b.subarray(0, newline).toString('utf8')) as {encryption: Record<string, unknown>}
        return Buffer.concat([Buffer.from(JSON.stringify({...header, encryption: change(header.encryption)})), b.subarray(newline)])
      })
    for (const change of [
      (e: Record<string, unknown>) => ({...e, n: 2 ** 20, r: 32}),
      (e: Record<string, unknown>) => ({...e, p: 16}),
      (e: Record<string, unknown>) => ({...e, r: 1.5}),
      (e: Record<string, unknown>) => ({...e, r: '8'}),
      () => null,
    ]) {
      expect(await read(headerWith(change), PASSPHRASE)).toBe('damaged')
    }
  })

  it('refuses a newer format and anything that is not a backup', async () => {
    const plain = await write()
    expect(await read(variant(plain, (b) => Buffer.from(b.toString('latin1').replace('"version":1', '"version":2'), 'latin1')))).toBe('newer')
    const text = join(dir, 'not-a-backup')
    writeFileSync(text, 'kind: role\nversion: v7\n')
    expect(await read(text)).toBe('not_backup')
    writeFileSync(text, Buffer.alloc(100_000, 0x41))
    expect(await read(text)).toBe('not_backup')
  })
})
