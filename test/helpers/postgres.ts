/**
 * A throwaway PostgreSQL server for one test file: initdb into a temporary directory, owned
 * by an unprivileged user when the tests run as root (PostgreSQL refuses to run as root),
 * listening on 127.0.0.1 on a free port with its unix socket in that directory. It never
 * uses a server that happens to be running. fsync is off (the data is thrown away), unless
 * `durable` (a benchmark beside SQLite, which syncs every commit).
 */
import {execFile} from 'node:child_process'
import {chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'
import pg from 'pg'

const run = promisify(execFile)

export interface TestPostgres {
  readonly host: string
  readonly port: number
  /** The superuser that tests connect as, with a password (host connections use scram-sha-256). */
  readonly user: string
  readonly password: string
  /** The URL of `database` on this server; `password` stands in for the real one (e.g. a wrong one). */
  url(database: string, password?: string): string
  /** A new empty database, so that tests do not see each other's data; returns its URL. */
  createDatabase(options?: {icuLocale?: string}): Promise<string>
  /** Stops the server (fast shutdown: sessions are ended) and keeps its data. */
  stop(): Promise<void>
  start(): Promise<void>
  restart(): Promise<void>
  /**
   * Freezes the server and its sessions (SIGSTOP), as a hung host or a cut network looks to
   * its clients: connections stay open and nothing answers. `resume()` thaws them.
   */
  pause(): Promise<void>
  resume(): Promise<void>
  /** Stops the server and removes its directory. */
  destroy(): Promise<void>
}

/** The directory of initdb, pg_ctl and postgres: Debian keeps them off PATH, in /usr/lib/postgresql/<version>/bin. */
async function binDir(): Promise<string> {
  const fromConfig = await run('pg_config', ['--bindir']).then(
    ({stdout}) => stdout.trim(),
    () => '',
  )
  // libpq-dev's pg_config names the server's directory even when the server is not installed
  if (fromConfig && existsSync(join(fromConfig, 'initdb'))) return fromConfig
  const root = '/usr/lib/postgresql'
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))) : []
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0]
  if (!newest) throw new Error('PostgreSQL is not installed (no initdb): apt-get install postgresql, as .ci/run does')
  return join(root, newest, 'bin')
}

/** Who runs the server: ourselves, or when we are root the `postgres` user (else `nobody`). */
async function serverUser(): Promise<{name: string; uid: number; gid: number} | undefined> {
  if (process.getuid?.() !== 0) return undefined
  for (const name of ['postgres', 'nobody']) {
    try {
      const uid = Number((await run('id', ['-u', name])).stdout)
      const gid = Number((await run('id', ['-g', name])).stdout)
      return {name, uid, gid}
    } catch {
      // no such user: try the next
    }
  }
  throw new Error('running as root, but there is neither a postgres nor a nobody user to run PostgreSQL as')
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as {port: number}
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** A TCP port on 127.0.0.1 that nothing listens on, for "server unreachable" tests. */
export const closedPort = freePort

export async function startPostgres(options: {durable?: boolean} = {}): Promise<TestPostgres> {
  const bin = await binDir()
  const owner = await serverUser()
  const dir = mkdtempSync(join(tmpdir(), 'wid-pg-'))
  const data = join(dir, 'data')
  const log = join(dir, 'server.log')
  const asOwner = (command: string, args: string[]) =>
    owner ? run('runuser', ['-u', owner.name, '--', join(bin, command), ...args]) : run(join(bin, command), args)
  const user = 'wid'
  const password = `pw-${process.pid}-${Date.now()}`
  writeFileSync(join(dir, 'password'), password, {mode: 0o600})
  if (owner) {
    chownSync(dir, owner.uid, owner.gid)
    chownSync(join(dir, 'password'), owner.uid, owner.gid)
  }
  await asOwner('initdb', [
    ...['-D', data, '-U', user, `--pwfile=${join(dir, 'password')}`],
    ...['--auth-local=trust', '--auth-host=scram-sha-256', '--encoding=UTF8', '--locale=C.UTF-8', '--no-sync'],
  ])

  let port = 0
  let running = false
  let databases = 0
  const start = async () => {
    // The port is chosen once and kept across restarts; a new one only if another process took it first.
    for (let attempt = 0; !running; attempt++) {
      port ||= await freePort()
      const settings = [`listen_addresses=127.0.0.1`, `port=${port}`, `unix_socket_directories=${dir}`]
      if (!options.durable) settings.push('fsync=off', 'synchronous_commit=off', 'full_page_writes=off')
      try {
        await asOwner('pg_ctl', ['-D', data, '-l', log, '-w', '-t', '60', '-o', settings.map((s) => `-c ${s}`).join(' '), 'start'])
        running = true
      } catch (error) {
        const tail = existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-5).join('\n') : ''
        if (attempt >= 2 || !/could not bind|already in use/.test(tail)) throw new Error(`PostgreSQL did not start: ${(error as Error).message}\n${tail}`, {cause: error})
        port = 0
      }
    }
  }
  const stop = async (mode: 'fast' | 'immediate' = 'fast') => {
    if (!running) return
    await asOwner('pg_ctl', ['-D', data, '-m', mode, '-w', 'stop'])
    running = false
  }
  let paused: number[] = []
  const pause = async () => {
    // the postmaster first, so that it starts no session between the listing and the signals
    const postmaster = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0])
    process.kill(postmaster, 'SIGSTOP')
    const children = (await run('pgrep', ['-P', String(postmaster)]).catch(() => ({stdout: ''}))).stdout.split('\n').filter(Boolean).map(Number)
    for (const pid of children) process.kill(pid, 'SIGSTOP')
    paused = [postmaster, ...children]
  }
  const resume = async () => {
    for (const pid of paused) process.kill(pid, 'SIGCONT')
    paused = []
  }
  const url = (database: string, pw = password) =>
    `postgresql://${user}:${encodeURIComponent(pw)}@127.0.0.1:${port}/${database}`

  try {
    await start()
  } catch (error) {
    rmSync(dir, {recursive: true, force: true})
    throw error
  }
  return {
    host: '127.0.0.1',
    get port() {
      return port
    },
    user,
    password,
    url,
    async createDatabase(options = {}) {
      const name = `wid_test_${++databases}`
      const admin = new pg.Client({connectionString: url('postgres')})
      await admin.connect()
      try {
        const locale = options.icuLocale ? ` TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE '${options.icuLocale}'` : ''
        await admin.query(`CREATE DATABASE ${name}${locale}`)
      } finally {
        await admin.end()
      }
      return url(name)
    },
    stop: () => stop(),
    start,
    async restart() {
      await stop()
      await start()
    },
    pause,
    resume,
    async destroy() {
      await resume()
      try {
        await stop('immediate')
      } finally {
        rmSync(dir, {recursive: true, force: true})
      }
    },
  }
}

/** Writes a wid.yaml at `path` whose storage is the PostgreSQL database at `url`; returns `path`. */
export function storageConfig(path: string, url: string): string {
  writeFileSync(path, `storage:\n  type: postgresql\n  conn_string: ${url}\n`)
  return path
}
