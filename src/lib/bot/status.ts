/**
 * What the agent knows of its own health, per service (the bot identity counts as one):
 * whether it has produced its first output, its last failure, when its files expire, and
 * counters. /readyz and /metrics (./diag.ts) and oneshot's verdict read it.
 */
export const IDENTITY = 'identity'

export interface ServiceStatus {
  ready: boolean
  lastError?: string
  expires?: Date
  renewals: number
  failures: number
}

export class AgentStatus {
  private readonly services = new Map<string, ServiceStatus>()

  constructor(names: string[]) {
    for (const name of [IDENTITY, ...names]) this.services.set(name, {ready: false, renewals: 0, failures: 0})
  }

  private of(name: string): ServiceStatus {
    let status = this.services.get(name)
    if (!status) {
      status = {ready: false, renewals: 0, failures: 0}
      this.services.set(name, status)
    }
    return status
  }

  succeeded(name: string, expires: Date): void {
    const status = this.of(name)
    status.ready = true
    status.lastError = undefined
    status.expires = expires
    status.renewals++
  }

  failed(name: string, error: string): void {
    const status = this.of(name)
    status.failures++
    status.lastError = error
  }

  /** The services that have not produced an output yet, or whose files have expired. */
  failing(now = new Date()): Array<{name: string; reason: string}> {
    return [...this.services]
      .filter(([, s]) => !s.ready || (s.expires !== undefined && s.expires.getTime() <= now.getTime()))
      .map(([name, s]) => ({name, reason: s.lastError ?? (s.ready ? 'its files have expired' : 'no output yet')}))
  }

  entries(): Array<[string, ServiceStatus]> {
    return [...this.services]
  }
}
