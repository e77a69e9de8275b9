/**
 * What every command that touches cluster state talks to. LocalCluster runs the auth
 * logic in-process on the embedded store; a remote implementation sends the same calls
 * to `wid server`.
 */
import type {IssuedSecret, ApplyMode, RoleChange} from '../auth/admin.js'
import type {ClusterStatus, TrustExportType} from '../auth/auth-server.js'
import type {BotInstance, SvidItem, SvidItemResult} from '../auth/bot-join.js'
import type {RotateRequest, RotationStatus} from '../auth/rotation.js'
import type {TrustState} from '../auth/trust.js'
import type {JwtSvidRequest, JwtSvidResponse, X509SvidRequest, X509SvidResponse} from '../auth/issuance.js'
import type {Bot, Kind, Resource} from '../resources/types.js'
import type {AuditPageRequest} from '../auth/audit-admin.js'
import type {AuditEvent, AuditFilter, AuditPage} from '../services/audit.js'
import type {AuditRetention} from '../services/audit-retention.js'

export interface Cluster {
  readonly mode: 'local' | 'remote'
  status(): Promise<ClusterStatus>
  issueX509Svid(request: X509SvidRequest): Promise<X509SvidResponse>
  issueJwtSvid(request: JwtSvidRequest): Promise<JwtSvidResponse>
  /** 1 to 100 items at once (with `all`, an item may yield several SVIDs); the results in the items' order, each with its dependsOn, a refused item as its error. */
  issueSvids(items: SvidItem[]): Promise<SvidItemResult[]>
  exportTrust(type: TrustExportType): Promise<string>
  applyResource(resource: Resource, mode: ApplyMode): Promise<'created' | 'updated'>
  getResource(kind: Kind, name: string): Promise<Resource>
  listResources(kind: Kind): Promise<Resource[]>
  /** Answers the name the resource is shown by (a token's id, whether given its id or its secret). */
  deleteResource(kind: Kind, name: string): Promise<string>
  addBot(options: {name: string; roles: string[]; traits?: Bot['spec']['traits']; tokenTtlSeconds: number}): Promise<{bot: Bot; join: IssuedSecret}>
  addBotToken(botName: string, ttlSeconds: number): Promise<IssuedSecret & {id: string}>
  listBotInstances(bot?: string): Promise<BotInstance[]>
  deleteBotInstance(bot: string, id: string): Promise<void>
  updateRoles(kind: 'bot' | 'user', name: string, change: RoleChange): Promise<string[]>
  addUser(options: {name: string; roles: string[]; traits?: Record<string, string[]>; inviteTtlSeconds: number}): Promise<{invite: IssuedSecret}>
  resetUser(options: {name: string; inviteTtlSeconds: number}): Promise<{invite: IssuedSecret}>
  listAudit(filter: AuditFilter): Promise<AuditEvent[]>
  /** A page of the log in commit order after `request.after` (at most 1000 events): what `wid audit export` follows. */
  auditEvents(request: AuditPageRequest): Promise<AuditPage>
  auditRetention(): Promise<AuditRetention>
  /** Sets how long events are kept (1h to ten years). */
  setAuditRetention(seconds: number): Promise<AuditRetention>
  /** Deletes the events older than `before` (at most now). */
  pruneAudit(before: Date): Promise<{deleted: number; before: string}>
  /** A CA rotation step, or the start of a semi-automatic rotation. */
  rotateAuthority(request: RotateRequest): Promise<RotationStatus>
  /**
   * The trust state (the bundle's sequence, each CA's signing key) once it is not `since`:
   * at once without `since`, else when it changes, else after about 20 s as it is.
   */
  watchTrust(since?: number): Promise<TrustState>
  close(): Promise<void>
}
