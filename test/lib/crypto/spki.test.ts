import {generateKeyPairSync} from 'node:crypto'
import {describe, expect, it} from 'vitest'
import {subjectPublicKeyType} from '../../../src/lib/crypto/spki.js'
import {WidError} from '../../../src/lib/errors.js'

const spkiOf = (key: ReturnType<typeof generateKeyPairSync>['publicKey']) => new Uint8Array(key.export({type: 'spki', format: 'der'}))

function expectInvalid(spki: Uint8Array, message: RegExp) {
  try {
    subjectPublicKeyType(spki)
  } catch (error) {
    expect(error).toBeInstanceOf(WidError)
    expect((error as WidError).code).toBe('bad_input')
    expect((error as WidError).message).toMatch(message)
    return
  }
  throw new Error('expected the key to be refused')
}

describe('subjectPublicKeyType', () => {
  it('recognises the key types wid issues for', () => {
    expect(subjectPublicKeyType(spkiOf(generateKeyPairSync('ec', {namedCurve: 'P-256'}).publicKey))).toBe('ec-p256')
    expect(subjectPublicKeyType(spkiOf(generateKeyPairSync('ec', {namedCurve: 'P-384'}).publicKey))).toBe('ec-p384')
    expect(subjectPublicKeyType(spkiOf(generateKeyPairSync('rsa', {modulusLength: 2048}).publicKey))).toBe('rsa-2048')
  })

  it('refuses other curves, sizes and algorithms', () => {
    expectInvalid(spkiOf(generateKeyPairSync('ec', {namedCurve: 'secp256k1'}).publicKey), /unsupported EC curve/)
    expectInvalid(spkiOf(generateKeyPairSync('rsa', {modulusLength: 1024}).publicKey), /RSA modulus must be 2048 bits/)
    expectInvalid(spkiOf(generateKeyPairSync('rsa', {modulusLength: 3072}).publicKey), /RSA modulus must be 2048 bits/)
    expectInvalid(spkiOf(generateKeyPairSync('ed25519').publicKey), /unsupported algorithm/)
  })

  it('refuses an EC point that is not on the curve', () => {
    // Given a valid P-256 key whose last coordinate byte is flipped
    const spki = spkiOf(generateKeyPairSync('ec', {namedCurve: 'P-256'}).publicKey)
    spki[spki.length - 1]! ^= 0x01
    expectInvalid(spki, /EC point is not on the curve/)
  })

  it('refuses coordinates out of range and compressed points', () => {
    const spki = spkiOf(generateKeyPairSync('ec', {namedCurve: 'P-256'}).publicKey)
    const high = spki.slice()
    high.fill(0xff, high.length - 64, high.length - 32)
    expectInvalid(high, /out of range|not on the curve/)
    const compressed = spki.slice()
    compressed[compressed.length - 65] = 0x02
    expectInvalid(compressed, /uncompressed EC point/)
  })

  it('refuses an even RSA exponent', () => {
    const spki = spkiOf(generateKeyPairSync('rsa', {modulusLength: 2048}).publicKey)
    // The exponent 65537 (01 00 01) is the last three bytes
    spki[spki.length - 1] = 0x02
    expectInvalid(spki, /bad RSA public exponent/)
  })

  it('refuses garbage and trailing bytes', () => {
    expectInvalid(new Uint8Array([1, 2, 3]), /not a DER SubjectPublicKeyInfo/)
    expectInvalid(new Uint8Array(0), /not a DER SubjectPublicKeyInfo/)
    const spki = spkiOf(generateKeyPairSync('ec', {namedCurve: 'P-256'}).publicKey)
    expectInvalid(new Uint8Array([...spki, 0]), /not a DER SubjectPublicKeyInfo/)
  })
})
