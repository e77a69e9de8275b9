/** The passphrase of an encrypted backup: read from a file, or checked as typed. */
import {statSync} from 'node:fs'
import {badInput} from '../errors.js'
import {readBounded} from '../output/read.js'
import {shortPath} from '../output/paths.js'

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

/** The first line of a file, without its line ending or a byte-order mark (editors add one). */
export async function readPassphraseFile(path: string, prefix: string): Promise<PassphraseFile> {
  const content = await readBounded(path, {prefix, maxBytes: 64 * 1024, what: 'a passphrase file', pipeTimeoutMs: 10_000})
  if (content === undefined) throw badInput(`${prefix}: the passphrase file ${shortPath(path)} does not exist`)
  const passphrase = content.toString('utf8').replace(/^\uFEFF/, '').split(/\r?\n/)[0]!
  if (passphrase === '') throw badInput(`${prefix}: the passphrase file ${shortPath(path)} is empty`)
  let readableByOthers = false
  try {
    readableByOthers = (statSync(path).mode & 0o044) !== 0 && statSync(path).isFile()
  } catch {
    // a pipe that is gone: nothing to warn about
  }
  return {passphrase, readableByOthers}
}
