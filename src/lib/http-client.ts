/**
 * One HTTP request with Node's own client (node:https; node:http for the plain http:// URLs
 * that a caller allows, such as a local STS), the answer read whole (bounded), within a
 * deadline. wid's clients use it rather than undici: it needs no WebAssembly (so the bot
 * agent can run in V8's lite mode, see bin/run.js) and it is already in memory.
 */
import {request as plainRequest, type IncomingHttpHeaders} from 'node:http'
import {Agent, request, type AgentOptions} from 'node:https'
import {ConnectTimeout, HttpTimeout} from './http-timeouts.js'

export interface HttpAnswer {
  status: number
  headers: IncomingHttpHeaders
  text: string
}

export interface HttpOptions {
  method?: 'GET' | 'POST'
  headers?: Record<string, string>
  body?: string
  /** A connection pool to use (and keep); without it one is made for this request and closed after it. */
  agent?: Agent
  /** TLS settings of the pool made for this request (ca, cert, key, checkServerIdentity, …). */
  tls?: AgentOptions
  /** For the whole exchange: connecting, the answer and its body. */
  timeoutMs: number
  /** For the connection alone (TCP and TLS), when shorter: a server that cannot be reached is given up sooner. */
  connectTimeoutMs?: number
  /** The largest answer read (default 4 MiB). */
  maxBytes?: number
}

/** Failures that happened before the connection was made, so before a byte of the request left. */
const unsent = new WeakSet<object>()

/**
 * Whether the request of a failed httpRequest certainly never reached the server: the
 * failure came before the connection (TCP, and TLS for https) was established. A request is
 * written only once it is, so a server that refused, could not be routed to, did not answer
 * in time or failed the TLS handshake saw none of it. A kept-alive connection that is reused
 * counts as established: its failures may come after the server read the request.
 */
export function neverSent(error: unknown): boolean {
  return typeof error === 'object' && error !== null && unsent.has(error)
}

export function httpRequest(url: URL | string, options: HttpOptions): Promise<HttpAnswer> {
  const plain = new URL(url).protocol === 'http:'
  const agent = plain ? undefined : (options.agent ?? new Agent({...options.tls, keepAlive: false}))
  const maxBytes = options.maxBytes ?? 4 * 1024 * 1024
  const body = options.body
  return new Promise<HttpAnswer>((resolve, reject) => {
    const settings = {
      method: options.method ?? (body === undefined ? 'GET' : 'POST'),
      headers: {...options.headers, ...(body === undefined ? {} : {'content-length': String(Buffer.byteLength(body))})},
    }
    const sent = plain ? plainRequest(url, settings) : request(url, {...settings, agent})
    let settled = false
    let connected = false
    const settle = (error: Error | undefined, answer?: HttpAnswer) => {
      if (settled) return
      settled = true
      clearTimeout(deadline)
      clearTimeout(connecting)
      if (error && !connected) unsent.add(error)
      if (error) reject(error)
      else resolve(answer!)
    }
    const established = () => {
      connected = true
      clearTimeout(connecting)
    }
    sent.once('socket', (socket) => {
      if (sent.reusedSocket) established()
      else socket.once(plain ? 'connect' : 'secureConnect', established)
    })
    const connecting =
      options.connectTimeoutMs === undefined || options.connectTimeoutMs >= options.timeoutMs
        ? undefined
        : setTimeout(() => {
            const error = new ConnectTimeout(`no connection within ${options.connectTimeoutMs} ms`)
            sent.destroy(error)
            settle(error)
          }, options.connectTimeoutMs)
    const deadline = setTimeout(() => {
      const error = new HttpTimeout(`no answer within the ${options.timeoutMs} ms timeout`)
      sent.destroy(error)
      settle(error)
    }, options.timeoutMs)
    sent.once('error', (error) => settle(error))
    sent.once('response', (response) => {
      const chunks: Buffer[] = []
      let size = 0
      response.on('data', (chunk: Buffer) => {
        size += chunk.length
        if (size > maxBytes) {
          settle(new Error(`the answer is larger than ${maxBytes} bytes`))
          response.destroy()
          sent.destroy()
          return
        }
        chunks.push(chunk)
      })
      response.once('error', (error) => settle(error))
      response.once('end', () => settle(undefined, {status: response.statusCode ?? 0, headers: response.headers, text: Buffer.concat(chunks).toString('utf8')}))
    })
    sent.end(body)
  }).finally(() => {
    if (!options.agent) agent?.destroy()
  })
}
