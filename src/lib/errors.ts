/**
 * Typed errors with stable codes. Every failure that reaches a user is a WidError; the
 * CLI entry point maps `code` to an exit status in exactly one place (`exitCodeFor`).
 *
 * Messages follow go-spiffe/jose style: lowercase, package-prefixed, no trailing period,
 * e.g. `spiffeid: path cannot contain dot segments`.
 */
export type ErrorCode =
  | 'bad_input' // a flag, argument or file the user gave is malformed
  | 'not_found' // a named thing does not exist
  | 'already_exists' // refusing to overwrite
  | 'access_denied' // RBAC or rules said no
  | 'compare_failed' // a conditional write lost a race
  | 'invalid_svid' // an SVID or bundle failed validation
  | 'io' // the file system refused
  | 'state' // the stored state is unreadable or inconsistent
  | 'unavailable' // a peer or service cannot be reached
  | 'internal'

export class WidError extends Error {
  readonly code: ErrorCode

  constructor(code: ErrorCode, message: string, options?: {cause?: unknown}) {
    super(message, options)
    this.name = 'WidError'
    this.code = code
  }
}

/** Shorthand for the most common kind: the user's input is wrong. */
export function badInput(message: string): WidError {
  return new WidError('bad_input', message)
}

const EXIT_CODES: Record<ErrorCode, number> = {
  bad_input: 2,
  not_found: 3,
  already_exists: 4,
  access_denied: 5,
  compare_failed: 6,
  invalid_svid: 7,
  io: 8,
  state: 9,
  unavailable: 10,
  internal: 1,
}

export function exitCodeFor(code: ErrorCode): number {
  return EXIT_CODES[code] ?? 1
}

/** A code from elsewhere (a server's answer) as one of ours; anything unknown is `unavailable`. */
export function knownCode(code: unknown): ErrorCode {
  return typeof code === 'string' && Object.hasOwn(EXIT_CODES, code) ? (code as ErrorCode) : 'unavailable'
}

export function isWidError(error: unknown): error is WidError {
  return error instanceof WidError
}
