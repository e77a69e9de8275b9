/** The passphrase of an encrypted backup: read from a file, or checked as typed. */
import {statSync} from 'node:fs'
import {badInput} from '../errors.js'
import {readFirstLine} from '../output/read.js'

/** Long enough that guessing it offline, even at scrypt's cost, is out of reach (characters, not UTF-16 units). */
const MIN_PASSPHRASE_LENGTH = 12

export function checkPassphrase(passphrase: string, prefix: string): string {
  if ([...passphrase].length < MIN_PASSPHRASE_LENGTH || passphrase.trim() === '') {
    throw badInput(`${prefix}: the passphrase is too short (at least ${MIN_PASSPHRASE_LENGTH} characters, not only spaces)`)
  }
  return passphrase
}

export interface PassphraseFile {
  passphrase: string
  /** Whether others than its owner may read the file (worth a warning). */
  readableByOthers: boolean
}

/** The first line of a file, as it is (spaces count), without its line ending or a byte-order mark (editors add one). */
export async function readPassphraseFile(path: string, prefix: string): Promise<PassphraseFile> {
  const passphrase = await readFirstLine(path, {prefix, label: 'passphrase file', what: 'a passphrase file', maxBytes: 64 * 1024})
  let readableByOthers = false
  try {
    const stat = statSync(path)
    readableByOthers = stat.isFile() && (stat.mode & 0o044) !== 0
  } catch {
    // a pipe that is gone: nothing to warn about
  }
  return {passphrase, readableByOthers}
}
