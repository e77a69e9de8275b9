/**
 * The server's side of `POST /v1/watchTrust`: a long poll. A caller that names the trust
 * state it has (`since`, a sequence) is answered at once if the state differs, else as soon
 * as it changes, else after WAIT_MS with the state unchanged. The state comes from the one
 * refresh that rebuilds the public documents (public-documents.ts: every second, at once from
 * the change feed and after a rotation through this server), so waiting costs no reads.
 */
import type {TrustState} from '../auth/trust.js'
import {WidError} from '../errors.js'

/**
 * How long an unchanged state is waited for: below the clients' 30 s request timeout
 * (cluster/api-client.ts), with room for a slow answer.
 */
export const WAIT_MS = 20_000

interface Waiter {
  since: number
  answer: (state: TrustState) => void
  timer: NodeJS.Timeout
}

export class TrustWatch {
  private state?: TrustState
  private readonly waiters = new Set<Waiter>()
  private closed = false

  /** The state the last refresh found: waiters whose `since` it no longer is are answered. An older one (a refresh overtaken) is ignored. */
  publish(state: TrustState): void {
    if (this.state && state.sequence <= this.state.sequence) return
    this.state = state
    for (const waiter of this.waiters) if (waiter.since !== state.sequence) this.answer(waiter)
  }

  /** The state, once it is not `since` (at once without `since`), or after `waitMs` as it is. */
  wait(since: number | undefined, waitMs = WAIT_MS): Promise<TrustState> {
    const state = this.state
    if (!state) return Promise.reject(new WidError('unavailable', 'api: watchTrust: the server has not read the trust state yet'))
    if (since === undefined || since !== state.sequence || this.closed) return Promise.resolve(state)
    return new Promise((resolve) => {
      const waiter: Waiter = {since, answer: resolve, timer: setTimeout(() => this.answer(waiter), waitMs)}
      this.waiters.add(waiter)
    })
  }

  /** A server that stops answers every waiter now, so that none holds its shutdown. */
  close(): void {
    this.closed = true
    for (const waiter of this.waiters) this.answer(waiter)
  }

  private answer(waiter: Waiter): void {
    clearTimeout(waiter.timer)
    this.waiters.delete(waiter)
    waiter.answer(this.state!)
  }
}
