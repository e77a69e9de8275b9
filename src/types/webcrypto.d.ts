// Node's WebCrypto types under their DOM names, so that lib code can say `CryptoKey`
// without pulling the whole DOM library into a server-side program.
import type {webcrypto} from 'node:crypto'

declare global {
  type CryptoKey = webcrypto.CryptoKey
  type CryptoKeyPair = webcrypto.CryptoKeyPair
  type EcKeyGenParams = webcrypto.EcKeyGenParams
  type EcKeyImportParams = webcrypto.EcKeyImportParams
  type RsaHashedKeyGenParams = webcrypto.RsaHashedKeyGenParams
  type RsaHashedImportParams = webcrypto.RsaHashedImportParams
}
