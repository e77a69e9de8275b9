/**
 * `--diag-addr`: /healthz (the process answers), /readyz (200 once every service has
 * produced its first output, else 503 naming the failing ones) and /metrics in Prometheus
 * text format. Plain HTTP: bind it to a loopback or private address.
 */
import {createServer, type Server} from 'node:http'
import {WidError} from '../errors.js'
import type {AgentStatus} from './status.js'

function labelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

export function renderMetrics(status: AgentStatus, now = new Date()): string {
  const lines: string[] = []
  const family = (name: string, type: 'counter' | 'gauge', help: string, value: (s: ReturnType<AgentStatus['entries']>[number][1]) => number | undefined) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
    for (const [service, s] of status.entries()) {
      const v = value(s)
      if (v !== undefined) lines.push(`${name}{service="${labelValue(service)}"} ${v}`)
    }
  }
  family('wid_bot_renewals_total', 'counter', 'Successful renewals of each service (the bot identity is service "identity").', (s) => s.renewals)
  family('wid_bot_renewal_failures_total', 'counter', 'Failed renewal tries of each service.', (s) => s.failures)
  family('wid_bot_output_ready', 'gauge', '1 once the service has produced an output that has not expired.', (s) => (s.ready && (!s.expires || s.expires > now) ? 1 : 0))
  family('wid_bot_output_expiry_seconds', 'gauge', 'Seconds until the files of the service expire.', (s) => (s.expires ? Math.round((s.expires.getTime() - now.getTime()) / 1000) : undefined))
  return lines.join('\n') + '\n'
}

export function parseDiagAddr(value: string): {host: string; port: number} {
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(value)
  const port = Number(match?.[2])
  if (!match || port > 65535) throw new WidError('bad_input', `bot: --diag-addr "${value}" is not HOST:PORT (e.g. 127.0.0.1:3001)`)
  return {host: match[1]!.replace(/^\[|\]$/g, ''), port}
}

export async function startDiagServer(address: string, statusOf: () => AgentStatus): Promise<{port: number; close: () => Promise<void>}> {
  const {host, port} = parseDiagAddr(address)
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    const json = (code: number, body: object) => res.writeHead(code, {'content-type': 'application/json'}).end(JSON.stringify(body) + '\n')
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(405, {error: 'GET only'})
    if (path === '/healthz') return json(200, {status: 'ok'})
    const status = statusOf()
    if (path === '/readyz') {
      const failing = status.failing()
      return failing.length === 0 ? json(200, {status: 'ready'}) : json(503, {status: 'not ready', failing})
    }
    if (path === '/metrics') return res.writeHead(200, {'content-type': 'text/plain; version=0.0.4'}).end(renderMetrics(status))
    json(404, {error: `no such path ${path}`})
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(new WidError(error.code === 'EADDRINUSE' ? 'unavailable' : 'io', `bot: cannot listen on --diag-addr ${address}: ${error.code === 'EADDRINUSE' ? 'the address is in use' : error.message}`)),
    )
    server.listen(port, host, () => resolve())
  })
  return {
    port: (server.address() as {port: number}).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
