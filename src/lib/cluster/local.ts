/** The embedded cluster in `$WID_HOME`: SQLite store, auth logic in-process, caller = local admin. */
import {existsSync} from 'node:fs'
import {setTimeout as sleep} from 'node:timers/promises'
import {hostname, userInfo} from 'node:os'
import {AuthServer, type Caller, type ClusterStatus, type TrustExportType} from '../auth/auth-server.js'
import type {UserOrBot} from '../auth/principal.js'
import {checkPublicAddr, initializeCluster, type InitResult} from '../auth/init.js'
import {advanceRotations, type RotateRequest, type RotationStatus} from '../auth/rotation.js'
import {trustState, type TrustState} from '../auth/trust.js'
import type {BotInstance, SvidItem, SvidItemResult} from '../auth/bot-join.js'
import type {JwtSvidRequest, JwtSvidResponse, X509SvidRequest, X509SvidResponse} from '../auth/issuance.js'
import type {Backend} from '../backend/backend.js'
import {openStorage, SQLITE, type StorageSettings} from '../backend/open.js'
import type {KeyType} from '../crypto/keys.js'
import {WidError} from '../errors.js'
import {databasePath, widHome} from '../home.js'
import {TrustDomain, trustDomainFromHostname} from '../spiffeid/index.js'
import type {Cluster} from './cluster.js'
import {serverLogin} from './profiles.js'
import type {ClusterConfig} from '../services/cluster-config.js'
import type {ApplyMode, RoleChange} from '../auth/admin.js'
import type {Kind, Resource} from '../resources/types.js'
import type {AuditPageRequest} from '../auth/audit-admin.js'
import type {AuditEvent, AuditFilter, AuditPage} from '../services/audit.js'
import {pruneAuditIfDue, type AuditRetention} from '../services/audit-retention.js'

export interface LocalInitOptions {
  clusterName?: string
  publicAddr?: string
  caKeyType?: KeyType
}

export interface LocalOpenOptions {
  home?: string
  /** Leave the audit log as it is (the audit commands): no opportunistic pruning. */
  keepAudit?: boolean
  /** The store a server's configuration names (`-c wid.yaml`); by default the SQLite database in `home`. */
  storage?: StorageSettings
  now?: () => Date
  /** Act as this user or bot instead of the local admin (`--as`), with their access rules; the audit log names the admin. */
  as?: UserOrBot
}

export function localAdmin(): Caller {
  let name = 'admin'
  try {
    name = userInfo().username || name
  } catch {
    // no passwd entry for this uid (e.g. in a container): keep the generic name
  }
  return {kind: 'admin', name}
}

/** A local trust watch reads the store this often, and answers an unchanged state after WATCH_WAIT_MS (as a server does). */
const WATCH_POLL_MS = 200
const WATCH_WAIT_MS = 20_000

const defaultClusterName = () => trustDomainFromHostname(hostname()).name

export async function openBackend(home: string, storage: StorageSettings = SQLITE): Promise<Backend> {
  return openStorage(storage, home)
}

/** Where the cluster lives, for messages: the home of an embedded one, else its database (without a password). */
const placeOf = (home: string, storage: StorageSettings | undefined, backend: Backend): string => (storage?.type === 'postgresql' ? backend.location : home)

/** Creates the embedded cluster if it does not exist yet; safe to race. */
export async function initLocalCluster(options: LocalInitOptions & LocalOpenOptions = {}): Promise<InitResult & {home: string}> {
  const home = options.home ?? widHome()
  // Bad options are refused before the store is created.
  if (options.clusterName !== undefined) TrustDomain.parse(options.clusterName)
  if (options.publicAddr !== undefined) checkPublicAddr(options.publicAddr)
  const backend = await openBackend(home, options.storage)
  try {
    const result = await initializeCluster(backend, {
      clusterName: options.clusterName,
      publicAddr: options.publicAddr,
      caKeyType: options.caKeyType,
      defaultClusterName: defaultClusterName(),
      now: (options.now ?? (() => new Date()))(),
    })
    return {...result, home: placeOf(home, options.storage, backend)}
  } finally {
    await backend.close()
  }
}

/**
 * After `wid logout`, a command must not quietly issue SVIDs of a new local trust domain (a
 * cron job would never notice), nor `wid server start` serve one: in a `home` without a
 * cluster that has been logged in to a server, it says that it is not logged in, and how
 * to go on. `useLogin` says how to use the current login instead, where the command can.
 */
export async function refuseImplicitCluster(home: string, useLogin?: string): Promise<void> {
  const login = await serverLogin(home)
  if (!login) return
  const init = `wid init creates a local cluster in ${home}`
  if (login.current !== undefined) throw new WidError('state', `not a local cluster: ${home} is logged in to ${login.current} (${useLogin ? `${useLogin}; ` : ''}${init})`)
  const last = login.last
  const again = last ? `wid login --proxy ${(last.proxies ?? [last.proxy]).join(',')} --user ${last.user ?? 'NAME'}` : 'wid login --proxy HOST:PORT --user NAME'
  const where = last ? `you logged out of ${last.proxy}` : `${home} was used to log in to a server`
  throw new WidError('state', `not logged in: ${where} (${again} logs in again; ${init} instead)`)
}

export class LocalCluster implements Cluster {
  readonly mode = 'local'
  private readonly backend: Backend
  private readonly auth: AuthServer
  private readonly caller: Caller
  readonly home: string
  /** Set when opening it created the cluster (first use). */
  readonly created: ClusterConfig | undefined

  /** Whether `home` is a data directory (an embedded cluster), not a shared database. */
  private readonly embedded: boolean
  private closed = false

  private constructor(home: string, backend: Backend, auth: AuthServer, caller: Caller, created: ClusterConfig | undefined, embedded: boolean) {
    this.home = home
    this.embedded = embedded
    this.created = created
    this.backend = backend
    this.auth = auth
    this.caller = caller
  }

  /**
   * Opens the embedded cluster, initialising it with defaults on first use — except in a
   * WID_HOME that has been logged in to a server, where only wid init creates one.
   */
  static async open(options: LocalOpenOptions = {}): Promise<LocalCluster> {
    const home = options.home ?? widHome()
    if (options.storage?.type !== 'postgresql' && !existsSync(databasePath(home))) await refuseImplicitCluster(home, 'drop --local to use it')
    const backend = await openBackend(home, options.storage)
    try {
      const now = options.now ?? (() => new Date())
      const init = await initializeCluster(backend, {defaultClusterName: defaultClusterName(), now: now()})
      // With no server running, a semi-automatic CA rotation moves on when a command runs. Only
      // opportunistically: a command that cannot write (a read-only store, a damaged rotation)
      // still does its own job, and reports damage itself if it touches the authority.
      await advanceRotations(backend, now()).catch(() => undefined)
      // So is the audit log pruned to its retention, a batch at most (see pruneAuditIfDue), with the same leniency;
      // but not by the commands that read or govern the log (an old backup's log is read before it is pruned).
      if (!options.keepAudit) await pruneAuditIfDue(backend, now()).catch(() => undefined)
      const auth = await AuthServer.open(backend, now)
      const caller: Caller = options.as ? {...options.as, rehearsedBy: localAdmin().name} : localAdmin()
      return new LocalCluster(placeOf(home, options.storage, backend), backend, auth, caller, init.created ? init.config : undefined, options.storage?.type !== 'postgresql')
    } catch (error) {
      await backend.close()
      throw error
    }
  }

  async status(): Promise<ClusterStatus> {
    return {...(await this.auth.status()), ...(this.embedded ? {dataDir: this.home} : {})}
  }

  issueX509Svid(request: X509SvidRequest): Promise<X509SvidResponse> {
    return this.auth.issueX509Svid(this.caller, request)
  }

  issueJwtSvid(request: JwtSvidRequest): Promise<JwtSvidResponse> {
    return this.auth.issueJwtSvid(this.caller, request)
  }

  issueSvids(items: SvidItem[]): Promise<SvidItemResult[]> {
    return this.auth.issueSvids(this.caller, items)
  }

  exportTrust(type: TrustExportType): Promise<string> {
    return this.auth.exportTrust(type)
  }

  applyResource(resource: Resource, mode: ApplyMode): Promise<'created' | 'updated'> {
    return this.auth.applyResource(this.caller, resource, mode)
  }

  getResource(kind: Kind, name: string): Promise<Resource> {
    return this.auth.getResource(this.caller, kind, name)
  }

  listResources(kind: Kind): Promise<Resource[]> {
    return this.auth.listResources(this.caller, kind)
  }

  deleteResource(kind: Kind, name: string): Promise<string> {
    return this.auth.deleteResource(this.caller, kind, name)
  }

  addBot(options: Parameters<Cluster['addBot']>[0]): ReturnType<Cluster['addBot']> {
    return this.auth.addBot(this.caller, options)
  }

  addBotToken(botName: string, ttlSeconds: number): ReturnType<Cluster['addBotToken']> {
    return this.auth.addBotToken(this.caller, botName, ttlSeconds)
  }

  listBotInstances(bot?: string): Promise<BotInstance[]> {
    return this.auth.listBotInstances(this.caller, bot)
  }

  deleteBotInstance(bot: string, id: string): Promise<void> {
    return this.auth.deleteBotInstance(this.caller, bot, id)
  }

  updateRoles(kind: 'bot' | 'user', name: string, change: RoleChange): Promise<string[]> {
    return this.auth.updateRoles(this.caller, kind, name, change)
  }

  resetUser(options: Parameters<Cluster['resetUser']>[0]): ReturnType<Cluster['resetUser']> {
    return this.auth.resetUser(this.caller, options)
  }

  addUser(options: Parameters<Cluster['addUser']>[0]): ReturnType<Cluster['addUser']> {
    return this.auth.addUser(this.caller, options)
  }

  listAudit(filter: AuditFilter): Promise<AuditEvent[]> {
    return this.auth.listAudit(this.caller, filter)
  }

  auditEvents(request: AuditPageRequest): Promise<AuditPage> {
    return this.auth.auditEvents(this.caller, request)
  }

  auditRetention(): Promise<AuditRetention> {
    return this.auth.auditRetention(this.caller)
  }

  setAuditRetention(seconds: number): Promise<AuditRetention> {
    return this.auth.setAuditRetention(this.caller, seconds)
  }

  async pruneAudit(before: Date): Promise<{deleted: number; before: string}> {
    const {deleted, before: cutoff} = await this.auth.pruneAudit(this.caller, before)
    return {deleted, before: cutoff}
  }

  rotateAuthority(request: RotateRequest): Promise<RotationStatus> {
    return this.auth.rotateAuthority(this.caller, request)
  }

  /**
   * The store is polled: two reads of SQLite's cache, which notices any other process's
   * commit (see backend/sqlite.ts), every WATCH_POLL_MS, until it changes or the cluster closes.
   */
  async watchTrust(since?: number): Promise<TrustState> {
    const until = Date.now() + WATCH_WAIT_MS
    for (;;) {
      const state = await trustState(this.backend)
      if (since === undefined || state.sequence !== since || Date.now() >= until) return state
      await sleep(WATCH_POLL_MS, undefined, {ref: false})
      if (this.closed) return state
    }
  }

  close(): Promise<void> {
    this.closed = true
    return this.backend.close()
  }
}
