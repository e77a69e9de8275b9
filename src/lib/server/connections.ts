/**
 * What happens to a connection when TCP accepts it, before TLS: it is counted by client
 * address, so that one address cannot hold all of the server's connections (addresses are
 * grouped as for logins: an IPv4 address on its own, an IPv6 address by its /64), and it
 * waits until the server may answer.
 */
import type {Server, Socket} from 'node:net'
import type {Logger} from 'pino'
import {addressGroup} from '../auth/login.js'

/**
 * Concurrent connections of one address group. The server closes a connection after 30 s
 * idle, so an agent holds one only while it renews and shortly after: 256 at once from one
 * address (a NAT, an egress proxy) still serves thousands of agents, while 40 addresses
 * are needed to reach the server's 10,000.
 */
export const CONNECTIONS_PER_ADDRESS = 256
/** Refusals are logged at the first one, then summed up once a window. */
const REFUSAL_REPORT_MS = 60_000

export class ConnectionGate {
  private readonly logger: Logger
  private readonly perGroup = new Map<string, number>()
  private refused = new Map<string, number>()
  private report?: NodeJS.Timeout
  /** Connections accepted before `open()`, to be passed on then. */
  private waiting: (() => void)[] | undefined = []

  constructor(logger: Logger) {
    this.logger = logger
  }

  /** Goes in front of `server`'s own connection handling (TLS): a refused connection never reaches it. */
  install(server: Server): void {
    const accept = server.listeners('connection')
    server.removeAllListeners('connection')
    server.on('connection', (socket: Socket) => {
      if (!this.admit(socket)) return
      // (TLS reads what the client sent meanwhile)
      const pass = () => {
        if (!socket.destroyed) for (const listener of accept) listener.call(server, socket)
      }
      if (this.waiting) this.waiting.push(pass)
      else pass()
    })
  }

  /** Passes on the connections accepted so far, and from now on every one at once. */
  open(): void {
    const waiting = this.waiting ?? []
    this.waiting = undefined
    for (const pass of waiting) pass()
  }

  /** Logs the refusals not logged yet, and stops the report timer. */
  flush(): void {
    clearTimeout(this.report)
    this.report = undefined
    if (this.refused.size === 0) return
    const byGroup = [...this.refused].sort((a, b) => b[1] - a[1])
    const total = byGroup.reduce((sum, [, count]) => sum + count, 0)
    this.logger.warn(
      {refused: total, addressGroups: byGroup.length, top: Object.fromEntries(byGroup.slice(0, 10)), limit: CONNECTIONS_PER_ADDRESS},
      'connections closed by the connection limit of their address',
    )
    this.refused = new Map()
  }

  private admit(socket: Socket): boolean {
    const group = addressGroup(socket.remoteAddress ?? 'unknown')
    const count = this.perGroup.get(group) ?? 0
    if (count >= CONNECTIONS_PER_ADDRESS) {
      socket.destroy()
      this.noteRefusal(group)
      return false
    }
    this.perGroup.set(group, count + 1)
    socket.once('close', () => {
      const left = this.perGroup.get(group)! - 1
      if (left === 0) this.perGroup.delete(group)
      else this.perGroup.set(group, left)
    })
    return true
  }

  private noteRefusal(group: string): void {
    if (!this.report) {
      this.logger.warn(
        {addressGroup: group, limit: CONNECTIONS_PER_ADDRESS},
        'connection limit of an address reached: its further connections are closed at once (a count follows within a minute)',
      )
      this.report = setTimeout(() => this.flush(), REFUSAL_REPORT_MS)
      this.report.unref()
    }
    this.refused.set(group, (this.refused.get(group) ?? 0) + 1)
  }
}
