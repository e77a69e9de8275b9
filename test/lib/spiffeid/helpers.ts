import {expect} from 'vitest'
import {WidError} from '../../../src/lib/errors.js'

/** Every byte value 0..255 as a one-character string, labelled by its hex code for test names. */
export const BYTES: ReadonlyArray<[string, string]> = Array.from({length: 256}, (_, code) => [
  `0x${code.toString(16).padStart(2, '0')}`,
  String.fromCharCode(code),
])

/** How an error message shows a refused character: quoted printable ASCII, else its code point. */
export function shown(c: string): string {
  const code = c.charCodeAt(0)
  return code >= 0x20 && code <= 0x7e ? JSON.stringify(c) : `U+${code.toString(16).toUpperCase().padStart(4, '0')}`
}

export const TRUST_DOMAIN_CHARS =
  'spiffeid: trust domain characters are limited to lowercase letters, numbers, dots, dashes, and underscores'
export const PATH_SEGMENT_CHARS =
  'spiffeid: path segment characters are limited to letters, numbers, dots, dashes, and underscores'

/** Asserts that `action` throws a WidError with code `bad_input` and exactly `message`. */
export function expectBadInput(action: () => unknown, message: string): void {
  let thrown: unknown
  try {
    action()
  } catch (error) {
    thrown = error
  }
  expect(thrown).toBeInstanceOf(WidError)
  expect(thrown).toMatchObject({code: 'bad_input', message})
}
