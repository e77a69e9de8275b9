/** Everything `wid server start` does between reading its settings and serving. */
import {existsSync} from 'node:fs'
import {readFile} from 'node:fs/promises'
import {createSecureContext} from 'node:tls'
import {hostname} from 'node:os'
import {checkPublicAddr, ensureRemoteMode, initializeCluster} from '../auth/init.js'
import {openStorage} from '../backend/open.js'
import {CachedBackend} from '../backend/read-cache.js'
import {refuseImplicitCluster} from '../cluster/local.js'
import {WidError} from '../errors.js'
import {databasePath, widHome} from '../home.js'
import {getClusterConfig} from '../services/cluster-config.js'
import {trustDomainFromHostname} from '../spiffeid/index.js'
import type {ServerSettings} from './config.js'
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
}

export interface StartedServer extends Omit<RunningServer, 'close'> {
  /** Where the cluster's state is: the SQLite file, or the PostgreSQL database (without its password). */
  storage: string
  /**
   * Stops accepting connections, finishes the requests in flight, then closes the store.
   * Asked again while stopping (a signal repeated, or delivered twice), it logs that and
   * returns the same promise.
   */
  close(signal?: NodeJS.Signals): Promise<void>
}

export async function runServer(settings: ServerSettings, version: string, hooks: RunHooks = {}): Promise<StartedServer> {
  const dataDir = settings.dataDir ?? widHome()
  const tlsCertificate = settings.tlsCertFile ? await readPem(settings.tlsCertFile, 'TLS certificate') : undefined
  const tlsKey = settings.tlsKeyFile ? await readPem(settings.tlsKeyFile, 'TLS key') : undefined
  if (tlsCertificate !== undefined && tlsKey !== undefined) checkTlsMaterial(tlsCertificate, tlsKey, settings.tlsCertFile!, settings.tlsKeyFile!)
  const joinCa = settings.joinCaFile ? await readPem(settings.joinCaFile, 'join CA file') : undefined
  if (joinCa !== undefined && !/-----BEGIN CERTIFICATE-----/.test(joinCa)) throw new WidError('bad_input', `server: ${settings.joinCaFile} holds no PEM certificate`)
  // Like a local-mode command, the server creates an embedded cluster only where no login has been.
  if (settings.storage.type === 'sqlite' && !existsSync(databasePath(dataDir))) await refuseImplicitCluster(dataDir)
  // A store that other servers write to has a change feed: the server reads through a cache it keeps true
  const backend = await CachedBackend.over(await openStorage(settings.storage, dataDir, {writerThread: true}))
  try {
    const now = new Date()
    // A cluster this start creates gets the public address at once: nothing trusted another one before.
    const fresh = (await getClusterConfig(backend)) === undefined
    const initial = {publicAddr: fresh ? settings.publicAddr : undefined, defaultClusterName: trustDomainFromHostname(hostname()).name, now}
    const {config} = await initializeCluster(backend, initial)
    const before = config.publicAddr
    const publicAddr = settings.publicAddr === undefined ? before : checkPublicAddr(settings.publicAddr)
    await ensureRemoteMode(backend, config, now)
    const {pino} = await import('pino')
    // Asynchronous: a log line per request is written without blocking the request; flushed on close.
    const destination = pino.destination({dest: 1, sync: false})
    const logger = pino({level: settings.logLevel, base: {service: 'wid-server'}}, destination)
    const server = await startServer({backend, host: settings.host, port: settings.port, publicAddr, tlsCertificate, tlsKey, joinCa, version, logger})
    if (publicAddr !== before) {
      hooks.publicAddrChanged?.(before, publicAddr)
      logger.warn({previousPublicAddr: before, publicAddr}, 'public address changed')
    }
    let stopping: Promise<void> | undefined
    const stop = async () => {
      await server.close()
      logger.info('server stopped')
      destination.flushSync()
      await backend.close()
    }
    return {
      ...server,
      storage: backend.location,
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
  } catch (error) {
    await backend.close()
    throw error
  }
}
