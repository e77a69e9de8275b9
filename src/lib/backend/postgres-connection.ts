/**
 * What the PostgreSQL backend says of its database: where a connection string leads (never
 * with its password), and each failure of node-postgres as one line of the kind a caller can
 * act on: `unavailable` (try again, or wait), `bad_input` (fix the connection string),
 * `state` (the database is not what wid expects).
 */
import {WidError} from '../errors.js'
import {networkReason} from '../network-errors.js'

export type PgModule = typeof import('pg')

export interface Target {
  /** host:port, for messages */
  address: string
  /** postgresql://user@host:port/database, never the password */
  location: string
}

/** How node-postgres rejects a statement whose answer did not come in time (its query_timeout). */
export const NO_ANSWER = 'Query read timeout'

/**
 * The server and database the connection string names, with pg's defaults and PG*
 * variables applied as pg applies them when it connects (a client that never connects
 * resolves them).
 */
export function describe(pg: PgModule, connString: string): Target {
  if (!/^postgres(ql)?:\/\//i.test(connString)) {
    throw new WidError('bad_input', 'backend: the PostgreSQL connection string must be a postgresql:// URL')
  }
  let client: InstanceType<PgModule['Client']>
  try {
    client = new pg.Client({connectionString: connString})
  } catch {
    // no detail: the parser's error may quote the string, password included
    throw new WidError('bad_input', 'backend: the PostgreSQL connection string is not a valid URL')
  }
  const host = client.host.includes(':') ? `[${client.host}]` : client.host
  return {address: `${host}:${client.port}`, location: `postgresql://${client.user ?? ''}@${host}:${client.port}/${client.database ?? ''}`}
}

/**
 * A failure as a one-line WidError that names the server but never the password.
 * `uncertain` replaces "try again" where a retry might apply a write twice.
 */
export function storageError(pg: PgModule, target: Target, error: unknown, options: {uncertain?: string; queryTimeoutMs: number}): WidError {
  if (error instanceof WidError) return error
  const {code, message = String(error)} = error as {code?: string; message?: string}
  const line = message.split('\n')[0]!.replace(/\.$/, '')
  const unavailable = (reason: string) =>
    new WidError('unavailable', `backend: PostgreSQL at ${target.address} is unavailable (${reason}); ${options.uncertain ?? 'try again'}`)
  if (error instanceof pg.DatabaseError) {
    if (code === '28P01' || code === '28000') {
      return new WidError('bad_input', `backend: PostgreSQL at ${target.address} refused the login: ${line} (check the connection string)`)
    }
    if (code === '55P03') return unavailable('another write held the store too long')
    // connection exceptions, shutdown and start-up, too many connections, cancelled statements
    if (/^(08|53|57)/.test(code ?? '') || code === '25P03') return unavailable(line)
    return new WidError('state', `backend: ${target.location}: ${line}`, {cause: error})
  }
  if (line === NO_ANSWER) return unavailable(`no answer within ${options.queryTimeoutMs / 1000} s`)
  const reason = networkReason(error)
  if (reason || code?.startsWith('E') || /connection|terminated|timeout|not queryable/i.test(line)) return unavailable(reason ?? line)
  return new WidError('state', `backend: ${target.location}: ${line}`)
}
