/**
 * A small DER encoder and TLV reader: just what is needed to build certificates on the
 * issuance hot path without loading a full ASN.1 library (see bench/ for why).
 *
 * Encoding is two-step so that nested structures are written once: `element` records a tag
 * and its parts (bytes or other elements) and their total size; `encode` allocates one
 * buffer and writes the whole tree into it. The eager helpers below (`tlv`, `sequence`, …)
 * are `encode(element(…))` for callers that want bytes at once.
 */
import {WidError} from '../errors.js'

export type Der = Uint8Array

/** An element whose encoding is deferred until `encode`. */
export interface Element {
  tag: number
  parts: Part[]
  /** Length of the contents, header excluded. */
  size: number
}

export type Part = Uint8Array | Element

const headerSize = (size: number) => (size < 0x80 ? 2 : size < 0x100 ? 3 : size < 0x10000 ? 4 : size < 0x1000000 ? 5 : 6)

/** The encoded length of a part: its bytes, or an element's header and contents. */
export const encodedSize = (part: Part): number => (part instanceof Uint8Array ? part.length : headerSize(part.size) + part.size)

export function element(tag: number, parts: Part[]): Element {
  let size = 0
  for (const part of parts) size += encodedSize(part)
  return {tag, parts, size}
}

function write(out: Uint8Array, offset: number, part: Part): number {
  if (part instanceof Uint8Array) {
    out.set(part, offset)
    return offset + part.length
  }
  const {size} = part
  out[offset++] = part.tag
  if (size < 0x80) out[offset++] = size
  else {
    const octets = headerSize(size) - 2
    out[offset++] = 0x80 | octets
    for (let i = octets - 1; i >= 0; i--) out[offset++] = Math.floor(size / 256 ** i) & 0xff
  }
  for (const child of part.parts) offset = write(out, offset, child)
  return offset
}

/**
 * The DER bytes of a part, written into one new buffer (from node's buffer pool: every byte
 * is written, and a small pooled allocation is far cheaper than a new ArrayBuffer).
 */
export function encode(part: Part): Der {
  const out = Buffer.allocUnsafe(encodedSize(part))
  write(out, 0, part)
  return out
}

export function tlv(tag: number, ...contents: Part[]): Der {
  return encode(element(tag, contents))
}

/** Lower-case hex of bytes, without copying them. */
export const hex = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')

export const sequence = (...items: Part[]): Der => tlv(0x30, ...items)
export const set = (...items: Part[]): Der => tlv(0x31, ...items)
export const octetString = (bytes: Uint8Array): Der => tlv(0x04, bytes)
export const nullValue = (): Der => Uint8Array.of(0x05, 0x00)
export const boolean = (value: boolean): Der => Uint8Array.of(0x01, 0x01, value ? 0xff : 0x00)
const encoder = new TextEncoder()

/** Bytes of an ASCII string (certificate times, SPIFFE IDs, DNS names) without a UTF-8 pass. */
export function ascii(value: string): Uint8Array {
  const out = new Uint8Array(value.length)
  for (let i = 0; i < value.length; i++) out[i] = value.charCodeAt(i)
  return out
}

export const utf8String = (value: string): Der => tlv(0x0c, encoder.encode(value))
export const printableString = (value: string): Der => tlv(0x13, ascii(value))
/** Context-specific, constructed (EXPLICIT) tag [n]. */
export const explicit = (n: number, ...contents: Part[]): Der => tlv(0xa0 | n, ...contents)
/** Context-specific, primitive (IMPLICIT) tag [n] over raw content bytes. */
export const implicitPrimitive = (n: number, content: Uint8Array): Der => tlv(0x80 | n, content)

/** INTEGER from unsigned big-endian magnitude bytes (a 0x00 is prepended when needed). */
export function unsignedInteger(magnitude: Uint8Array): Der {
  let start = 0
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++
  const trimmed = magnitude.subarray(start)
  return trimmed[0]! & 0x80 ? tlv(0x02, Uint8Array.of(0), trimmed) : tlv(0x02, trimmed)
}

export function smallInteger(value: number): Der {
  return unsignedInteger(Uint8Array.of(value))
}

export function bitString(bytes: Uint8Array, unusedBits = 0): Der {
  return tlv(0x03, Uint8Array.of(unusedBits), bytes)
}

/** A named-bit BIT STRING (e.g. keyUsage) in DER's minimal form. */
export function namedBits(bits: number[]): Der {
  const highest = Math.max(...bits)
  const bytes = new Uint8Array(Math.floor(highest / 8) + 1)
  for (const bit of bits) bytes[bit >> 3]! |= 0x80 >> (bit & 7)
  return bitString(bytes, 7 - (highest & 7))
}

const oidCache = new Map<string, Der>()

export function oid(dotted: string): Der {
  const cached = oidCache.get(dotted)
  if (cached) return cached
  const arcs = dotted.split('.').map(Number)
  const body: number[] = []
  const push = (value: number) => {
    const chunk = [value & 0x7f]
    for (let v = Math.floor(value / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift(0x80 | (v & 0x7f))
    body.push(...chunk)
  }
  push(arcs[0]! * 40 + arcs[1]!)
  for (const arc of arcs.slice(2)) push(arc)
  const encoded = tlv(0x06, Uint8Array.from(body))
  oidCache.set(dotted, encoded)
  return encoded
}

/** UTCTime before 2050, GeneralizedTime from 2050 on (RFC 5280 §4.1.2.5); whole seconds, UTC. */
export function time(date: Date): Der {
  const year = date.getUTCFullYear()
  if (!(year >= 0 && year <= 9999)) throw new WidError('bad_input', `crypto: cannot encode the time ${String(date)}`)
  const utc = year >= 1950 && year < 2050
  const out = new Uint8Array(utc ? 15 : 17)
  out[0] = utc ? 0x17 : 0x18
  out[1] = out.length - 2
  let offset = 2
  const twoDigits = (n: number) => {
    out[offset++] = 0x30 + Math.floor(n / 10)
    out[offset++] = 0x30 + (n % 10)
  }
  if (!utc) twoDigits(Math.floor(year / 100))
  twoDigits(year % 100)
  twoDigits(date.getUTCMonth() + 1)
  twoDigits(date.getUTCDate())
  twoDigits(date.getUTCHours())
  twoDigits(date.getUTCMinutes())
  twoDigits(date.getUTCSeconds())
  out[offset] = 0x5a
  return out
}

export interface Tlv {
  tag: number
  /** The whole element, header included. */
  raw: Uint8Array
  /** The element's contents. */
  value: Uint8Array
}

function malformed(): WidError {
  return new WidError('bad_input', 'crypto: malformed DER encoding')
}

/** Reads the element at `offset`. */
export function readTlv(bytes: Uint8Array, offset = 0): Tlv {
  if (offset + 2 > bytes.length) throw malformed()
  const tag = bytes[offset]!
  let length = bytes[offset + 1]!
  let header = 2
  if (length & 0x80) {
    const count = length & 0x7f
    if (count === 0 || count > 4 || offset + 2 + count > bytes.length) throw malformed()
    length = 0
    for (let i = 0; i < count; i++) length = length * 256 + bytes[offset + 2 + i]!
    header += count
  }
  const end = offset + header + length
  if (end > bytes.length) throw malformed()
  return {tag, raw: bytes.subarray(offset, end), value: bytes.subarray(offset + header, end)}
}

/** The child elements of a constructed element's contents. */
export function readChildren(value: Uint8Array): Tlv[] {
  const children: Tlv[] = []
  for (let offset = 0; offset < value.length; ) {
    const child = readTlv(value, offset)
    children.push(child)
    offset += child.raw.length
  }
  return children
}

/** Reads a UTCTime or GeneralizedTime as `time` writes it (whole seconds, `Z`). */
export function readTime(tlv: Tlv): Date {
  const text = Buffer.from(tlv.value).toString('latin1')
  const match = (tlv.tag === 0x17 ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/ : tlv.tag === 0x18 ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/ : undefined)?.exec(text)
  if (!match) throw malformed()
  const [year, month, day, hours, minutes, seconds] = match.slice(1).map(Number) as [number, number, number, number, number, number]
  // RFC 5280 §4.1.2.5.1: a UTCTime year below 50 is 20YY
  const fullYear = tlv.tag === 0x17 ? (year < 50 ? 2000 + year : 1900 + year) : year
  return new Date(Date.UTC(fullYear, month - 1, day, hours, minutes, seconds))
}
