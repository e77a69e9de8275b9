import {badInput} from '../errors.js'

/**
 * Throws for the first character of `value` that `allowed` rejects: with the message `specific`
 * gives for that character, or else `general` followed by the character found.
 */
export function checkChars(
  value: string,
  allowed: RegExp,
  specific: Readonly<Record<string, string>>,
  general: string,
): void {
  for (const c of value) {
    if (!allowed.test(c)) throw badInput(specific[c] ?? `${general} (found ${describeChar(c)})`)
  }
}

/** Printable ASCII is shown quoted (`"A"`), anything else as its code point (`U+00E9`). */
function describeChar(c: string): string {
  const code = c.codePointAt(0) ?? 0
  if (code >= 0x20 && code <= 0x7e) return JSON.stringify(c)
  return `U+${code.toString(16).toUpperCase().padStart(4, '0')}`
}
