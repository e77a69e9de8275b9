/**
 * One POST to the cluster API as every client makes it: JSON in, and the answer's JSON out,
 * or the server's refusal as a WidError with the server's code and message.
 */
import {createPublicKey, X509Certificate} from 'node:crypto'
import {Agent, type AgentOptions} from 'node:https'
import {knownCode, WidError} from '../errors.js'
import {httpRequest, neverSent} from '../http-client.js'
import {adviceOf, untrustedServer, type Advice} from './advice.js'
import {connectionReason, NotProcessed} from './failover.js'

const TIMEOUT_MS = 30_000
/** A server that cannot be connected to within this is given up (and the next one tried). */
export const CONNECT_TIMEOUT_MS = 10_000

export function proxyUrl(proxy: string): string {
  return `https://${proxy}`
}

export interface ApiAnswer {
  /** What an authenticated method answers in; a join or a login answers at the top level. */
  result?: unknown
  error?: {code?: unknown; message?: unknown; processed?: unknown}
  /** What the answer's headers say of the CA rotations to follow (see advice.ts). */
  advice?: Advice
}

export interface PostOptions {
  /** Added to the message for a server that cannot be reached. */
  unreachable?: string
  /** The message for a server whose certificate is of a CA the client does not trust (see advice.ts). */
  untrusted?: (proxy: string) => string
}

/**
 * POSTs `body` to `path` on `proxy` through the connection pool `agent`. `what` prefixes the messages it
 * makes itself (`remote`, `join`). A failure that certainly left the request unprocessed (no connection, or the
 * server's answer that it did not read it) is a NotProcessed, which lets a ServerList try
 * another server.
 */
export async function postApi(proxy: string, path: string, agent: Agent, body: object, what: string, options: PostOptions = {}): Promise<ApiAnswer> {
  let status: number
  let text: string
  let advice: Advice
  try {
    const answer = await httpRequest(`${proxyUrl(proxy)}${path}`, {
      method: 'POST',
      agent,
      headers: {'content-type': 'application/json'},
      body: JSON.stringify(body),
      timeoutMs: TIMEOUT_MS,
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
    })
    status = answer.status
    text = answer.text
    advice = adviceOf(answer.headers)
  } catch (error) {
    if (options.untrusted && untrustedServer(error)) throw new NotProcessed(options.untrusted(proxy), 'its certificate is of a CA not trusted')
    const reason = connectionReason(error)
    const message = `${what}: cannot reach ${proxy}: ${reason}${options.unreachable ?? ''}`
    throw neverSent(error) ? new NotProcessed(message, reason) : new WidError('unavailable', message)
  }
  let parsed: ApiAnswer
  try {
    parsed = JSON.parse(text) as ApiAnswer
  } catch {
    throw new WidError('unavailable', `${what}: ${proxy} answered ${status} with something that is not JSON; is it a wid server?`)
  }
  if (parsed?.error !== undefined || status !== 200) {
    const message = typeof parsed?.error?.message === 'string' && parsed.error.message ? parsed.error.message : `${what}: ${proxy} answered ${status} without an explanation`
    // A server says `processed: false` only of a request it refused before reading (see server/store-watch.ts).
    if (status === 503 && parsed?.error?.code === 'unavailable' && parsed.error.processed === false) throw new NotProcessed(message, 'its store is unavailable')
    throw new WidError(knownCode(parsed?.error?.code), message)
  }
  return {...parsed, advice}
}

/** POSTs `body` to `path` on a connection of its own (a login or a join has no client certificate; a renewal has the one it replaces). */
export async function postOnce(proxy: string, path: string, tls: AgentOptions, body: object, what: string, options: PostOptions = {}): Promise<ApiAnswer> {
  const agent = new Agent({...tls, keepAlive: false})
  try {
    return await postApi(proxy, path, agent, body, what, options)
  } finally {
    agent.destroy()
  }
}

/** Whether `certificate` (PEM) is for the public key `publicKeyPem`: what a client checks of a certificate it asked for. */
export function certifiesKey(certificate: string, publicKeyPem: string): boolean {
  try {
    return new X509Certificate(certificate).publicKey.equals(createPublicKey(publicKeyPem))
  } catch {
    return false
  }
}
