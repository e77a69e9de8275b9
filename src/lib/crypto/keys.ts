/**
 * Key pairs as WebCrypto CryptoKeys (the form every other module takes), with the
 * conversions to and from PEM that files and the backend need.
 */
import {createHash, createPrivateKey, KeyObject, sign as nodeSign, X509Certificate} from 'node:crypto'
import {badInput} from '../errors.js'
import {encodePem} from './pem.js'

/** The KeyObject behind each imported CryptoKey, for synchronous signing (see signDer). */
const keyObjects = new WeakMap<CryptoKey, KeyObject>()

/**
 * The JWS algorithms wid accepts from others (JWT-SVIDs, join ID tokens): RSA, ECDSA and
 * RSA-PSS only; never `none` nor HMAC, whose key a verifier would have to share.
 */
export const ASYMMETRIC_JWS_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512']

export const KEY_TYPES = ['ec-p256', 'ec-p384', 'rsa-2048'] as const
export type KeyType = (typeof KEY_TYPES)[number]

interface KeyTypeInfo {
  generate: EcKeyGenParams | RsaHashedKeyGenParams
  import: EcKeyImportParams | RsaHashedImportParams
  hash: 'sha256' | 'sha384'
  /** X.509 signatureAlgorithm OID when this key signs a certificate. */
  signatureOid: string
  /** JWS `alg` when this key signs a JWT. */
  jwsAlg: 'ES256' | 'ES384' | 'RS256'
}

const INFO: Record<KeyType, KeyTypeInfo> = {
  'ec-p256': {
    generate: {name: 'ECDSA', namedCurve: 'P-256'},
    import: {name: 'ECDSA', namedCurve: 'P-256'},
    hash: 'sha256',
    signatureOid: '1.2.840.10045.4.3.2',
    jwsAlg: 'ES256',
  },
  'ec-p384': {
    generate: {name: 'ECDSA', namedCurve: 'P-384'},
    import: {name: 'ECDSA', namedCurve: 'P-384'},
    hash: 'sha384',
    signatureOid: '1.2.840.10045.4.3.3',
    jwsAlg: 'ES384',
  },
  'rsa-2048': {
    generate: {name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: Uint8Array.of(1, 0, 1), hash: 'SHA-256'},
    import: {name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256'},
    hash: 'sha256',
    signatureOid: '1.2.840.113549.1.1.11',
    jwsAlg: 'RS256',
  },
}

export function keyTypeInfo(type: KeyType): KeyTypeInfo {
  return INFO[type]
}


/** A fresh key pair; the private key is extractable so that it can be written to a file. */
export async function generateKeyPair(type: KeyType): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey(INFO[type].generate, true, ['sign', 'verify'])) as CryptoKeyPair
}

/** The key type of a CryptoKey or KeyObject, or an error for anything we do not issue with. */
export function keyTypeOf(key: CryptoKey | KeyObject): KeyType {
  const object = key instanceof KeyObject ? key : KeyObject.from(key)
  const details = object.asymmetricKeyDetails
  if (object.asymmetricKeyType === 'ec') {
    if (details?.namedCurve === 'prime256v1') return 'ec-p256'
    if (details?.namedCurve === 'secp384r1') return 'ec-p384'
    throw badInput(`crypto: unsupported EC curve ${details?.namedCurve ?? 'unknown'} (expected P-256 or P-384)`)
  }
  if (object.asymmetricKeyType === 'rsa') {
    if (details?.modulusLength === 2048) return 'rsa-2048'
    throw badInput(`crypto: unsupported RSA key size ${details?.modulusLength ?? 'unknown'} (expected 2048)`)
  }
  throw badInput(`crypto: unsupported key algorithm ${object.asymmetricKeyType ?? 'unknown'}`)
}

export async function exportPkcs8Der(privateKey: CryptoKey): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.exportKey('pkcs8', privateKey))
}

export async function exportPkcs8Pem(privateKey: CryptoKey): Promise<string> {
  return encodePem('PRIVATE KEY', await exportPkcs8Der(privateKey))
}

export async function exportSpkiDer(publicKey: CryptoKey): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.exportKey('spki', publicKey))
}

/** Imports a private key from PEM (PKCS#8, or PKCS#1/SEC1 for compatibility). */
export function importPrivateKeyPem(pem: string, extractable = false): {type: KeyType; privateKey: CryptoKey} {
  let object: KeyObject
  try {
    object = createPrivateKey({key: pem, format: 'pem'})
  } catch {
    throw badInput('crypto: cannot parse private key (expected a PEM "PRIVATE KEY" block)')
  }
  const type = keyTypeOf(object)
  const privateKey = object.toCryptoKey(INFO[type].import, extractable, ['sign'])
  keyObjects.set(privateKey, object)
  return {type, privateKey}
}

/** The `sha256:<hex>` pin of a SubjectPublicKeyInfo, as `wid status` and `--ca-pin` show it. */
export function spkiPin(spkiDer: Uint8Array): string {
  return `sha256:${createHash('sha256').update(spkiDer).digest('hex')}`
}

/** The pin of a certificate's public key (PEM, or parsed): what wid status shows of a CA and wid login pins. */
export function certificatePin(certificate: string | X509Certificate): string {
  const parsed = typeof certificate === 'string' ? new X509Certificate(certificate) : certificate
  return spkiPin(new Uint8Array(parsed.publicKey.export({type: 'spki', format: 'der'})))
}

/**
 * Signs `data` with a CA key: ECDSA signatures in DER form (node's default), as X.509
 * wants them. Synchronous node:crypto signing is used because it is measurably faster than
 * an async WebCrypto round trip for the small payloads of certificates.
 */
export function signDer(privateKey: CryptoKey, type: KeyType, data: Uint8Array): Uint8Array {
  return nodeSign(INFO[type].hash, data, keyObjectOf(privateKey))
}

/** The KeyObject of a CryptoKey, made once per key: node:crypto signs with it. */
export function keyObjectOf(key: CryptoKey): KeyObject {
  let object = keyObjects.get(key)
  if (!object) {
    object = KeyObject.from(key)
    keyObjects.set(key, object)
  }
  return object
}

