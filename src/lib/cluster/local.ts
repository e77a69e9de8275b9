/** The embedded cluster in `$WID_HOME`: SQLite store, auth logic in-process, caller = local admin. */
import {hostname, userInfo} from 'node:os'
import {AuthServer, type Caller, type ClusterStatus, type TrustExportType} from '../auth/auth-server.js'
import {initializeCluster, type InitResult} from '../auth/init.js'
import type {JwtSvidRequest, JwtSvidResponse, X509SvidRequest, X509SvidResponse} from '../auth/issuance.js'
import type {Backend} from '../backend/backend.js'
import {SqliteBackend} from '../backend/sqlite.js'
import type {KeyType} from '../crypto/keys.js'
import {databasePath, widHome} from '../home.js'
import {trustDomainFromHostname} from '../spiffeid/index.js'
import type {Cluster} from './cluster.js'

export interface LocalInitOptions {
  clusterName?: string
  publicAddr?: string
  caKeyType?: KeyType
}

export interface LocalOpenOptions {
  home?: string
  now?: () => Date
}

function localAdmin(): Caller {
  let name = 'admin'
  try {
    name = userInfo().username || name
  } catch {
    // no passwd entry for this uid (e.g. in a container): keep the generic name
  }
  return {kind: 'admin', name}
}

const defaultClusterName = () => trustDomainFromHostname(hostname()).name

export async function openBackend(home: string): Promise<Backend> {
  return SqliteBackend.open(databasePath(home))
}

/** Creates the embedded cluster if it does not exist yet; safe to race. */
export async function initLocalCluster(options: LocalInitOptions & LocalOpenOptions = {}): Promise<InitResult & {home: string}> {
  const home = options.home ?? widHome()
  const backend = await openBackend(home)
  try {
    const result = await initializeCluster(backend, {
      clusterName: options.clusterName,
      publicAddr: options.publicAddr,
      caKeyType: options.caKeyType,
      defaultClusterName: defaultClusterName(),
      now: (options.now ?? (() => new Date()))(),
    })
    return {...result, home}
  } finally {
    await backend.close()
  }
}

export class LocalCluster implements Cluster {
  readonly mode = 'local'
  private readonly backend: Backend
  private readonly auth: AuthServer
  private readonly caller: Caller
  private readonly home: string

  private constructor(home: string, backend: Backend, auth: AuthServer) {
    this.home = home
    this.backend = backend
    this.auth = auth
    this.caller = localAdmin()
  }

  /** Opens the embedded cluster, initialising it with defaults on first use. */
  static async open(options: LocalOpenOptions = {}): Promise<LocalCluster> {
    const home = options.home ?? widHome()
    const backend = await openBackend(home)
    try {
      const now = options.now ?? (() => new Date())
      await initializeCluster(backend, {defaultClusterName: defaultClusterName(), now: now()})
      return new LocalCluster(home, backend, await AuthServer.open(backend, now))
    } catch (error) {
      await backend.close()
      throw error
    }
  }

  async status(): Promise<ClusterStatus> {
    return {...(await this.auth.status()), dataDir: this.home}
  }

  issueX509Svid(request: X509SvidRequest): Promise<X509SvidResponse> {
    return this.auth.issueX509Svid(this.caller, request)
  }

  issueJwtSvid(request: JwtSvidRequest): Promise<JwtSvidResponse> {
    return this.auth.issueJwtSvid(this.caller, request)
  }

  exportTrust(type: TrustExportType): Promise<string> {
    return this.auth.exportTrust(type)
  }

  close(): Promise<void> {
    return this.backend.close()
  }
}
