/**
 * The server's side of `POST /v1/watchTrust`: a long poll. A caller that names the trust
 * state it has (`since`, a sequence) is answered at once if the state differs, else as soon
 * as it changes, else after WAIT_MS with the state unchanged. The state comes from the one
 * refresh that rebuilds the public documents (public-documents.ts: every second, at once from
 * the change feed and after a rotation through this server), so waiting costs no reads.
 */
import {addressGroup} from '../auth/login.js'
import type {TrustState} from '../auth/trust.js'
import {WidError} from '../errors.js'
import {CONNECTIONS_PER_ADDRESS} from './connections.js'

/**
 * How long an unchanged state is waited for: below the clients' 30 s request timeout
 * (cluster/api-client.ts), with room for a slow answer.
 */
export const WAIT_MS = 20_000

/**
 * Each waiting watch holds a connection: those of one address group (as connections.ts
 * counts them) take at most half its connections, so that agents behind one NAT can always
 * renew. A watch past it is refused; its agent falls back to its timers.
 */
const WAITERS_PER_ADDRESS = CONNECTIONS_PER_ADDRESS / 2

interface Waiter {
  since: number
  group: string
  answer: (state: TrustState) => void
  timer: NodeJS.Timeout
}

export class TrustWatch {
  private state?: TrustState
  private readonly waiters = new Set<Waiter>()
  private readonly perGroup = new Map<string, number>()
  private closed = false

  /**
   * The state the last refresh found (refreshes run one at a time, so it is the newest):
   * waiters whose `since` it no longer is are answered. Any other sequence counts, a lower one
   * too: a store restored, or a database failed over to a replica, may go back.
   */
  publish(state: TrustState): void {
    if (this.state && state.sequence === this.state.sequence) return
    this.state = state
    for (const waiter of this.waiters) if (waiter.since !== state.sequence) this.answer(waiter)
  }

  /**
   * The state, once it is not `since` (at once without `since`), or after `waitMs` as it is;
   * `address` is the caller's. A caller that goes away (`gone` aborts) frees its place at once.
   */
  wait(since: number | undefined, address: string, waitMs = WAIT_MS, gone?: AbortSignal): Promise<TrustState> {
    const state = this.state
    if (!state) return Promise.reject(new WidError('unavailable', 'api: watchTrust: the server has not read the trust state yet'))
    if (since === undefined || since !== state.sequence || this.closed) return Promise.resolve(state)
    const group = addressGroup(address)
    const count = this.perGroup.get(group) ?? 0
    if (count >= WAITERS_PER_ADDRESS) {
      return Promise.reject(new WidError('unavailable', `api: watchTrust: ${count} watches from this address wait already; poll the trust instead (exportTrust)`))
    }
    this.perGroup.set(group, count + 1)
    return new Promise((resolve) => {
      const waiter: Waiter = {since, group, answer: resolve, timer: setTimeout(() => this.answer(waiter), waitMs)}
      this.waiters.add(waiter)
      gone?.addEventListener('abort', () => this.waiters.has(waiter) && this.answer(waiter), {once: true})
    })
  }

  /** Watches waiting now (each holds a connection). */
  get waiting(): number {
    return this.waiters.size
  }

  /** A server that stops answers every waiter now, so that none holds its shutdown. */
  close(): void {
    this.closed = true
    for (const waiter of this.waiters) this.answer(waiter)
  }

  private answer(waiter: Waiter): void {
    clearTimeout(waiter.timer)
    this.waiters.delete(waiter)
    const left = this.perGroup.get(waiter.group)! - 1
    if (left === 0) this.perGroup.delete(waiter.group)
    else this.perGroup.set(waiter.group, left)
    waiter.answer(this.state!)
  }
}
