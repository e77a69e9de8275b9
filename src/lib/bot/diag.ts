/**
 * `wid bot start --diag-addr`: the diagnostics endpoints (see diag-server.ts), ready once
 * every service has produced its first output, with the agent's metrics.
 */
import {labelValue, metricFamily, startDiagServer, type DiagServer} from '../diag-server.js'
import type {AgentStatus} from './status.js'

export function renderMetrics(status: AgentStatus, now = new Date()): string {
  const lines: string[] = []
  const family = (name: string, type: 'counter' | 'gauge', help: string, value: (s: ReturnType<AgentStatus['entries']>[number][1]) => number | undefined) => {
    const samples = status.entries().flatMap(([service, s]) => {
      const v = value(s)
      return v === undefined ? [] : [`${name}{service="${labelValue(service)}"} ${v}`]
    })
    lines.push(...metricFamily(name, type, help, samples))
  }
  family('wid_bot_renewals_total', 'counter', 'Successful renewals of each service (the bot identity is service "identity").', (s) => s.renewals)
  family('wid_bot_renewal_failures_total', 'counter', 'Failed renewal tries of each service.', (s) => s.failures)
  family('wid_bot_output_ready', 'gauge', '1 once the service has produced an output that has not expired.', (s) => (s.ready && (!s.expires || s.expires > now) ? 1 : 0))
  family('wid_bot_output_expiry_seconds', 'gauge', 'Seconds until the files of the service expire.', (s) => (s.expires ? Math.round((s.expires.getTime() - now.getTime()) / 1000) : undefined))
  return lines.join('\n') + '\n'
}

/** /readyz answers 503 naming the services that have no output yet. */
export function startBotDiag(address: string, statusOf: () => AgentStatus): Promise<DiagServer> {
  return startDiagServer(address, 'bot', {notReady: () => statusOf().failing(), metrics: () => renderMetrics(statusOf())})
}
