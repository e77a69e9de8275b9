/**
 * Opening the store a configuration names: the embedded SQLite database in a data
 * directory (the default), or a PostgreSQL database that several servers share.
 */
import {databasePath} from '../home.js'
import type {Backend, StoreObserver} from './backend.js'
import {SqliteBackend} from './sqlite.js'

export type StorageSettings = {type: 'sqlite'} | {type: 'postgresql'; connString: string; poolSize?: number}

export const SQLITE: StorageSettings = {type: 'sqlite'}

/**
 * `writerThread`: SQLite writes on a thread of their own (a server's many writers); PostgreSQL has its own connections.
 * `observer`: told how long writes take and how reads fare in the read cache (a server's metrics).
 */
export async function openStorage(storage: StorageSettings, dataDir: string, options: {writerThread?: boolean; observer?: StoreObserver} = {}): Promise<Backend> {
  const {observer} = options
  if (storage.type === 'sqlite') return SqliteBackend.open(databasePath(dataDir), {writerThread: options.writerThread, ...(observer ? {observer} : {})})
  // Loaded only here: SQLite users do not pay for the PostgreSQL client at start-up
  const {PostgresBackend} = await import('./postgres.js')
  return PostgresBackend.open(storage.connString, {...(storage.poolSize === undefined ? {} : {poolSize: storage.poolSize}), ...(observer ? {observer} : {})})
}
