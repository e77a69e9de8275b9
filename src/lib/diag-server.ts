/**
 * The diagnostics endpoints that `wid bot start` and `wid server start` serve on
 * `--diag-addr`: /healthz (the process answers), /readyz (200, or 503 naming what is not
 * ready) and /metrics in Prometheus text format. Plain HTTP without authentication, apart
 * from the service's own listeners: bind it to a loopback or private address.
 */
import {createServer, type Server} from 'node:http'
import {badInput} from './errors.js'
import {isLoopback, listenFailure, parseHostPort} from './listen.js'

/** Connections the diagnostics listener keeps at once: plenty for Prometheus, probes and an operator. */
const MAX_DIAG_CONNECTIONS = 64

export interface NotReady {
  name: string
  reason: string
}

export interface DiagEndpoints {
  /** What is not ready, and why: empty when ready. */
  notReady(): NotReady[] | Promise<NotReady[]>
  /** The metrics in Prometheus text format (version 0.0.4). */
  metrics(): string | Promise<string>
}

export interface DiagServer {
  port: number
  close(): Promise<void>
}

/** Logged when the endpoints are not on a loopback address (they have no authentication). */
export const OPEN_DIAG_WARNING = 'the diagnostics endpoints answer anyone who can reach this address, without authentication; bind them to 127.0.0.1 unless a firewall keeps others out'

/** A label value of the Prometheus text format, with `\`, `"` and newlines escaped as it requires. */
export function labelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

/** A metric family in the text format: its HELP and TYPE lines, then its samples. */
export function metricFamily(name: string, type: 'counter' | 'gauge' | 'histogram', help: string, samples: string[]): string[] {
  return [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples]
}

/** `where` names the setting in the error, e.g. "bot: --diag-addr". */
export function parseDiagAddr(value: string, where: string): {host: string; port: number} {
  const parsed = parseHostPort(value)
  if (!parsed) throw badInput(`${where} "${value}" is not HOST:PORT (e.g. 127.0.0.1:3001)`)
  return parsed
}

/** Whether a --diag-addr HOST:PORT is on a loopback address. */
export function isLoopbackAddr(address: string): boolean {
  return isLoopback(address.slice(0, address.lastIndexOf(':')).replace(/^\[|\]$/g, ''))
}

/** Listens on `address` (HOST:PORT, port 0 for any); `who` prefixes errors ("bot", "server"). */
export async function startDiagServer(address: string, who: string, endpoints: DiagEndpoints): Promise<DiagServer> {
  const {host, port} = parseDiagAddr(address, `${who}: --diag-addr`)
  const answer = async (path: string): Promise<[number, string, string]> => {
    const json = (code: number, body: object): [number, string, string] => [code, 'application/json', JSON.stringify(body) + '\n']
    if (path === '/healthz') return json(200, {status: 'ok'})
    if (path === '/readyz') {
      const failing = await endpoints.notReady()
      return failing.length === 0 ? json(200, {status: 'ready'}) : json(503, {status: 'not ready', failing})
    }
    if (path === '/metrics') return [200, 'text/plain; version=0.0.4; charset=utf-8', await endpoints.metrics()]
    return json(404, {error: `no such path ${path}`})
  }
  // A scraper or a probe needs a few connections and answers in well under a second: anything else is let go
  const server: Server = createServer({headersTimeout: 10_000, requestTimeout: 30_000, keepAliveTimeout: 30_000}, (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!
    const reply = ([code, type, body]: [number, string, string]) => res.writeHead(code, {'content-type': type, 'cache-control': 'no-store'}).end(req.method === 'HEAD' ? undefined : body)
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply([405, 'application/json', '{"error":"GET only"}\n'])
    answer(path).then(reply, (error: unknown) => reply([500, 'application/json', JSON.stringify({error: (error as Error).message}) + '\n']))
  })
  server.maxConnections = MAX_DIAG_CONNECTIONS
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(listenFailure(error, `${who}: cannot listen on --diag-addr ${address}`)))
    server.listen(port, host, () => resolve())
  })
  return {
    port: (server.address() as {port: number}).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        // a scraper's kept-alive connection must not hold the shutdown
        server.closeIdleConnections()
      }),
  }
}
