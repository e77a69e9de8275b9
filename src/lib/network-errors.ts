/**
 * The words for a connection that failed, as wid shows them: Node's error codes (also the
 * code of the AggregateError that a connection to a name with several addresses ends in,
 * whose message is empty) as a few plain words.
 */
export const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'unknown host',
  EAI_AGAIN: 'host name lookup failed',
  EPIPE: 'connection closed',
}

/** `error`'s code in plain words, if it is a known network failure. */
export function networkReason(error: unknown): string | undefined {
  const code = (error as {code?: unknown} | undefined)?.code
  return typeof code === 'string' ? NETWORK_REASONS[code] : undefined
}
