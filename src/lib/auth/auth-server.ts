/**
 * The cluster's brain: every rule about who gets what, over the services, with no I/O of
 * its own. LocalCluster calls it in-process as the local admin; the server calls the same
 * methods with the principal it authenticated for the request.
 */
import type {Backend} from '../backend/backend.js'
import type {SigningThreads} from '../crypto/signing-threads.js'
import {isWidError, WidError} from '../errors.js'
import {authorityKey, getAuthority, parseAuthority, trustedKeys} from '../services/authorities.js'
import {getClusterConfig, type ClusterConfig} from '../services/cluster-config.js'
import {getResource as getStoredResource} from '../services/resources.js'
import {TrustDomain} from '../spiffeid/index.js'
import {
  addBot,
  addBotToken,
  addUser,
  deleteBotInstance,
  listBotInstancesOf,
  resetUser,
  applyResource,
  deleteResource,
  listResourcesOf,
  readResource,
  updateRoles,
  type AdminContext,
  type ApplyMode,
  type IssuedSecret,
  type RoleChange,
} from './admin.js'
import {AuthorityCache} from './authority-cache.js'
import {jwtSigner, x509Signer} from './authorities.js'
import {joinBot, renewBot, type BotCredential, type BotIdentity, type BotInstance, type JoinRequest, type RenewRequest, type SvidItem, type SvidItemResult} from './bot-join.js'
import {checkTtl, issueJwt, issueX509, publicKeyDer, type JwtSvidRequest, type JwtSvidResponse, type X509SvidRequest, type X509SvidResponse} from './issuance.js'
import {IssuerKeys} from '../join/jwt.js'
import {JoinRefused} from '../join/refused.js'
import {auditActor, principalOf, resolvePrincipal, type Caller, type CallerOrPrincipal, type Principal} from './principal.js'
import {resolveIdentities, type Resolution, type ResolvedIdentity} from './workload-issuance.js'
import {LoginGate} from './login-gate.js'
import {addressGroup, authenticateUser, DEFAULT_LOGIN_TTL_SECONDS, LoginRefused, LoginThrottle, MAX_LOGIN_TTL_SECONDS, type LoginAttempt} from './login.js'
import {RefusalAudit} from './refusal-audit.js'
import {issueClientCertificate, issueHostCertificate, type IssuedCertificate} from './tls-certificates.js'
import {keyId, rotateAuthority, type RotateRequest, type RotationStatus} from './rotation.js'
import {exportTrust, rotationStatuses, trustedCertificates, type TrustExportType} from './trust.js'
import {AuditWriter, listAuditEvents, type AuditEvent, type AuditFilter, type AuditPage} from '../services/audit.js'
import type {AuditRetention} from '../services/audit-retention.js'
import {auditEvents, pruneAuditBefore, readAuditRetention, setAuditRetention, type AuditPageRequest, type PruneResult} from './audit-admin.js'
import type {Bot, Kind, Resource, User} from '../resources/types.js'
import {isoString} from '../time.js'
import type {SigningAuthority} from '../svid/x509.js'

export type {Caller} from './principal.js'

export {TRUST_EXPORT_TYPES, type TrustExportType} from './trust.js'

export interface LoginResult {
  certificate: string
  notAfter: string
  hostAuthorities: string[]
  clusterName: string
  user: string
  roles: string[]
}

/** A login's certificate issued again (see reissueLogin), with the host CAs to trust now. */
export type ReissuedLogin = Pick<LoginResult, 'certificate' | 'notAfter' | 'hostAuthorities'>

export interface ClusterStatus {
  clusterName: string
  publicAddr: string
  jwtIssuer: string
  /** `sha256:<hex>` of each trusted X.509 CA's SubjectPublicKeyInfo. */
  caPins: string[]
  /** `sha256:<hex>` of the CA that signs the server's TLS certificates: what `wid login --ca-pin` expects. */
  hostCaPins?: string[]
  jwtKeyIds: string[]
  /** Each CA's rotation: its phase, the key that signs and every key trusted. */
  rotations: RotationStatus[]
  backend: {kind: string; location: string}
  /** Where the cluster's state lives, when the caller can see it (local mode). */
  dataDir?: string
  /** Who asked, with the roles they hold now (remote mode). */
  caller?: {kind: string; name: string; roles: string[]}
}

export interface AuthServerOptions {
  /** Threads that make the X.509-SVID signatures (the server's); without them, signatures are made in place. */
  signingThreads?: SigningThreads
  /** PEM CA certificates trusted, besides the system's, to fetch the keys of delegated join tokens' issuers. */
  joinCa?: string[]
}

/** Failed logins allowed per user and per client address within 15 minutes. */
const LOGIN_LIMITS = {perUser: 5, perAddress: 20, windowMs: 15 * 60_000}
/** Password checks at once (each holds a scrypt worker and 32 MiB), logins waiting for one, and for how long. */
const LOGIN_GATE = {slots: 4, maxWaiting: 64, waitMs: 10_000}

export class AuthServer {
  private readonly backend: Backend
  private readonly config: ClusterConfig
  private readonly trustDomain: TrustDomain
  private readonly now: () => Date
  private readonly x509Signer: AuthorityCache<{signer: SigningAuthority; bundle: string[]}>
  private readonly jwtSigner = new AuthorityCache('jwt', jwtSigner)
  private readonly audit: AuditWriter
  private readonly hostSigner = new AuthorityCache('host', (authority) => ({signer: x509Signer(authority), certificate: authority.activeKeys.find((k) => k.privateKey)?.certificate ?? ''}))
  private readonly clientSigner = new AuthorityCache('client', x509Signer)
  private readonly loginThrottle: LoginThrottle
  private readonly loginGate = new LoginGate(LOGIN_GATE)
  private readonly refusals = new RefusalAudit()
  private readonly issuerKeys: IssuerKeys

  private constructor(backend: Backend, config: ClusterConfig, now: () => Date, options: AuthServerOptions) {
    this.backend = backend
    this.x509Signer = new AuthorityCache('spiffe', (authority) => ({
      signer: {...x509Signer(authority), ...(options.signingThreads ? {threads: options.signingThreads} : {})},
      bundle: trustedKeys(authority).map((k) => k.certificate!),
    }))
    this.config = config
    this.trustDomain = TrustDomain.parse(config.clusterName)
    this.now = now
    this.audit = new AuditWriter(backend)
    this.loginThrottle = new LoginThrottle(backend, LOGIN_LIMITS)
    this.issuerKeys = new IssuerKeys({ca: options.joinCa})
  }

  private get admin(): AdminContext {
    return {backend: this.backend, now: this.now}
  }

  static async open(backend: Backend, now: () => Date = () => new Date(), options: AuthServerOptions = {}): Promise<AuthServer> {
    const config = await getClusterConfig(backend)
    if (!config) throw new WidError('state', 'auth: the cluster is not initialised (run wid init)')
    return new AuthServer(backend, config, now, options)
  }

  get jwtIssuer(): string {
    return `${this.config.publicAddr}/workload-identity`
  }

  /**
   * The caller as the store knows them now: refused if they no longer exist (or were reset,
   * or re-created, since their login). The server does this before every API call.
   */
  authenticate(caller: Caller): Promise<Principal> {
    return resolvePrincipal(this.backend, caller)
  }

  /** Who the caller is, with the roles held now. */
  async whoami(caller: CallerOrPrincipal): Promise<{kind: string; name: string; roles: string[]}> {
    const principal = await principalOf(this.backend, caller)
    return {kind: principal.caller.kind, name: principal.caller.name, roles: principal.roles}
  }

  async status(): Promise<ClusterStatus> {
    const spiffe = await getAuthority(this.backend, 'spiffe')
    const jwt = await getAuthority(this.backend, 'jwt')
    const host = await this.backend.get(authorityKey('host'))
    return {
      clusterName: this.config.clusterName,
      publicAddr: this.config.publicAddr,
      jwtIssuer: this.jwtIssuer,
      caPins: trustedKeys(spiffe.authority).map(keyId),
      ...(host ? {hostCaPins: trustedKeys(parseAuthority(host)).map(keyId)} : {}),
      jwtKeyIds: trustedKeys(jwt.authority).map((k) => k.kid ?? ''),
      rotations: await rotationStatuses(this.backend),
      backend: {kind: this.backend.kind, location: this.backend.location},
    }
  }

  /** A CA rotation step, or the start of a semi-automatic rotation (see rotation.ts); needs `update` on `cert_authority`. */
  async rotateAuthority(caller: CallerOrPrincipal, request: RotateRequest): Promise<RotationStatus> {
    const principal = await principalOf(this.backend, caller)
    principal.access?.checkVerbs('cert_authority', ['update'])
    return rotateAuthority(this.backend, request, this.now(), auditActor(principal))
  }

  async issueX509Svid(caller: CallerOrPrincipal, request: X509SvidRequest): Promise<X509SvidResponse> {
    const principal = await principalOf(this.backend, caller)
    const {identities} = await this.resolve(principal, {type: 'x509', ...request})
    return this.mintX509(principal, identities[0]!, request)
  }

  async issueJwtSvid(caller: CallerOrPrincipal, request: JwtSvidRequest): Promise<JwtSvidResponse> {
    const principal = await principalOf(this.backend, caller)
    const {identities} = await this.resolve(principal, {type: 'jwt', ...request})
    return this.mintJwt(principal, identities[0]!, request)
  }

  private resolve(principal: Principal, item: SvidItem): Promise<Resolution> {
    const {path, name, labels, workload, all} = item
    const sans = item.type === 'x509' ? {dnsSans: item.dnsSans, ipSans: item.ipSans} : {}
    return resolveIdentities(this.backend, this.trustDomain, principal, {selector: {path, name, labels}, type: item.type, ...sans, workload, all})
  }

  private async mintX509(principal: Principal, identity: ResolvedIdentity, request: X509SvidRequest): Promise<X509SvidResponse> {
    const {signer, bundle} = await this.x509Signer.get(this.backend)
    const now = this.now()
    const svid = await issueX509({signer, bundle, now}, identity, request)
    await this.audit.append({
      time: isoString(now),
      type: 'svid.issued',
      ...auditActor(principal),
      spiffe_id: svid.spiffeId,
      serial: svid.serial,
      svid_type: 'x509',
      ttl_seconds: Math.round((Date.parse(svid.notAfter) - now.getTime()) / 1000),
      ...(svid.workloadIdentity ? {workload_identity: svid.workloadIdentity} : {}),
      ...(request.workload ? {workload: request.workload} : {}),
    })
    return svid
  }

  private async mintJwt(principal: Principal, identity: ResolvedIdentity, request: JwtSvidRequest): Promise<JwtSvidResponse> {
    const signer = await this.jwtSigner.get(this.backend)
    const now = this.now()
    const svid = await issueJwt({issuer: this.jwtIssuer, signer, now}, identity, request)
    await this.audit.append({
      time: isoString(now),
      type: 'svid.issued',
      ...auditActor(principal),
      spiffe_id: svid.spiffeId,
      serial: svid.jti,
      svid_type: 'jwt',
      ttl_seconds: Math.round((Date.parse(svid.expiresAt) - Date.parse(svid.issuedAt)) / 1000),
      ...(svid.workloadIdentity ? {workload_identity: svid.workloadIdentity} : {}),
      ...(request.workload ? {workload: request.workload} : {}),
    })
    return svid
  }

  /**
   * A batch of SVIDs for one caller, resolved once: each item is checked, issued and audited
   * as issueX509Svid and issueJwtSvid do it alone (with `all`, one SVID per identity), and a
   * refused item fails only itself.
   */
  async issueSvids(caller: CallerOrPrincipal, items: SvidItem[]): Promise<SvidItemResult[]> {
    const principal = await principalOf(this.backend, caller)
    return Promise.all(
      items.map(async (item): Promise<SvidItemResult> => {
        try {
          const {identities, dependsOn} = await this.resolve(principal, item)
          if (item.type === 'x509') {
            const x509s = await Promise.all(identities.map((identity) => this.mintX509(principal, identity, item)))
            return item.all ? {x509s, dependsOn} : {x509: x509s[0]!, dependsOn}
          }
          const jwts = await Promise.all(identities.map((identity) => this.mintJwt(principal, identity, item)))
          return item.all ? {jwts, dependsOn} : {jwt: jwts[0]!, dependsOn}
        } catch (error) {
          if (!isWidError(error)) throw error
          return {error: {code: error.code, message: error.message}}
        }
      }),
    )
  }

  private async botContext(now: Date) {
    return {backend: this.backend, now, clientCa: await this.clientSigner.get(this.backend), clusterName: this.config.clusterName, issuerKeys: this.issuerKeys}
  }

  /** A refused join or renewal in the audit log: why, and for a delegated method the token and the claims that decided (never the token itself). */
  private async auditRefusal(now: Date, type: string, actor: string, error: unknown, limitedBy?: string): Promise<void> {
    if (!(error instanceof JoinRefused)) return
    const {record, skipped} = limitedBy === undefined ? {record: true, skipped: 0} : this.refusals.admit(limitedBy, now.getTime())
    if (!record) return
    const {method, token, claims} = error.details
    await this.audit.append({
      time: isoString(now),
      type,
      actor,
      reason: error.message,
      ...(skipped > 0 ? {refusals_not_recorded: skipped} : {}),
      ...(method === undefined ? {} : {method}),
      ...(token === undefined ? {} : {token_id: token}),
      ...(claims === undefined ? {} : {claims}),
    })
  }

  /** A bot joins with a one-time token or a delegated method's ID token (no login: that is the credential). */
  async joinBot(request: JoinRequest): Promise<BotIdentity> {
    const now = this.now()
    const context = {...(await this.botContext(now)), throttle: this.loginThrottle, gate: this.loginGate}
    try {
      return this.botIdentity(await joinBot(context, request))
    } catch (error) {
      // Delegated joins are not throttled: their refusals are recorded at a bounded rate per address
      await this.auditRefusal(now, 'bot.join_failed', `address:${request.address}`, error, request.method === undefined ? undefined : `address:${addressGroup(request.address)}`)
      throw error
    }
  }

  /** A bot instance renews its client certificate with the one it holds, and a fresh ID token if it joined by a delegated method (see bot-join.ts). */
  async renewBot(caller: CallerOrPrincipal, request: RenewRequest): Promise<BotIdentity> {
    const who = (await principalOf(this.backend, caller)).caller
    if (who.kind !== 'bot' || who.instanceId === undefined || who.generation === undefined || who.rehearsedBy !== undefined) {
      throw new WidError('access_denied', 'renew: only a bot renews its identity')
    }
    const now = this.now()
    try {
      return this.botIdentity(await renewBot(await this.botContext(now), {bot: who.name, instanceId: who.instanceId, generation: who.generation}, request))
    } catch (error) {
      await this.auditRefusal(now, 'bot.renew_failed', `bot:${who.name}`, error, `instance:${who.instanceId}`)
      throw error
    }
  }

  private async botIdentity({instance, certificate}: BotCredential): Promise<BotIdentity> {
    return {
      botName: instance.bot,
      instanceId: instance.id,
      generation: instance.generation,
      certificate: certificate.certificate,
      notAfter: certificate.notAfter,
      clusterName: this.config.clusterName,
      hostAuthorities: await this.hostAuthorities(),
    }
  }

  async listBotInstances(caller: CallerOrPrincipal, bot?: string): Promise<BotInstance[]> {
    return listBotInstancesOf(this.admin, await principalOf(this.backend, caller), bot)
  }

  async deleteBotInstance(caller: CallerOrPrincipal, bot: string, id: string): Promise<void> {
    return deleteBotInstance(this.admin, await principalOf(this.backend, caller), bot, id)
  }

  async applyResource(caller: CallerOrPrincipal, resource: Resource, mode: ApplyMode): Promise<'created' | 'updated'> {
    return applyResource(this.admin, await principalOf(this.backend, caller), resource, mode)
  }

  async getResource(caller: CallerOrPrincipal, kind: Kind, name: string): Promise<Resource> {
    return readResource(this.admin, await principalOf(this.backend, caller), kind, name)
  }

  async listResources(caller: CallerOrPrincipal, kind: Kind): Promise<Resource[]> {
    return listResourcesOf(this.admin, await principalOf(this.backend, caller), kind)
  }

  async deleteResource(caller: CallerOrPrincipal, kind: Kind, name: string): Promise<string> {
    return deleteResource(this.admin, await principalOf(this.backend, caller), kind, name)
  }

  async addBot(caller: CallerOrPrincipal, options: {name: string; roles: string[]; traits?: Bot['spec']['traits']; tokenTtlSeconds: number}) {
    return addBot(this.admin, await principalOf(this.backend, caller), options)
  }

  async addBotToken(caller: CallerOrPrincipal, botName: string, ttlSeconds: number): Promise<IssuedSecret & {id: string}> {
    return addBotToken(this.admin, await principalOf(this.backend, caller), botName, ttlSeconds)
  }

  async updateRoles(caller: CallerOrPrincipal, kind: 'bot' | 'user', name: string, change: RoleChange): Promise<string[]> {
    return updateRoles(this.admin, await principalOf(this.backend, caller), kind, name, change)
  }

  async addUser(caller: CallerOrPrincipal, options: {name: string; roles: string[]; traits?: Record<string, string[]>; inviteTtlSeconds: number}) {
    return addUser(this.admin, await principalOf(this.backend, caller), options)
  }

  async resetUser(caller: CallerOrPrincipal, options: {name: string; inviteTtlSeconds: number}) {
    return resetUser(this.admin, await principalOf(this.backend, caller), options.name, options.inviteTtlSeconds)
  }

  /** PEM certificates of the CA that signs the server's TLS certificates (clients pin it). */
  hostAuthorities(): Promise<string[]> {
    return trustedCertificates(this.backend, 'host')
  }

  /** PEM certificates of the CA that signs client certificates (the server requires it). */
  clientAuthorities(): Promise<string[]> {
    return trustedCertificates(this.backend, 'client')
  }

  /** A TLS server certificate for `names` (host names and addresses) and the server's own key, with the host CA certificate that issued it. */
  async hostCertificate(names: string[], publicKey: string, ttlSeconds: number): Promise<IssuedCertificate & {authority: string}> {
    const {signer, certificate} = await this.hostSigner.get(this.backend)
    return {...issueHostCertificate(signer, names, publicKeyDer(publicKey), this.now(), ttlSeconds), authority: certificate}
  }

  /** Password (or invite) login: a client certificate for a key the client generated. */
  async login(attempt: LoginAttempt, publicKey: string, ttlSeconds = DEFAULT_LOGIN_TTL_SECONDS): Promise<LoginResult> {
    const spki = publicKeyDer(publicKey)
    checkTtl(ttlSeconds, MAX_LOGIN_TTL_SECONDS)
    const now = this.now()
    let user: User
    try {
      user = await authenticateUser(this.backend, this.loginThrottle, this.loginGate, attempt, now)
    } catch (error) {
      if (error instanceof LoginRefused) {
        await this.audit.append({time: isoString(now), type: 'user.login_failed', actor: `address:${attempt.address}`, kind: 'user', name: attempt.user, reason: error.message})
      }
      throw error
    }
    // A reset (or removal) while the password was being checked: the login it would give is already void.
    const current = await getStoredResource<User>(this.backend, 'user', user.metadata.name)
    if (current?.status?.login_id !== user.status?.login_id) {
      throw new WidError('access_denied', `auth: user "${user.metadata.name}" was reset or removed during this login; log in again`)
    }
    const issued = issueClientCertificate(await this.clientSigner.get(this.backend), {kind: 'user', name: user.metadata.name, loginId: user.status?.login_id}, spki, now, ttlSeconds)
    await this.audit.append({time: now.toISOString(), type: 'user.login', actor: `user:${user.metadata.name}`, kind: 'user', name: user.metadata.name, address: attempt.address})
    return {
      certificate: issued.certificate,
      notAfter: issued.notAfter,
      hostAuthorities: await this.hostAuthorities(),
      clusterName: this.config.clusterName,
      user: user.metadata.name,
      roles: user.spec.roles,
    }
  }

  /**
   * A user's login certificate issued again by the client CA key that signs now, for the
   * same key, holder and expiry: what a client does, without a password, when told that its
   * certificate is of a key that a client CA rotation is replacing. A bot renews instead.
   */
  async reissueLogin(caller: CallerOrPrincipal, presented: {spki: Uint8Array; notAfter: Date}): Promise<ReissuedLogin> {
    const who = (await principalOf(this.backend, caller)).caller
    if (who.kind !== 'user' || who.loginId === undefined || who.rehearsedBy !== undefined) {
      throw new WidError('access_denied', "reissue: only a logged-in user's certificate is issued again; a bot renews its identity")
    }
    // From a whole second, so that the new certificate expires exactly when the one it replaces does
    const now = new Date(Math.floor(this.now().getTime() / 1000) * 1000)
    const ttlSeconds = (presented.notAfter.getTime() - now.getTime()) / 1000
    if (!(ttlSeconds > 0)) throw new WidError('access_denied', 'reissue: your client certificate has expired; run wid login')
    const issued = issueClientCertificate(await this.clientSigner.get(this.backend), who, presented.spki, now, ttlSeconds)
    await this.audit.append({time: isoString(now), type: 'user.login_reissued', actor: `user:${who.name}`, kind: 'user', name: who.name})
    return {certificate: issued.certificate, notAfter: issued.notAfter, hostAuthorities: await this.hostAuthorities()}
  }

  async listAudit(caller: CallerOrPrincipal, filter: AuditFilter): Promise<AuditEvent[]> {
    const principal = await principalOf(this.backend, caller)
    principal.access?.checkVerbs('audit', ['list'])
    return listAuditEvents(this.backend, filter)
  }

  async auditEvents(caller: CallerOrPrincipal, request: AuditPageRequest): Promise<AuditPage> {
    return auditEvents(this.backend, await principalOf(this.backend, caller), request)
  }

  async auditRetention(caller: CallerOrPrincipal): Promise<AuditRetention> {
    return readAuditRetention(this.backend, await principalOf(this.backend, caller))
  }

  async setAuditRetention(caller: CallerOrPrincipal, seconds: number): Promise<AuditRetention> {
    return setAuditRetention(this.backend, await principalOf(this.backend, caller), seconds, this.now())
  }

  async pruneAudit(caller: CallerOrPrincipal, before: Date, maxBatches?: number): Promise<PruneResult> {
    return pruneAuditBefore(this.backend, await principalOf(this.backend, caller), before, this.now(), maxBatches)
  }

  /** Public trust material only: CA certificates and public keys, never a private key. */
  exportTrust(type: TrustExportType): Promise<string> {
    return exportTrust(this.backend, type)
  }
}
