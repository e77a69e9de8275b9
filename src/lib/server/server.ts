/**
 * `wid server`: HTTPS for the public endpoints (OIDC discovery, JWKS, SPIFFE bundle,
 * thumbprint, find), password login, and the mutually authenticated cluster API. One
 * process; the store may be shared with local-mode CLI runs (SQLite) or other servers.
 */
import {createServer, type Server} from 'node:https'
import {availableParallelism} from 'node:os'
import type {IncomingMessage, ServerResponse} from 'node:http'
import type {Logger} from 'pino'
import {AuthServer} from '../auth/auth-server.js'
import {setPublicAddr} from '../auth/init.js'
import {advanceRotations} from '../auth/rotation.js'
import type {Caller} from '../auth/principal.js'
import type {Backend} from '../backend/backend.js'
import {randomHex} from '../crypto/random.js'
import {SigningThreads} from '../crypto/signing-threads.js'
import {isWidError, WidError, type ErrorCode} from '../errors.js'
import {listenFailure} from '../listen.js'
import {apiMethod, compileApiSchemas, joinBody, loginBody} from './api.js'
import {startAuditSweeper} from './audit-sweeper.js'
import {AuthorityWatch} from './authority-watch.js'
import {HOST_CA_PINS_HEADER, REISSUE_HEADER} from '../cluster/advice.js'
import {callerOf} from './callers.js'
import {ConnectionGate} from './connections.js'
import {HttpError} from './http-error.js'
import {NO_METRICS, refusalOutcome, type LoginOutcome, type ServerMetrics} from './metrics.js'
import {PublicDocuments} from './public-documents.js'
import {StoreDown, StoreWatch} from './store-watch.js'
import {TrustWatch} from './trust-watch.js'
import {ServerTls} from './tls-context.js'

export interface ServerOptions {
  backend: Backend
  host: string
  port: number
  /**
   * Where clients reach the server (checked): stored as the cluster's public address once
   * the server listens, before it answers anything; a server that cannot listen stores nothing.
   */
  publicAddr: string
  /** PEM; without them the cluster's host CA issues a certificate for the public and listen addresses. */
  tlsCertificate?: string
  tlsKey?: string
  /** PEM CA certificates trusted, besides the system's, to fetch delegated join tokens' issuer keys. */
  joinCa?: string
  version: string
  logger: Logger
  /** What the requests count (see metrics.ts); nothing by default. */
  metrics?: ServerMetrics
}

export interface RunningServer {
  port: number
  publicAddr: string
  /** The --ca-pin that wid login expects for this listener (now: a host CA rotation changes it). */
  readonly loginPin: string
  /** Requests being answered now. */
  inFlight(): number
  /** Resolves when the server can answer: its store answers within READY_TIMEOUT_MS (what /readyz says). */
  ready(): Promise<void>
  /** Stops accepting connections and waits for requests in flight. */
  close(): Promise<void>
}

const MAX_BODY_BYTES = 1024 * 1024
const HOST_CERT_RENEW_MS = 24 * 3600 * 1000
/** Signing threads: one per core but the event loop's, at most 4. */
const SIGNING_THREADS = Math.max(1, Math.min(4, availableParallelism() - 1))
/**
 * How long a connection may take to finish its TLS handshake, to send a request's headers,
 * and to send a whole request (a body is at most 1 MiB): a connection that sends nothing, or
 * dribbles, is closed instead of being held for minutes. Checked once a second.
 */
const TIMEOUTS = {handshakeTimeout: 10_000, headersTimeout: 10_000, requestTimeout: 30_000, connectionsCheckingInterval: 1_000}

/**
 * How long /readyz waits for the store's ping. A database that went away without closing
 * its connections (a host down, a network cut) would leave the ping waiting for TCP to give
 * up, minutes later: a load balancer must learn of it within its probe's timeout.
 */
const READY_TIMEOUT_MS = 2000

/** `promise`'s value, or `unavailable` after `ms`. */
async function answered<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new WidError('unavailable', `server: the store did not answer within ${ms / 1000} s`)), ms)
  })
  try {
    return await Promise.race([promise, late])
  } finally {
    clearTimeout(timer)
  }
}

const STATUS: Record<ErrorCode, number> = {
  bad_input: 400,
  not_found: 404,
  already_exists: 409,
  access_denied: 403,
  compare_failed: 409,
  invalid_svid: 400,
  io: 500,
  state: 500,
  unavailable: 503,
  internal: 500,
}

/** The request body as a JSON object (at most 1 MiB). Events rather than an async iterator: cheaper per request. */
function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let size = 0
    const chunks: Buffer[] = []
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_BODY_BYTES) {
        req.off('data', onData)
        req.resume()
        reject(new HttpError(413, 'bad_input', 'api: request body larger than 1 MiB'))
        return
      }
      chunks.push(chunk)
    }
    req.on('data', onData)
    req.once('error', reject)
    req.once('end', () => {
      if (size > MAX_BODY_BYTES) return
      if (size === 0) return resolve({})
      try {
        const value: unknown = JSON.parse((chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8'))
        if (value && typeof value === 'object' && !Array.isArray(value)) return resolve(value as Record<string, unknown>)
      } catch {
        // reported below
      }
      reject(new HttpError(400, 'bad_input', 'api: request body must be a JSON object'))
    })
  })
}

/** How a login or join ended, told to `count`; the result or the error passes through. */
async function counted<T>(answer: Promise<T>, count: (outcome: LoginOutcome) => void): Promise<T> {
  try {
    const result = await answer
    count('ok')
    return result
  } catch (error) {
    count(refusalOutcome(error))
    throw error
  }
}

/** If-None-Match: `*`, or a list of (possibly weak) ETags, as RFC 9110 §13.1.2 compares them. */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false
  if (header.trim() === '*') return true
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag)
}

function send(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, {'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body)})
  res.end(body)
}

function listenNames(publicAddr: string, host: string): string[] {
  const names = [new URL(publicAddr).hostname.replace(/^\[|\]$/g, ''), 'localhost', '127.0.0.1', '::1']
  if (host !== '0.0.0.0' && host !== '::') names.splice(1, 0, host)
  return names
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const {backend, logger, publicAddr} = options
  const metrics = options.metrics ?? NO_METRICS
  await compileApiSchemas()
  // The cluster as stored, for the listener's certificates; requests are answered by another
  // AuthServer, opened once `publicAddr` is stored.
  const stored = await AuthServer.open(backend)
  const {clusterName} = await stored.status()
  const given = options.tlsKey && options.tlsCertificate ? {key: options.tlsKey, chain: options.tlsCertificate} : undefined
  const tls = await ServerTls.open(stored, listenNames(publicAddr, options.host), given)
  let auth: AuthServer
  let documents: PublicDocuments
  let watch: AuthorityWatch
  const trustWatch = new TrustWatch()
  // What API methods may use of the server beyond the store: the trust watch (a long poll, see trust-watch.ts).
  const trust = {wait: (since: number | undefined, address: string, gone?: AbortSignal) => trustWatch.wait(since, address, undefined, gone), changed: () => watch.changed()}
  // What requests are answered through: it tells when the store is down (see store-watch.ts).
  const store = new StoreWatch(backend)
  // X.509-SVID signatures are made on the other cores, started at the first (see SigningThreads).
  const signingThreads = new SigningThreads(SIGNING_THREADS)

  let inFlight = 0
  let drained: (() => void) | undefined
  const ready = () => answered(backend.ping(), READY_TIMEOUT_MS)
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now()
    const requestId = randomHex(8)
    res.setHeader('x-request-id', requestId)
    const path = (req.url ?? '/').split('?')[0]!
    let caller: Caller | undefined
    // The path once it names an endpoint: what the metrics count requests by
    let route = 'other'
    try {
      const read = req.method === 'GET' || req.method === 'HEAD'
      const probe = path === '/healthz' || path === '/readyz'
      const doc = documents.get(path)
      if (probe || doc) route = path
      if ((probe || doc) && !read) throw new HttpError(405, 'bad_input', `api: ${path} answers GET and HEAD only`)
      if (probe) {
        if (path === '/readyz') await ready()
        return send(res, 200, `{"status":"${path === '/readyz' ? 'ready' : 'ok'}"}`)
      }
      if (doc) {
        const headers = {'content-type': doc.contentType, etag: doc.etag, 'cache-control': `public, max-age=${doc.maxAge}`, 'content-length': String(Buffer.byteLength(doc.body))}
        if (matchesEtag(req.headers['if-none-match'], doc.etag)) {
          res.writeHead(304, headers).end()
          return
        }
        res.writeHead(200, headers).end(req.method === 'HEAD' ? undefined : doc.body)
        return
      }
      if (req.method !== 'POST' || !path.startsWith('/v1/')) throw new HttpError(404, 'not_found', `api: no such endpoint ${req.method} ${path}`)
      const method = apiMethod(path.slice('/v1/'.length))
      if (method || path === '/v1/login' || path === '/v1/joinBot') route = path
      store.check()
      const body = await readJson(req)
      const address = req.socket.remoteAddress ?? 'unknown'
      if (path === '/v1/login') {
        const {user, password, invite, publicKey, ttlSeconds} = await loginBody(body)
        const result = await counted(auth.login({user, password, invite, address}, publicKey, ttlSeconds), metrics.login)
        return send(res, 200, JSON.stringify(result))
      }
      // A bot's join: the one-time token (or a delegated method's ID token) is the credential, as the password is for a login.
      if (path === '/v1/joinBot') {
        const request = await joinBody(body)
        return send(res, 200, JSON.stringify(await counted(auth.joinBot({...request, address}), metrics.join)))
      }
      const verified = callerOf(req, tls)
      caller = verified.caller
      // What a client follows a rotation by (see cluster/advice.ts): the host CAs to trust, and whether its certificate is of a client CA key that no longer signs
      if (tls.hostCaPins) res.setHeader(HOST_CA_PINS_HEADER, tls.hostCaPins.join(','))
      if (verified.issuer !== tls.clientSigningPin) res.setHeader(REISSUE_HEADER, 'client-ca')
      if (!method) throw new HttpError(404, 'not_found', `api: no such method ${path}`)
      // Every method, even one that reads nothing of the caller's, needs a login the store still honours.
      // A long poll whose caller went away frees its place (see trust-watch.ts)
      const gone = new AbortController()
      res.once('close', () => gone.abort())
      const certificate = {spki: verified.spki, notAfter: new Date(verified.notAfter)}
      const result = await method(auth, await auth.authenticate(caller), body, {address, trust, certificate, gone: gone.signal, metrics})
      return send(res, 200, JSON.stringify({result: result ?? null}))
    } catch (error) {
      const status = error instanceof HttpError ? error.status : isWidError(error) ? STATUS[error.code] : 500
      const code = isWidError(error) ? error.code : 'internal'
      const message = isWidError(error) ? error.message : 'internal error (see the server log)'
      if (!isWidError(error)) logger.error({requestId, err: error}, 'request failed')
      // The rest of an oversized body is not worth reading: the connection ends with the answer.
      if (status === 413) res.setHeader('connection', 'close')
      // `processed: false` only for a request refused unread: a client may send it to another server.
      send(res, status, JSON.stringify({error: {code, message, ...(error instanceof StoreDown ? {processed: false} : {})}}))
    } finally {
      // A trust watch is a long poll every agent keeps open: its answers would be most of the log
      const level = path === '/v1/watchTrust' && res.statusCode === 200 ? 'debug' : 'info'
      const ms = performance.now() - started
      metrics.request(route, res.statusCode, ms / 1000)
      logger[level]({requestId, method: req.method, path, status: res.statusCode, ms: Math.round(ms), caller: caller && `${caller.kind}:${caller.name}`}, 'request')
    }
  }

  const server: Server = createServer(
    {...tls.secureContext(), requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2', ...TIMEOUTS},
    (req, res) => {
      inFlight++
      void handle(req, res).finally(() => {
        if (--inFlight === 0) drained?.()
      })
    },
  )
  server.keepAliveTimeout = 30_000
  server.maxConnections = 10_000
  // Connections wait at the gate until the server answers with its public address stored.
  const gate = new ConnectionGate(logger)
  gate.install(server)
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(listenFailure(error, `server: cannot listen on ${options.host}:${options.port}`)))
    server.listen(options.port, options.host, () => {
      // After start-up, errors of the listener (e.g. out of file descriptors) are logged, not fatal.
      server.on('error', (error) => logger.error({err: error}, 'listener error'))
      resolve()
    })
  })
  try {
    await setPublicAddr(backend, publicAddr)
    auth = await AuthServer.open(store, undefined, {signingThreads, ...(options.joinCa === undefined ? {} : {joinCa: [options.joinCa]})})
    documents = new PublicDocuments({auth, backend: store, publicAddr, about: {clusterName, version: options.version}, presented: () => tls.presented(), watch: trustWatch})
    // A CA rotation step: the listener follows the host and client CAs, the documents every CA (and what the listener presents)
    watch = new AuthorityWatch(
      store,
      async (changed) => {
        if ((changed.includes('host') || changed.includes('client')) && (await tls.update())) {
          server.setSecureContext({...tls.secureContext(), minVersion: 'TLSv1.2'})
          logger.info({loginPin: tls.presented().loginPin, clientCas: tls.secureContext().ca.length}, 'TLS context follows the host and client CAs')
        }
        await documents.refresh()
      },
      (error) => logger.warn({err: error}, 'following a change of the CAs failed'),
    )
    await watch.start()
  } catch (error) {
    server.close()
    server.closeAllConnections()
    throw error
  }
  gate.open()
  metrics.watch({requestsInFlight: () => inFlight, trustWatchesWaiting: () => trustWatch.waiting})
  // Semi-automatic CA rotations move on by their schedule; with several servers, the first to write a step makes it
  const rotations = setInterval(() => {
    void advanceRotations(store, new Date())
      .then((moved) => moved.length > 0 && logger.info({authorities: moved}, 'CA rotation moved on by its schedule'))
      .catch((error: unknown) => logger.warn({err: error}, 'moving a CA rotation on failed'))
  }, 1000)
  rotations.unref()
  const sweeper = startAuditSweeper(store, logger)
  // Its own certificate lasts 30 days: a new one is issued every day, so a long-running server never serves an expired one.
  const renewal = given
    ? undefined
    : setInterval(() => {
        void tls
          .renew()
          .then(() => server.setSecureContext({...tls.secureContext(), minVersion: 'TLSv1.2'}))
          .catch((error: unknown) => logger.error({err: error}, 'renewing the server certificate failed'))
      }, HOST_CERT_RENEW_MS)
  renewal?.unref()
  const port = (server.address() as {port: number}).port
  logger.info({listen: `${options.host}:${port}`, publicAddr, clusterName, ...tls.presented()}, 'server started')
  return {
    port,
    publicAddr,
    get loginPin() {
      return tls.presented().loginPin
    },
    inFlight: () => inFlight,
    ready,
    close: async () => {
      // Watches in flight are answered now: a long poll must not hold the shutdown.
      trustWatch.close()
      watch.stop()
      clearInterval(renewal)
      clearInterval(rotations)
      const swept = sweeper.stop()
      gate.flush()
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      server.closeIdleConnections()
      if (inFlight > 0) await new Promise<void>((resolve) => (drained = resolve))
      server.closeAllConnections()
      await closed
      await swept
      await store.close()
      await signingThreads.close()
    },
  }
}
