/**
 * The backup file: one JSON header line, then frames, each a 4-byte big-endian length and
 * its bytes. A frame's plaintext is a type byte and its payload: items (the JSON lines of a
 * snapshot page, `[key, value, revision]`, deflated) or, last, the end (how many items, and
 * the SHA-256 of everything written before the end frame). The end frame is what tells a
 * whole file from a truncated one, and the digest a damaged one from a sound one.
 *
 * With a passphrase, scrypt derives a 256-bit key from it and a random salt, and every
 * frame is sealed with AES-256-GCM: the nonce is a random prefix and the frame's number, the
 * associated data the header's digest, so that a frame changed, dropped, moved or cut, or
 * a header changed, fails to open. A check value derived from the passphrase tells a wrong
 * passphrase from a damaged file.
 */
import {createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, scrypt, timingSafeEqual, type Hash} from 'node:crypto'
import type {FileHandle} from 'node:fs/promises'
import {deflateRawSync, inflateRawSync} from 'node:zlib'
import type {Item} from '../backend/backend.js'
import {WidError} from '../errors.js'

const BACKUP_FORMAT = 'wid-backup'
/** The format this wid writes, and the newest it reads. */
const BACKUP_VERSION = 1

const SCRYPT = {N: 2 ** 17, r: 8, p: 1}
const FRAME_ITEMS = 1
const FRAME_END = 2
/**
 * A frame holds items up to this many bytes of JSON lines (one larger item has a frame of
 * its own), and no frame inflates to more than MAX_INFLATED: a frame that would is damaged,
 * not a reason to fill the memory (a few MB of deflated zeros inflate to GBs).
 */
const FRAME_TEXT = 16 * 1024 * 1024
const MAX_INFLATED = 64 * 1024 * 1024
/** No frame of ours comes near this: a longer one is a damaged length. */
const MAX_FRAME = MAX_INFLATED + 1024 * 1024
/**
 * The most memory scrypt may take to derive the key (128·N·r·p bytes), so that a header
 * that asks for more (it is read before anything is checked) cannot make a restore run for
 * minutes or exhaust the memory. What wid writes takes 128 MiB.
 */
const MAX_SCRYPT_BYTES = 256 * 1024 * 1024
const MAX_HEADER = 64 * 1024
const TAG_BYTES = 16

export interface Encryption {
  cipher: 'aes-256-gcm'
  kdf: 'scrypt'
  n: number
  r: number
  p: number
  salt: string
  nonce_prefix: string
  /** HMAC-SHA256 of a fixed text under a second key derived with the first: a wrong passphrase shows here. */
  check: string
}

export interface BackupHeader {
  format: typeof BACKUP_FORMAT
  version: number
  created: string
  wid_version: string
  cluster_name: string
  /** The kind of store it was taken from (sqlite, postgresql). */
  source: string
  /** The store's revision counter as of the snapshot. */
  revision: number
  encryption?: Encryption
}

interface Keys {
  cipher: Buffer
  check: Buffer
}

async function deriveKeys(passphrase: string, salt: Buffer, params: {n: number; r: number; p: number}): Promise<Keys> {
  const derived = await new Promise<Buffer>((resolve, reject) =>
    scrypt(passphrase.normalize('NFC'), salt, 64, {N: params.n, r: params.r, p: params.p, maxmem: MAX_SCRYPT_BYTES + 1024 * 1024}, (error, key) =>
      error ? reject(error) : resolve(key),
    ),
  )
  return {cipher: derived.subarray(0, 32), check: derived.subarray(32)}
}

const checkValue = (keys: Keys) => createHmac('sha256', keys.check).update('wid-backup passphrase check').digest('base64')

/** Where frames go; the writer counts them and keeps the digest. */
export class BackupWriter {
  private readonly file: FileHandle
  private readonly digest: Hash = createHash('sha256')
  private readonly keys: Keys | undefined
  private readonly noncePrefix: Buffer
  private readonly headerDigest: Buffer
  private frames = 0n
  private items = 0

  private constructor(file: FileHandle, header: Buffer, keys: Keys | undefined, noncePrefix: Buffer) {
    this.file = file
    this.keys = keys
    this.noncePrefix = noncePrefix
    this.headerDigest = createHash('sha256').update(header).digest()
    this.digest.update(header)
  }

  /** Writes the header; with a passphrase, every frame after it is sealed. */
  static async start(file: FileHandle, header: Omit<BackupHeader, 'format' | 'version' | 'encryption'>, passphrase?: string): Promise<BackupWriter> {
    let keys: Keys | undefined
    let encryption: Encryption | undefined
    const noncePrefix = randomBytes(4)
    if (passphrase !== undefined) {
      const salt = randomBytes(16)
      keys = await deriveKeys(passphrase, salt, {n: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p})
      encryption = {cipher: 'aes-256-gcm', kdf: 'scrypt', n: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p, salt: salt.toString('base64'), nonce_prefix: noncePrefix.toString('base64'), check: checkValue(keys)}
    }
    const full: BackupHeader = {format: BACKUP_FORMAT, version: BACKUP_VERSION, ...header, ...(encryption ? {encryption} : {})}
    const line = Buffer.from(JSON.stringify(full) + '\n', 'utf8')
    await file.write(line)
    return new BackupWriter(file, line, keys, noncePrefix)
  }

  /** The items in frames of at most FRAME_TEXT bytes of JSON lines each (or of one item, if larger). */
  async writeItems(items: Item[]): Promise<void> {
    let lines: string[] = []
    let bytes = 0
    const flush = async () => {
      if (lines.length === 0) return
      await this.frame(FRAME_ITEMS, deflateRawSync(Buffer.from(lines.join('\n'), 'utf8')))
      this.items += lines.length
      lines = []
      bytes = 0
    }
    for (const item of items) {
      const line = JSON.stringify([item.key, item.value, item.revision])
      if (bytes + line.length > FRAME_TEXT) await flush()
      lines.push(line)
      bytes += line.length + 1
    }
    await flush()
  }

  /** The end frame: the count and the digest of everything before it. Returns the count. */
  async end(): Promise<number> {
    await this.frame(FRAME_END, Buffer.from(JSON.stringify({items: this.items, sha256: this.digest.copy().digest('hex')}), 'utf8'))
    return this.items
  }

  private async frame(type: number, payload: Buffer): Promise<void> {
    let body = Buffer.concat([Buffer.from([type]), payload])
    if (this.keys) {
      const cipher = createCipheriv('aes-256-gcm', this.keys.cipher, nonce(this.noncePrefix, this.frames))
      cipher.setAAD(this.headerDigest)
      body = Buffer.concat([cipher.update(body), cipher.final(), cipher.getAuthTag()])
    }
    this.frames++
    const length = Buffer.alloc(4)
    length.writeUInt32BE(body.length)
    this.digest.update(length).update(body)
    await this.file.write(Buffer.concat([length, body]))
  }
}

function nonce(prefix: Buffer, frame: bigint): Buffer {
  const counter = Buffer.alloc(8)
  counter.writeBigUInt64BE(frame)
  return Buffer.concat([prefix, counter])
}

/** What reading a backup found wrong, for the caller to put in its own words with the file's name. */
export type BackupProblem = 'not_backup' | 'newer' | 'truncated' | 'damaged' | 'wrong_passphrase' | 'needs_passphrase'

export class BackupError extends WidError {
  readonly problem: BackupProblem
  constructor(problem: BackupProblem, message: string) {
    super(problem === 'wrong_passphrase' || problem === 'needs_passphrase' ? 'bad_input' : 'state', message)
    this.problem = problem
  }
}

/** Reads a backup front to back: the header first, then the items page by page, checked as they come. */
export class BackupReader {
  readonly header: BackupHeader
  private readonly file: FileHandle
  private position: number
  private readonly digest: Hash
  private readonly headerDigest: Buffer
  private keys: Keys | undefined

  private constructor(file: FileHandle, header: BackupHeader, headerBytes: Buffer) {
    this.file = file
    this.header = header
    this.position = headerBytes.length
    this.digest = createHash('sha256').update(headerBytes)
    this.headerDigest = createHash('sha256').update(headerBytes).digest()
  }

  static async open(file: FileHandle): Promise<BackupReader> {
    const start = Buffer.alloc(MAX_HEADER)
    const {bytesRead} = await file.read(start, 0, MAX_HEADER, 0)
    const newline = start.subarray(0, bytesRead).indexOf(0x0a)
    const notBackup = new BackupError('not_backup', 'not a wid backup (wid backup writes them)')
    if (newline < 0) {
      const text = start.subarray(0, bytesRead).toString('utf8')
      const opening = `{"format":"${BACKUP_FORMAT}"`
      throw bytesRead > 0 && (text.startsWith(opening) || opening.startsWith(text)) ? new BackupError('truncated', 'truncated (it ends inside its header)') : notBackup
    }
    let header: BackupHeader
    try {
      header = JSON.parse(start.subarray(0, newline).toString('utf8')) as BackupHeader
    } catch {
      throw notBackup
    }
    if (header?.format !== BACKUP_FORMAT || !Number.isInteger(header.version)) throw notBackup
    if (header.version > BACKUP_VERSION) {
      throw new BackupError('newer', `from a newer wid (${String(header.wid_version)}, backup format ${header.version}; this wid reads format ${BACKUP_VERSION} at most): upgrade wid to restore it`)
    }
    const encryption: unknown = header.encryption
    if (typeof header.cluster_name !== 'string' || !validRevision(header.revision) || typeof header.created !== 'string' || (encryption !== undefined && !validEncryption(encryption))) {
      throw new BackupError('damaged', 'damaged (its header is not one that wid writes)')
    }
    return new BackupReader(file, header, start.subarray(0, newline + 1))
  }

  get encrypted(): boolean {
    return this.header.encryption !== undefined
  }

  /** Derives the key and checks the passphrase against the header's check value. */
  async unlock(passphrase: string): Promise<void> {
    const encryption = this.header.encryption!
    const keys = await deriveKeys(passphrase, Buffer.from(encryption.salt, 'base64'), encryption)
    const expected = Buffer.from(encryption.check, 'base64')
    const actual = Buffer.from(checkValue(keys), 'base64')
    if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) throw new BackupError('wrong_passphrase', 'encrypted with another passphrase (wrong passphrase)')
    this.keys = keys
  }

  /** The items, page by page; throws once something is wrong, having yielded only what was sound so far. */
  async *pages(): AsyncGenerator<Item[]> {
    if (this.encrypted && !this.keys) throw new BackupError('needs_passphrase', 'encrypted, and no passphrase was given')
    let count = 0
    for (let frame = 0n; ; frame++) {
      const {type, payload, digestBefore} = await this.readFrame(frame)
      if (type === FRAME_END) {
        const end = parseJson(payload) as {items?: unknown; sha256?: unknown}
        if (end?.items !== count || end.sha256 !== digestBefore) throw damaged()
        const {bytesRead} = await this.file.read(Buffer.alloc(1), 0, 1, this.position)
        if (bytesRead > 0) throw damaged()
        return
      }
      if (type !== FRAME_ITEMS) throw damaged()
      const page = parseItems(payload)
      count += page.length
      yield page
    }
  }

  /** A frame, opened; `digestBefore` is the digest of the file up to it (what an end frame holds). */
  private async readFrame(frame: bigint): Promise<{type: number; payload: Buffer; digestBefore: string}> {
    const length = await this.readExactly(4)
    const size = length.readUInt32BE()
    if (size === 0 || size > MAX_FRAME) throw damaged()
    const body = await this.readExactly(size)
    const digestBefore = this.digest.copy().digest('hex')
    this.digest.update(length).update(body)
    let plain = body
    if (this.keys) {
      if (body.length < TAG_BYTES + 1) throw damaged()
      const decipher = createDecipheriv('aes-256-gcm', this.keys.cipher, nonce(Buffer.from(this.header.encryption!.nonce_prefix, 'base64'), frame))
      decipher.setAAD(this.headerDigest)
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES))
      try {
        plain = Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()])
      } catch {
        throw damaged()
      }
    }
    return {type: plain[0]!, payload: plain.subarray(1), digestBefore}
  }

  private async readExactly(size: number): Promise<Buffer> {
    const buffer = Buffer.alloc(size)
    let filled = 0
    while (filled < size) {
      const {bytesRead} = await this.file.read(buffer, filled, size - filled, this.position + filled)
      if (bytesRead === 0) throw new BackupError('truncated', 'truncated (it ends before its last part)')
      filled += bytesRead
    }
    this.position += size
    return buffer
  }
}

const damaged = () => new BackupError('damaged', 'damaged, or was changed since it was written (its integrity check fails)')

function parseJson(payload: Buffer): unknown {
  try {
    return JSON.parse(payload.toString('utf8'))
  } catch {
    throw damaged()
  }
}

function parseItems(payload: Buffer): Item[] {
  let text: string
  try {
    text = inflateRawSync(payload, {maxOutputLength: MAX_INFLATED}).toString('utf8')
  } catch {
    throw damaged()
  }
  return text.split('\n').map((line) => {
    const row = parseJson(Buffer.from(line, 'utf8'))
    if (!Array.isArray(row) || row.length !== 3 || typeof row[0] !== 'string' || typeof row[1] !== 'string' || !validRevision(row[2]) || row[2] < 1) throw damaged()
    return {key: row[0], value: row[1], revision: row[2] as number}
  })
}

/** Revisions as every backend keeps them: from 1, and well inside what a JavaScript number holds exactly. */
function validRevision(revision: unknown): revision is number {
  return Number.isSafeInteger(revision) && (revision as number) >= 0 && (revision as number) < 2 ** 52
}

/** What wid writes, within bounds that keep the key's derivation cheap enough (MAX_SCRYPT_BYTES). */
function validEncryption(value: unknown): value is Encryption {
  if (typeof value !== 'object' || value === null) return false
  const e = value as Record<string, unknown>
  const integer = (x: unknown, min: number, max: number): x is number => Number.isInteger(x) && (x as number) >= min && (x as number) <= max
  if (!integer(e.n, 2 ** 14, 2 ** 20) || (e.n & (e.n - 1)) !== 0 || !integer(e.r, 1, 32) || !integer(e.p, 1, 16) || 128 * e.n * e.r * e.p > MAX_SCRYPT_BYTES) return false
  return (
    e.cipher === 'aes-256-gcm' &&
    e.kdf === 'scrypt' &&
    typeof e.salt === 'string' &&
    typeof e.nonce_prefix === 'string' &&
    Buffer.from(e.nonce_prefix, 'base64').length === 4 &&
    typeof e.check === 'string'
  )
}
