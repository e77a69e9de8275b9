/** Everything `wid server start` does between reading its settings and serving. */
import {readFile} from 'node:fs/promises'
import {hostname} from 'node:os'
import {ensureRemoteMode, initializeCluster, setPublicAddr} from '../auth/init.js'
import {SqliteBackend} from '../backend/sqlite.js'
import {WidError} from '../errors.js'
import {databasePath, widHome} from '../home.js'
import {trustDomainFromHostname} from '../spiffeid/index.js'
import type {ServerSettings} from './config.js'
import {startServer, type RunningServer} from './server.js'

async function readPem(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (error) {
    throw new WidError('io', `server: cannot read the TLS ${what} ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`)
  }
}

export async function runServer(settings: ServerSettings, version: string): Promise<RunningServer & {dataDir: string}> {
  const dataDir = settings.dataDir ?? widHome()
  const tlsCertificate = settings.tlsCertFile ? await readPem(settings.tlsCertFile, 'certificate') : undefined
  const tlsKey = settings.tlsKeyFile ? await readPem(settings.tlsKeyFile, 'key') : undefined
  const backend = await SqliteBackend.open(databasePath(dataDir))
  try {
    const now = new Date()
    let {config} = await initializeCluster(backend, {publicAddr: undefined, defaultClusterName: trustDomainFromHostname(hostname()).name, now})
    if (settings.publicAddr !== undefined) config = await setPublicAddr(backend, settings.publicAddr)
    await ensureRemoteMode(backend, config, now)
    const {pino} = await import('pino')
    // Buffered: a log line per request must not cost a write(2) per request; flushed on close.
    const destination = pino.destination({dest: 1, sync: false, minLength: 4096})
    const logger = pino({level: settings.logLevel, base: {service: 'wid-server'}}, destination)
    const server = await startServer({backend, host: settings.host, port: settings.port, tlsCertificate, tlsKey, version, logger})
    return {
      ...server,
      dataDir,
      close: async () => {
        await server.close()
        logger.info('server stopped')
        destination.flushSync()
        await backend.close()
      },
    }
  } catch (error) {
    await backend.close()
    throw error
  }
}
