/**
 * Growing up (issue 14): the embedded cluster of one host, copied into the empty PostgreSQL
 * database that a server configuration names. Every item goes (cluster config, CA and JWT
 * keys, resources, users, bots, bot instances, tokens, login state, audit), so the servers
 * started on the database serve the same trust domain with the same keys, and every SVID
 * issued before still verifies.
 */
import {existsSync} from 'node:fs'
import {resolve} from 'node:path'
import {copyStore} from '../backend/copy.js'
import {SqliteBackend} from '../backend/sqlite.js'
import {WidError} from '../errors.js'
import {databasePath} from '../home.js'
import {getClusterConfig} from '../services/cluster-config.js'
import {configuredStorage} from './config.js'

export interface MigrateResult {
  /** How many items were copied. */
  items: number
  clusterName: string
  /** The data directory copied from. */
  from: string
  /** The database copied into, without its password. */
  to: string
}

/** `configFile`: the servers' wid.yaml, whose storage must be PostgreSQL; `from`: the embedded cluster's data directory. */
export async function migrateEmbeddedCluster(configFile: string, from: string): Promise<MigrateResult> {
  const {storage} = await configuredStorage(configFile)
  if (storage.type !== 'postgresql') {
    throw new WidError('bad_input', `storage migrate: ${configFile} names SQLite storage; the copy goes into PostgreSQL (storage: {type: postgresql, conn_string: …})`)
  }
  const dataDir = resolve(from)
  const noCluster = new WidError('not_found', `storage migrate: no cluster in ${dataDir} to copy (--from names the data directory of the embedded cluster)`)
  // Opening a data directory that has no database would create one
  if (!existsSync(databasePath(dataDir))) throw noCluster
  const source = await SqliteBackend.open(databasePath(dataDir))
  try {
    const config = await getClusterConfig(source)
    if (!config) throw noCluster
    // Loaded only here, as openStorage does: the PostgreSQL client is not needed before
    const {PostgresBackend} = await import('../backend/postgres.js')
    const target = await PostgresBackend.open(storage.connString, {poolSize: 1})
    try {
      const {items} = await copyStore(source, target)
      return {items, clusterName: config.clusterName, from: dataDir, to: target.location}
    } finally {
      await target.close()
    }
  } finally {
    await source.close()
  }
}
