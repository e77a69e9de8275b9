/** Everything `wid server start` does between reading its settings and serving. */
import {existsSync} from 'node:fs'
import {readFile} from 'node:fs/promises'
import {createSecureContext} from 'node:tls'
import {hostname} from 'node:os'
import type {Logger} from 'pino'
import {checkPublicAddr, ensureRemoteMode, initializeCluster} from '../auth/init.js'
import type {Backend, StoreObserver} from '../backend/backend.js'
import {openStorage} from '../backend/open.js'
import {CachedBackend} from '../backend/read-cache.js'
import {retryWhileUnavailable} from '../backend/retry.js'
import {refuseImplicitCluster} from '../cluster/local.js'
import {isLoopbackAddr, OPEN_DIAG_WARNING, startDiagServer, type DiagServer, type NotReady} from '../diag-server.js'
import {WidError} from '../errors.js'
import {databasePath, widHome} from '../home.js'
import {getClusterConfig, type ClusterConfig} from '../services/cluster-config.js'
import {trustDomainFromHostname} from '../spiffeid/index.js'
import type {ServerSettings} from './config.js'
import type {PrometheusMetrics} from './prometheus.js'
import {startServer, type RunningServer} from './server.js'

async function readPem(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (error) {
    throw new WidError('io', `server: cannot read the ${what} ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`)
  }
}

/** A certificate chain and key that TLS can use together, or one line saying what is wrong with them. */
function checkTlsMaterial(certificate: string, key: string, certFile: string, keyFile: string): void {
  if (!/-----BEGIN CERTIFICATE-----/.test(certificate)) throw new WidError('bad_input', `server: ${certFile} holds no PEM certificate`)
  try {
    createSecureContext({cert: certificate, key})
  } catch (error) {
    const reason = (error as Error).message.replace(/^error:[0-9A-F]+:[^:]*:/i, '').split('\n')[0]
    throw new WidError('bad_input', `server: cannot use ${certFile} with ${keyFile}: ${reason} (a PEM chain, leaf first, and its unencrypted PEM key)`)
  }
}

export interface RunHooks {
  /** Called when the settings changed the cluster's public address: once the server listens, and has stored the new one. */
  publicAddrChanged?(previous: string, current: string): void
  /** Stops waiting for a PostgreSQL database that does not answer yet: runServer then resolves undefined. */
  signal?: AbortSignal
}

export interface StartedServer extends Omit<RunningServer, 'close'> {
  /** Where the cluster's state is: the SQLite file, or the PostgreSQL database (without its password). */
  storage: string
  /** HOST:PORT of the diagnostics endpoints, with --diag-addr (the port taken, for port 0). */
  diagAddr?: string
  /**
   * Stops accepting connections, finishes the requests in flight, then closes the store.
   * Asked again while stopping (a signal repeated, or delivered twice), it logs that and
   * returns the same promise.
   */
  close(signal?: NodeJS.Signals): Promise<void>
}

interface OpenedCluster {
  backend: Backend
  config: ClusterConfig
  /** The address to serve at: the settings', else the stored one. */
  publicAddr: string
}

/**
 * The store, holding an initialised cluster. A PostgreSQL database that does not answer
 * (down, starting, restarting) is waited for, with one warning per attempt; undefined when
 * `signal` ended the wait. SQLite is a file: failing to open it is never worth waiting for.
 */
async function openCluster(settings: ServerSettings, dataDir: string, logger: Logger, signal: AbortSignal | undefined, observer: StoreObserver | undefined): Promise<OpenedCluster | undefined> {
  const attempt = async (): Promise<OpenedCluster> => {
    const store = await openStorage(settings.storage, dataDir, {writerThread: true, ...(observer ? {observer} : {})})
    let backend: Backend = store
    try {
      // A store that other servers write to has a change feed: the server reads through a cache it keeps true
      backend = await CachedBackend.over(store, observer)
      const now = new Date()
      // A cluster this start creates gets the public address at once: nothing trusted another one before.
      const fresh = (await getClusterConfig(backend)) === undefined
      const initial = {publicAddr: fresh ? settings.publicAddr : undefined, defaultClusterName: trustDomainFromHostname(hostname()).name, now}
      const {config} = await initializeCluster(backend, initial)
      const publicAddr = settings.publicAddr === undefined ? config.publicAddr : checkPublicAddr(settings.publicAddr)
      await ensureRemoteMode(backend, config, now)
      return {backend, config, publicAddr}
    } catch (error) {
      await backend.close()
      throw error
    }
  }
  if (settings.storage.type === 'sqlite') return attempt()
  // Loaded only here, as openStorage loads it: SQLite users do not pay for the PostgreSQL client.
  const {PostgresBackend} = await import('../backend/postgres.js')
  const storage = await PostgresBackend.locate(settings.storage.connString)
  const opened = await retryWhileUnavailable(attempt, {
    signal,
    onRetry: (error, attempt, delayMs) => logger.warn({storage, attempt, retryInMs: delayMs, reason: error.message}, 'storage unavailable: retrying'),
  })
  if (opened && signal?.aborted) {
    await opened.backend.close()
    return undefined
  }
  return opened
}

/**
 * With --diag-addr: prom-client's metrics (loaded only then) and the diagnostics endpoints,
 * listening from the start so that /healthz answers while a database is waited for.
 */
async function startDiag(address: string, logger: Logger, running: () => StartedServer | undefined): Promise<{diag: DiagServer; prometheus: PrometheusMetrics}> {
  const {prometheusMetrics} = await import('./prometheus.js')
  const prometheus = prometheusMetrics()
  const notReady = async (): Promise<NotReady[]> => {
    const server = running()
    if (!server) return [{name: 'store', reason: 'the server is starting: the store has not answered yet'}]
    return server.ready().then(
      () => [],
      (error: unknown) => [{name: 'store', reason: (error as Error).message}],
    )
  }
  const diag = await startDiagServer(address, 'server', {notReady, metrics: () => prometheus.render()})
  logger.info({diagAddr: address, port: diag.port}, 'diagnostics listening')
  if (!isLoopbackAddr(address)) logger.warn({diagAddr: address}, OPEN_DIAG_WARNING)
  return {diag, prometheus}
}

/** Serves the cluster; undefined when `hooks.signal` stopped the start while it waited for the store. */
export async function runServer(settings: ServerSettings, version: string, hooks: RunHooks = {}): Promise<StartedServer | undefined> {
  const dataDir = settings.dataDir ?? widHome()
  const tlsCertificate = settings.tlsCertFile ? await readPem(settings.tlsCertFile, 'TLS certificate') : undefined
  const tlsKey = settings.tlsKeyFile ? await readPem(settings.tlsKeyFile, 'TLS key') : undefined
  if (tlsCertificate !== undefined && tlsKey !== undefined) checkTlsMaterial(tlsCertificate, tlsKey, settings.tlsCertFile!, settings.tlsKeyFile!)
  const joinCa = settings.joinCaFile ? await readPem(settings.joinCaFile, 'join CA file') : undefined
  if (joinCa !== undefined && !/-----BEGIN CERTIFICATE-----/.test(joinCa)) throw new WidError('bad_input', `server: ${settings.joinCaFile} holds no PEM certificate`)
  // Like a local-mode command, the server creates an embedded cluster only where no login has been.
  if (settings.storage.type === 'sqlite' && !existsSync(databasePath(dataDir))) await refuseImplicitCluster(dataDir)
  const {pino} = await import('pino')
  // Asynchronous: a log line per request is written without blocking the request; flushed on close.
  const destination = pino.destination({dest: 1, sync: false})
  const logger = pino({level: settings.logLevel, base: {service: 'wid-server'}}, destination)
  let started: StartedServer | undefined
  let diagnostics: Awaited<ReturnType<typeof startDiag>> | undefined
  let opened: OpenedCluster | undefined
  try {
    if (settings.diagAddr !== undefined) diagnostics = await startDiag(settings.diagAddr, logger, () => started)
    opened = await openCluster(settings, dataDir, logger, hooks.signal, diagnostics?.prometheus.metrics)
  } catch (error) {
    await diagnostics?.diag.close()
    destination.flushSync()
    throw error
  }
  if (!opened) {
    await diagnostics?.diag.close()
    logger.info({signal: hooks.signal?.reason as unknown}, 'stopped before serving: the storage never answered')
    destination.flushSync()
    return undefined
  }
  const {backend, config, publicAddr} = opened
  try {
    const metrics = diagnostics?.prometheus.metrics
    const server = await startServer({backend, host: settings.host, port: settings.port, publicAddr, tlsCertificate, tlsKey, joinCa, version, logger, ...(metrics ? {metrics} : {})})
    if (publicAddr !== config.publicAddr) {
      hooks.publicAddrChanged?.(config.publicAddr, publicAddr)
      logger.warn({previousPublicAddr: config.publicAddr, publicAddr}, 'public address changed')
    }
    let stopping: Promise<void> | undefined
    const stop = async () => {
      await server.close()
      await diagnostics?.diag.close()
      logger.info('server stopped')
      destination.flushSync()
      await backend.close()
    }
    started = {
      ...server,
      storage: backend.location,
      ...(diagnostics ? {diagAddr: settings.diagAddr!.replace(/\d+$/, String(diagnostics.diag.port))} : {}),
      close: (signal) => {
        const requests = server.inFlight()
        if (stopping) {
          logger.info({signal, requests}, 'already stopping: still finishing the requests in flight')
          return stopping
        }
        logger.info({signal, requests}, 'stopping: no new connections; finishing the requests in flight')
        return (stopping = stop())
      },
    }
    return started
  } catch (error) {
    await diagnostics?.diag.close()
    destination.flushSync()
    await backend.close()
    throw error
  }
}
