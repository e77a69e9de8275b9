/**
 * Several servers of one cluster (they share its store and present the same host CA, so one
 * pin covers them all): a call goes to the server that last answered, and moves on to the
 * next only when it is certain that the request was not processed. That is when the
 * connection could not be made (refused, unroutable, timed out, a failed TLS handshake:
 * the request is written only after it) or when the server answered that it refused the
 * request unread because its store is unavailable. Any other failure, a timeout after the
 * request was sent above all, is final: a write such as a bot's renewal must never be
 * made twice behind the caller's back.
 *
 * A single name with several addresses is tried address by address within one connection
 * attempt by Node itself (`autoSelectFamily`, on by default: each address is given 250 ms
 * before the next is tried, the last one the whole connect timeout); list the servers
 * separately so that a server whose store is unavailable is passed by too.
 */
import {WidError} from '../errors.js'
import {ConnectTimeout} from '../http-timeouts.js'
import {networkReason} from '../network-errors.js'

/** A failure after which the request may go to another server: it was certainly not processed. */
export class NotProcessed extends WidError {
  /** A few words for the one-line message naming every server tried. */
  readonly reason: string
  constructor(message: string, reason: string) {
    super('unavailable', message)
    this.reason = reason
  }
}

/** OpenSSL's words for a peer that answered something other than TLS (plain HTTP, SSH, …). */
const NOT_TLS = /wrong version number|packet length too long|unknown protocol|record layer failure/i

/** Why a connection could not be made (or an exchange failed), in a few words on one line. */
export function connectionReason(error: unknown): string {
  if (error instanceof ConnectTimeout) return 'timed out'
  const known = networkReason(error)
  if (known) return known
  const message = error instanceof Error ? error.message.split('\n')[0]!.trim() : String(error)
  if (NOT_TLS.test(message)) return "it does not speak TLS on that port (is it the wid server's HTTPS port?)"
  return message || String((error as {code?: unknown})?.code ?? 'connection failed')
}

/** `value` split at commas, each part made HOST:PORT by `normalize`; the same address twice counts once. */
export function splitAddresses(value: string, normalize: (address: string) => string): string[] {
  return [...new Set(value.split(',').map((part) => normalize(part.trim())))]
}

export class ServerList {
  /** Every address, in the order given; the first names the cluster (its profile, a bot's stored identity). */
  readonly addresses: readonly string[]
  private current: string
  private readonly onMove?: (address: string) => Promise<void>

  /**
   * `preferred`: the address that answered last (ignored unless listed). `onMove` is told
   * when another address than the last one answered, to remember it.
   */
  constructor(addresses: readonly string[], preferred?: string, onMove?: (address: string) => Promise<void>) {
    if (addresses.length === 0) throw new WidError('internal', 'a server list needs an address')
    this.addresses = addresses
    this.current = preferred !== undefined && addresses.includes(preferred) ? preferred : addresses[0]!
    this.onMove = onMove
  }

  /** The address that answered last (the first one until one did). */
  get answered(): string {
    return this.current
  }

  /**
   * `attempt` on each address in turn, from the one that answered last, until one does or
   * fails otherwise than NotProcessed. When each fails, one line names every address and
   * why (`unreachable` is added to it); a single address keeps its own message.
   */
  async call<T>(what: string, attempt: (address: string) => Promise<T>, unreachable = ''): Promise<T> {
    const order = [this.current, ...this.addresses.filter((address) => address !== this.current)]
    const failures: string[] = []
    for (const address of order) {
      let value: T
      try {
        value = await attempt(address)
      } catch (error) {
        if (!(error instanceof NotProcessed)) throw error
        if (order.length === 1) throw error
        failures.push(`${address} (${error.reason})`)
        continue
      }
      if (address !== this.current) {
        this.current = address
        // Only a preference for the next call: failing to keep it fails nothing.
        await this.onMove?.(address).catch(() => undefined)
      }
      return value
    }
    throw new WidError('unavailable', `${what}: cannot reach any server: ${failures.join(', ')}${unreachable}`)
  }
}

