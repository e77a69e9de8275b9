/**
 * The one loop that drives everything the agent renews (its own identity and each output):
 * run at once, then every interval; a failed run is retried with exponential backoff from
 * one second, with jitter, a fixed number of times, after which the loop waits for the next
 * interval. `trigger()` runs it now (SIGUSR1), `stop()` ends it after the run in flight.
 */
import {backoffDelay} from '../backoff.js'

export interface LoopOptions {
  name: string
  intervalMs: number
  /** Tries per interval: 5 for outputs, 7 for the bot's own identity (as tbot). */
  tries: number
  run: () => Promise<void>
  /** Told of each failure; `willRetry` is false after the last try of an interval. */
  onFailure?: (error: unknown, attempt: number, willRetry: boolean) => void
  onSuccess?: () => void
  /** The first retry's delay; each next one doubles, never beyond the interval. Default 1 s. */
  backoffMs?: number
  /** In [0, 1): jitter draws. */
  random?: () => number
}

/** setTimeout's longest delay, 2^31 - 1 ms (24.8 days): a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1

export class Loop {
  readonly name: string
  private readonly options: LoopOptions
  private wake?: () => void
  private stopped = false
  private triggered = false
  private running?: Promise<void>

  constructor(options: LoopOptions) {
    this.name = options.name
    this.options = options
  }

  start(): void {
    this.running ??= this.loop()
  }

  /** Runs now (or right after the run in flight), then keeps the interval from there. */
  trigger(): void {
    this.triggered = true
    this.wake?.()
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.wake?.()
    await this.running
  }

  /** Waits `ms` unless triggered or stopped first, in steps a timer can take (a longer delay would fire at once). */
  private sleep(ms: number): Promise<void> {
    if (this.stopped || this.triggered) return Promise.resolve()
    return new Promise<void>((resolve) => {
      let left = ms
      let timer: NodeJS.Timeout
      const done = () => {
        clearTimeout(timer)
        resolve()
      }
      const wait = () => {
        const step = Math.min(left, MAX_TIMER_MS)
        left -= step
        timer = setTimeout(() => (left > 0 ? wait() : done()), step)
      }
      wait()
      this.wake = done
    }).then(() => {
      this.wake = undefined
    })
  }

  /** One interval's worth of tries: true once a run succeeds. */
  private async attempt(): Promise<boolean> {
    const {tries, run, onFailure, onSuccess, intervalMs} = this.options
    const base = this.options.backoffMs ?? 1000
    const random = this.options.random ?? Math.random
    for (let attempt = 1; attempt <= tries && !this.stopped; attempt++) {
      try {
        await run()
        onSuccess?.()
        return true
      } catch (error) {
        const willRetry = attempt < tries && !this.stopped
        onFailure?.(error, attempt, willRetry)
        if (willRetry) await this.sleep(backoffDelay(attempt, base, intervalMs, random))
        if (this.triggered) return false
      }
    }
    return false
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      this.triggered = false
      await this.attempt()
      if (this.stopped) break
      await this.sleep(this.options.intervalMs)
    }
  }
}
