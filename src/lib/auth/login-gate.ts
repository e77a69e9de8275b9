/**
 * Who gets a password check, and when. A check holds a scrypt worker (and 32 MiB) for tens
 * of milliseconds, so only a few run at once; the gate hands those slots out so that a flood
 * of bad logins from many addresses cannot deny logins from the others:
 * - an address (group) has at most one login in flight or waiting: a second one is refused
 *   at once, so one address cannot fill the queue;
 * - waiting logins from addresses without recent failures are served before those from
 *   addresses with some, each in arrival order, so a flooder, once it has failed, always
 *   yields to addresses that have not;
 * - the queue is bounded (an arrival without failures may evict the newest waiting one with
 *   failures) and a login waits at most a deadline.
 * Per process: every server on a store has its own gate.
 */
import {WidError} from '../errors.js'

export interface GateLimits {
  /** Password checks at once. */
  slots: number
  /** Logins waiting for a slot, at most. */
  maxWaiting: number
  /** How long a login waits for a slot before it is turned away. */
  waitMs: number
}

/** One address's place at the gate, from its arrival until it leaves. */
export interface GatePass {
  /** Waits for a password-check slot; `clean` when the address has no recent failed logins. Rejects when turned away. */
  slot(clean: boolean): Promise<void>
  /** Frees the slot (when it holds one) and the address's place; called once slot() has settled. */
  leave(): void
}

interface Holder {
  holding: boolean
}

interface Waiter {
  holder: Holder
  resolve: () => void
  reject: (error: WidError) => void
  timer: NodeJS.Timeout
}

const turnedAway = () => new WidError('unavailable', 'auth: too many logins at once; try again in a moment')

export class LoginGate {
  private readonly limits: GateLimits
  private running = 0
  /** Address groups with a login in flight or waiting. */
  private readonly present = new Set<string>()
  private readonly waitingClean: Waiter[] = []
  /** Oldest first: the newest is the one evicted. */
  private readonly waitingFlagged: Waiter[] = []

  constructor(limits: GateLimits) {
    this.limits = limits
  }

  /** Admits the address group, refused when it already has a login in flight or waiting. */
  enter(group: string): GatePass {
    if (this.present.has(group)) throw new WidError('unavailable', 'auth: a login from this address is already in progress; try again in a moment')
    this.present.add(group)
    const holder: Holder = {holding: false}
    return {
      slot: (clean) => this.acquire(holder, clean),
      leave: () => {
        if (holder.holding) this.release()
        holder.holding = false
        this.present.delete(group)
      },
    }
  }

  private acquire(holder: Holder, clean: boolean): Promise<void> {
    if (this.running < this.limits.slots) {
      this.running++
      holder.holding = true
      return Promise.resolve()
    }
    if (this.waitingClean.length + this.waitingFlagged.length >= this.limits.maxWaiting) {
      const evicted = clean ? this.waitingFlagged.pop() : undefined
      if (!evicted) return Promise.reject(turnedAway())
      clearTimeout(evicted.timer)
      evicted.reject(turnedAway())
    }
    const queue = clean ? this.waitingClean : this.waitingFlagged
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        holder,
        resolve,
        reject,
        timer: setTimeout(() => {
          queue.splice(queue.indexOf(waiter), 1)
          reject(turnedAway())
        }, this.limits.waitMs),
      }
      queue.push(waiter)
    })
  }

  /** A freed slot passes straight to the next waiter, if there is one. */
  private release(): void {
    const next = this.waitingClean.shift() ?? this.waitingFlagged.shift()
    if (!next) {
      this.running--
      return
    }
    clearTimeout(next.timer)
    next.holder.holding = true
    next.resolve()
  }
}
