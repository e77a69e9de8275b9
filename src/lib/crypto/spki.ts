/**
 * Checks a SubjectPublicKeyInfo sent for signing and tells its key type, without a
 * round trip through OpenSSL key objects (which costs more than the signature itself on
 * the issuance path). EC points are checked to be on their curve; RSA moduli must be
 * exactly 2048 bits with an odd public exponent.
 */
import {badInput} from '../errors.js'
import {bitString, oid, readChildren, readTlv, sequence} from './der.js'
import type {KeyType} from './keys.js'

const EC_PUBLIC_KEY = oid('1.2.840.10045.2.1')
const RSA_ENCRYPTION = oid('1.2.840.113549.1.1.1')

interface Curve {
  type: KeyType
  prefix: Uint8Array
  oid: Uint8Array
  size: number
  p: bigint
  b: bigint
}

const CURVES: Curve[] = ([
  {
    type: 'ec-p256',
    oid: oid('1.2.840.10045.3.1.7'),
    size: 32,
    p: 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n,
    b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
  },
  {
    type: 'ec-p384',
    oid: oid('1.3.132.0.34'),
    size: 48,
    p: 2n ** 384n - 2n ** 128n - 2n ** 96n + 2n ** 32n - 1n,
    b: 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn,
  },
] satisfies Omit<Curve, 'prefix'>[]).map((curve) => ({...curve, prefix: uncompressedPrefix(curve.oid, curve.size)}))

/**
 * The bytes before the point in the SPKI of an uncompressed key on a curve. DER has one
 * encoding per value, so a well-formed key of that curve is exactly these bytes and the point.
 */
function uncompressedPrefix(curveOid: Uint8Array, size: number): Uint8Array {
  const full = sequence(sequence(EC_PUBLIC_KEY, curveOid), bitString(new Uint8Array(1 + 2 * size)))
  return full.subarray(0, full.length - (1 + 2 * size))
}

const equal = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i])
const toBigInt = (bytes: Uint8Array) => BigInt('0x' + (Buffer.from(bytes).toString('hex') || '0'))

/** A curve coordinate (a multiple of 8 bytes long) as a bigint, read 64 bits at a time. */
function coordinate(bytes: Uint8Array): bigint {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let value = 0n
  for (let i = 0; i < bytes.length; i += 8) value = (value << 64n) | view.getBigUint64(i)
  return value
}

const startsWith = (bytes: Uint8Array, prefix: Uint8Array) => {
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false
  return true
}
const invalid = (why: string) => badInput(`crypto: invalid public key: ${why}`)

function mod(a: bigint, p: bigint): bigint {
  const r = a % p
  return r < 0n ? r + p : r
}

function checkEcPoint(curve: Curve, point: Uint8Array): void {
  if (point[0] !== 0x04 || point.length !== 1 + 2 * curve.size) throw invalid('expected an uncompressed EC point')
  const x = coordinate(point.subarray(1, 1 + curve.size))
  const y = coordinate(point.subarray(1 + curve.size))
  const {p, b} = curve
  if (x >= p || y >= p) throw invalid('EC point coordinates out of range')
  if (mod(y * y - (x * x * x - 3n * x + b), p) !== 0n) throw invalid('EC point is not on the curve')
}

function checkRsaKey(key: Uint8Array): void {
  const [modulus, exponent, ...rest] = readChildren(readTlv(key).value)
  if (!modulus || !exponent || rest.length > 0 || modulus.tag !== 0x02 || exponent.tag !== 0x02) throw invalid('malformed RSA key')
  const n = modulus.value[0] === 0 ? modulus.value.subarray(1) : modulus.value
  if (n.length !== 256 || n[0]! < 0x80) throw invalid('RSA modulus must be 2048 bits')
  const e = exponent.value
  if (e.length === 0 || e.length > 8 || (e[e.length - 1]! & 1) === 0 || toBigInt(e) < 3n) throw invalid('bad RSA public exponent')
}

export function subjectPublicKeyType(spki: Uint8Array): KeyType {
  for (const curve of CURVES) {
    if (spki.length === curve.prefix.length + 1 + 2 * curve.size && startsWith(spki, curve.prefix)) {
      checkEcPoint(curve, spki.subarray(curve.prefix.length))
      return curve.type
    }
  }
  try {
    const outer = readTlv(spki)
    if (outer.tag !== 0x30 || outer.raw.length !== spki.length) throw invalid('not a DER SubjectPublicKeyInfo')
    const [algorithm, publicKey, ...rest] = readChildren(outer.value)
    if (!algorithm || !publicKey || rest.length > 0 || algorithm.tag !== 0x30 || publicKey.tag !== 0x03) {
      throw invalid('not a DER SubjectPublicKeyInfo')
    }
    const [algorithmOid, parameters] = readChildren(algorithm.value)
    if (publicKey.value[0] !== 0) throw invalid('public key bit string has unused bits')
    const keyBits = publicKey.value.subarray(1)
    if (algorithmOid && equal(algorithmOid.raw, EC_PUBLIC_KEY)) {
      const curve = CURVES.find((c) => parameters && equal(parameters.raw, c.oid))
      if (!curve) throw invalid('unsupported EC curve (expected P-256 or P-384)')
      checkEcPoint(curve, keyBits)
      return curve.type
    }
    if (algorithmOid && equal(algorithmOid.raw, RSA_ENCRYPTION)) {
      checkRsaKey(keyBits)
      return 'rsa-2048'
    }
    throw invalid('unsupported algorithm (expected EC P-256, EC P-384 or RSA-2048)')
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('crypto: invalid public key')) throw error
    throw invalid('not a DER SubjectPublicKeyInfo')
  }
}
