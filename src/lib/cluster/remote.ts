/**
 * The cluster on a `wid server`, reached with the client certificate from `wid login`:
 * every Cluster method is one POST to /v1/<method> over mutual TLS, with the server's host
 * CA pinned (only that CA's certificates are trusted, whatever the host name). With several
 * servers, each call goes to the one that answered last and moves on as failover.ts allows.
 * An answer that says the login should follow a CA rotation (see advice.ts) is followed
 * once, after the call, by `onAdvice`.
 */
import type {Agent} from 'node:https'
import type {ApplyMode, IssuedSecret, RoleChange} from '../auth/admin.js'
import type {ClusterStatus, ReissuedLogin, TrustExportType} from '../auth/auth-server.js'
import type {BotInstance, SvidItem, SvidItemResult} from '../auth/bot-join.js'
import type {RotateRequest, RotationStatus} from '../auth/rotation.js'
import type {TrustState} from '../auth/trust.js'
import type {JwtSvidRequest, JwtSvidResponse, X509SvidRequest, X509SvidResponse} from '../auth/issuance.js'
import {WidError} from '../errors.js'
import {shouldFollow, untrustedHostCa, type Advice} from './advice.js'
import {postApi} from './api-client.js'
import {ServerList} from './failover.js'
import type {Bot, Kind, Resource} from '../resources/types.js'
import type {AuditPageRequest} from '../auth/audit-admin.js'
import type {AuditEvent, AuditFilter, AuditPage} from '../services/audit.js'
import type {AuditRetention} from '../services/audit-retention.js'
import type {Cluster} from './cluster.js'
import type {ClientProfile} from './profiles.js'

export class RemoteCluster implements Cluster {
  readonly mode = 'remote'
  readonly servers: ServerList
  private current: ClientProfile
  private agent?: Agent
  private followed = false

  /** Follows a CA rotation, as the answer's advice says (a user's login: followLogin). Told once per RemoteCluster. */
  onAdvice?: (advice: Advice) => Promise<void>
  /** The one line for a server whose certificate is of a host CA this profile does not trust: what to do about it. */
  untrusted: (proxy: string) => string

  constructor(profile: ClientProfile, servers = new ServerList(profile.proxies ?? [profile.proxy], profile.answered)) {
    this.current = profile
    this.servers = servers
    this.untrusted = (proxy) =>
      untrustedHostCa('remote', proxy, 'this login', `wid login --proxy ${this.servers.addresses.join(',')} --user ${this.current.user} --ca-pin sha256:<the new pin>`)
  }

  get profile(): ClientProfile {
    return this.current
  }

  /** Uses `profile` from the next call on (its certificate or host CAs changed), on new connections. */
  useProfile(profile: ClientProfile): void {
    this.current = profile
    this.agent?.destroy()
    this.agent = undefined
  }

  private async call<T>(method: string, body: object): Promise<T> {
    if (Date.parse(this.current.expires) <= Date.now()) {
      const proxy = this.servers.addresses.join(',')
      throw new WidError('access_denied', `login: your login to ${proxy} expired at ${this.profile.expires}; run wid login --proxy ${proxy} --user ${this.current.user}`)
    }
    const {Agent} = await import('node:https')
    const pinned = this.current.verifyHostname ? {} : {checkServerIdentity: () => undefined}
    // Idle connections are closed after 10 s, before the server closes them (30 s). One pool serves every server.
    const agent = (this.agent ??= new Agent({ca: this.current.hostAuthorities, cert: this.current.certificate, key: this.current.key, allowPartialTrustChain: true, ...pinned, keepAlive: true, timeout: 10_000}))
    const local = ' (use --local for the embedded cluster)'
    const answer = await this.servers.call('remote', (proxy) => postApi(proxy, `/v1/${method}`, agent, body, 'remote', {unreachable: local, untrusted: this.untrusted}), local)
    if (!this.followed && this.onAdvice && shouldFollow(answer.advice, this.current.hostAuthorities)) {
      this.followed = true
      // The call itself succeeded: a failure to follow is left for the next call (of the next command) to retry.
      await this.onAdvice(answer.advice!).catch(() => undefined)
    }
    return answer.result as T
  }

  status(): Promise<ClusterStatus> {
    return this.call('status', {})
  }
  issueX509Svid(request: X509SvidRequest): Promise<X509SvidResponse> {
    return this.call('issueX509Svid', request)
  }
  issueJwtSvid(request: JwtSvidRequest): Promise<JwtSvidResponse> {
    return this.call('issueJwtSvid', request)
  }
  async issueSvids(items: SvidItem[]): Promise<SvidItemResult[]> {
    const {results} = await this.call<{results: SvidItemResult[]}>('issueSvids', {items})
    return results
  }
  exportTrust(type: TrustExportType): Promise<string> {
    return this.call('exportTrust', {type})
  }
  applyResource(resource: Resource, mode: ApplyMode): Promise<'created' | 'updated'> {
    return this.call('applyResource', {resource, mode})
  }
  getResource(kind: Kind, name: string): Promise<Resource> {
    return this.call('getResource', {kind, name})
  }
  listResources(kind: Kind): Promise<Resource[]> {
    return this.call('listResources', {kind})
  }
  async deleteResource(kind: Kind, name: string): Promise<string> {
    const {name: shown} = await this.call<{name: string}>('deleteResource', {kind, name})
    return shown
  }
  addBot(options: {name: string; roles: string[]; traits?: Bot['spec']['traits']; tokenTtlSeconds: number}): Promise<{bot: Bot; join: IssuedSecret}> {
    return this.call('addBot', options)
  }
  addBotToken(botName: string, ttlSeconds: number): Promise<IssuedSecret & {id: string}> {
    return this.call('addBotToken', {botName, ttlSeconds})
  }
  listBotInstances(bot?: string): Promise<BotInstance[]> {
    return this.call('listBotInstances', bot === undefined ? {} : {bot})
  }
  async deleteBotInstance(bot: string, id: string): Promise<void> {
    await this.call('deleteBotInstance', {bot, id})
  }
  updateRoles(kind: 'bot' | 'user', name: string, change: RoleChange): Promise<string[]> {
    return this.call('updateRoles', {kind, name, change})
  }
  resetUser(options: {name: string; inviteTtlSeconds: number}): Promise<{invite: IssuedSecret}> {
    return this.call('resetUser', options)
  }

  addUser(options: {name: string; roles: string[]; traits?: Record<string, string[]>; inviteTtlSeconds: number}): Promise<{invite: IssuedSecret}> {
    return this.call('addUser', options)
  }
  rotateAuthority(request: RotateRequest): Promise<RotationStatus> {
    return this.call('rotateAuthority', request)
  }
  /** A long poll (server/trust-watch.ts): the server answers within 20 s, inside the 30 s every call may take. */
  watchTrust(since?: number): Promise<TrustState> {
    return this.call('watchTrust', since === undefined ? {} : {since})
  }
  /** The caller's login certificate from the client CA key that signs now (same key and expiry), with the host CAs to trust. */
  reissueLogin(): Promise<ReissuedLogin> {
    return this.call('reissueLogin', {})
  }
  listAudit(filter: AuditFilter): Promise<AuditEvent[]> {
    return this.call('listAudit', {since: filter.since?.toISOString(), type: filter.type})
  }
  auditEvents(request: AuditPageRequest): Promise<AuditPage> {
    return this.call('auditEvents', {after: request.after, since: request.since?.toISOString(), limit: request.limit})
  }
  auditRetention(): Promise<AuditRetention> {
    return this.call('auditRetention', {})
  }
  setAuditRetention(seconds: number): Promise<AuditRetention> {
    return this.call('setAuditRetention', {retentionSeconds: seconds})
  }
  /** Asked again while the server says more is left (each request deletes a bounded number, see api.ts). */
  async pruneAudit(before: Date): Promise<{deleted: number; before: string}> {
    let deleted = 0
    for (;;) {
      const answer = await this.call<{deleted: number; before: string; more?: boolean}>('pruneAudit', {before: before.toISOString()})
      deleted += answer.deleted
      if (!answer.more) return {deleted, before: answer.before}
    }
  }
  async close(): Promise<void> {
    this.agent?.destroy()
  }
}
