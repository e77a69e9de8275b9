/** What the listeners of wid (the server's, the diagnostics endpoints') share: HOST:PORT parsing and the reasons they cannot listen. */
import {WidError, type ErrorCode} from './errors.js'

/** HOST:PORT (an IPv6 host in brackets); undefined when `value` is not one. Port 0 asks for any free port. */
export function parseHostPort(value: string): {host: string; port: number} | undefined {
  // Brackets are for IPv6 only (they hold a colon): [127.0.0.1] would be announced as no URL can name it
  const match = /^(\[[0-9a-fA-F.]*:[0-9a-fA-F:.]*\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(value)
  const port = Number(match?.[2])
  if (!match || port > 65535) return undefined
  return {host: match[1]!.replace(/^\[|\]$/g, ''), port}
}

/** Whether a host is a loopback address, which only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
}

const REASONS: Record<string, [ErrorCode, string]> = {
  EADDRINUSE: ['unavailable', 'the address is in use'],
  EADDRNOTAVAIL: ['bad_input', 'no such address on this machine'],
  ENOTFOUND: ['bad_input', 'the host name does not resolve'],
  EACCES: ['access_denied', 'permission denied (ports below 1024 need privileges)'],
}

/** A listener's start-up error as one line: `what` (e.g. "server: cannot listen on 0.0.0.0:3443"), then why. */
export function listenFailure(error: NodeJS.ErrnoException, what: string): WidError {
  const [code, why] = REASONS[error.code ?? ''] ?? ['io', error.message]
  return new WidError(code, `${what}: ${why}`)
}
