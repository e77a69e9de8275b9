/**
 * Connections per client address, counted when TCP accepts them (before TLS), so that one
 * address cannot hold all of the server's connections. Addresses are grouped as for logins:
 * an IPv4 address on its own, an IPv6 address by its /64.
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

export class ConnectionLimit {
  private readonly logger: Logger
  private readonly open = new Map<string, number>()
  private refused = new Map<string, number>()
  private report?: NodeJS.Timeout

  constructor(logger: Logger) {
    this.logger = logger
  }

  /** Puts the limit in front of `server`'s own connection handling (TLS): a refused connection never reaches it. */
  install(server: Server): void {
    const accept = server.listeners('connection')
    server.removeAllListeners('connection')
    server.on('connection', (socket: Socket) => {
      if (this.admit(socket)) for (const listener of accept) listener.call(server, socket)
    })
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
    const count = this.open.get(group) ?? 0
    if (count >= CONNECTIONS_PER_ADDRESS) {
      socket.destroy()
      this.noteRefusal(group)
      return false
    }
    this.open.set(group, count + 1)
    socket.once('close', () => {
      const left = this.open.get(group)! - 1
      if (left === 0) this.open.delete(group)
      else this.open.set(group, left)
    })
    return true
  }

  private noteRefusal(group: string): void {
    if (!this.report) {
      this.logger.warn(
        {addressGroup: group, limit: CONNECTIONS_PER_ADDRESS},
        'connection limit of an address reached: its new connections are closed at once (counts follow once a minute)',
      )
      this.report = setTimeout(() => this.flush(), REFUSAL_REPORT_MS)
      this.report.unref()
    }
    this.refused.set(group, (this.refused.get(group) ?? 0) + 1)
  }
}
