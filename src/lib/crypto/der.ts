/**
 * A small DER encoder and TLV reader: just what is needed to build certificates on the
 * issuance hot path without loading a full ASN.1 library (see bench/ for why).
 */
import {WidError} from '../errors.js'

export type Der = Uint8Array

export function tlv(tag: number, ...contents: Der[]): Der {
  let size = 0
  for (const c of contents) size += c.length
  const lengthOctets = size < 0x80 ? 0 : size < 0x100 ? 1 : size < 0x10000 ? 2 : size < 0x1000000 ? 3 : 4
  const out = new Uint8Array(2 + lengthOctets + size)
  out[0] = tag
  if (lengthOctets === 0) out[1] = size
  else {
    out[1] = 0x80 | lengthOctets
    for (let i = 0; i < lengthOctets; i++) out[1 + lengthOctets - i] = Math.floor(size / 256 ** i) & 0xff
  }
  let offset = 2 + lengthOctets
  for (const c of contents) {
    out.set(c, offset)
    offset += c.length
  }
  return out
}

export const sequence = (...items: Der[]): Der => tlv(0x30, ...items)
export const set = (...items: Der[]): Der => tlv(0x31, ...items)
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
export const explicit = (n: number, ...contents: Der[]): Der => tlv(0xa0 | n, ...contents)
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
  const iso = date.toISOString() // YYYY-MM-DDTHH:MM:SS.sssZ for years 0000-9999
  const digits = iso.slice(0, 4) + iso.slice(5, 7) + iso.slice(8, 10) + iso.slice(11, 13) + iso.slice(14, 16) + iso.slice(17, 19) + 'Z'
  const year = date.getUTCFullYear()
  if (year >= 1950 && year < 2050) return tlv(0x17, ascii(digits.slice(2)))
  return tlv(0x18, ascii(digits))
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
