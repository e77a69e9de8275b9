/**
 * The agent follows the cluster's trust through a watch (Cluster.watchTrust, a long poll)
 * rather than at its renewal interval: told within about a second that a CA rotation moved
 * on, it pushes the new bundles and, when a CA signs with a new key, re-issues the SVIDs that
 * CA signed (see Agent.followTrust). A watch that fails (the server down, or an older server
 * without the method) is retried with backoff; meanwhile the outputs' own timers keep the
 * trust current, as they did before the watch existed.
 */
import type {TrustState} from '../auth/trust.js'
import {backoffDelay} from '../backoff.js'
import {isWidError} from '../errors.js'
import type {AgentLogger} from './log.js'

/** What moved in a change of trust, besides the trusted keys themselves. */
export interface TrustChange {
  /** The SPIFFE CA signs X.509-SVIDs with another key. */
  x509Signer: boolean
  /** The JWT CA signs JWT-SVIDs with another key. */
  jwtSigner: boolean
}

export interface TrustFollowerOptions {
  watch(since: number | undefined): Promise<TrustState>
  /** Told of every change after the first state; awaited before the next watch. */
  changed(change: TrustChange): Promise<void>
  logger: AgentLogger
  /** In [0, 1): jitter draws. */
  random?: () => number
}

const RETRY_BASE_MS = 1000
const RETRY_CAP_MS = 60_000
/**
 * A watch answered unchanged sooner than this was not a wait (a server that is stopping
 * answers every watch at once): the next one is sent after a pause of 1 to 2 s, not at once.
 */
const QUICK_ANSWER_MS = 1000

export class TrustFollower {
  private readonly options: TrustFollowerOptions
  private state?: TrustState
  private stopped = false
  private wake?: () => void
  private running?: Promise<void>

  constructor(options: TrustFollowerOptions) {
    this.options = options
  }

  start(): void {
    this.running ??= this.loop()
  }

  /** Ends the loop; a watch in flight ends when the agent closes its cluster connection. */
  stop(): void {
    this.stopped = true
    this.wake?.()
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms)
      this.wake = () => {
        clearTimeout(timer)
        resolve()
      }
    })
  }

  private async loop(): Promise<void> {
    const {watch, logger} = this.options
    let failures = 0
    while (!this.stopped) {
      let next: TrustState
      const asked = Date.now()
      try {
        next = await watch(this.state?.sequence)
      } catch (error) {
        if (this.stopped) return
        failures++
        // A single failure is retried quietly: a renewed identity replaces the connection a
        // watch was waiting on. The second says so, once until the watch answers again.
        if (failures === 2) {
          logger.warn('trust watch unavailable: the trust bundles are refreshed at the renewal interval until it answers', {
            error: isWidError(error) ? error.message : String(error),
          })
        }
        await this.sleep(backoffDelay(failures, RETRY_BASE_MS, RETRY_CAP_MS, this.options.random ?? Math.random))
        continue
      }
      if (failures >= 2) logger.info('trust watch answers again')
      failures = 0
      const previous = this.state
      this.state = next
      if (previous && previous.sequence === next.sequence && Date.now() - asked < QUICK_ANSWER_MS && !this.stopped) {
        await this.sleep(QUICK_ANSWER_MS * (1 + (this.options.random ?? Math.random)()))
      }
      if (!previous || previous.sequence === next.sequence || this.stopped) continue
      const change = {x509Signer: previous.signing.spiffe !== next.signing.spiffe, jwtSigner: previous.signing.jwt !== next.signing.jwt}
      logger.info('cluster trust changed', {sequence: next.sequence, x509_signer_changed: change.x509Signer, jwt_signer_changed: change.jwtSigner})
      await this.options.changed(change)
    }
  }
}
