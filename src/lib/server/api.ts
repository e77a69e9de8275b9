/**
 * The cluster API: one POST per Cluster method under /v1/, JSON in and out. The caller is
 * the holder of the client certificate, authenticated against the store by the server
 * before any method runs; each body is checked against its schema (schemas/api/) before it
 * reaches the AuthServer method, which applies the same rules as in local mode.
 */
import type {AuthServer, TrustExportType} from '../auth/auth-server.js'
import type {ApplyMode, RoleChange} from '../auth/admin.js'
import type {JoinBody, RenewRequest, SvidItem, SvidItemResult} from '../auth/bot-join.js'
import type {JwtSvidRequest, X509SvidRequest} from '../auth/issuance.js'
import type {Principal} from '../auth/principal.js'
import type {RotateRequest} from '../auth/rotation.js'
import type {TrustState} from '../auth/trust.js'
import type {AuditCursor} from '../services/audit.js'
import {badInput, WidError} from '../errors.js'
import {parseInstant} from '../time.js'
import {FieldError} from '../resources/parse.js'
import {parseKind} from '../resources/refs.js'
import {validateConfig} from '../resources/schema.js'
import type {Bot, Resource} from '../resources/types.js'
import type {ServerMetrics} from './metrics.js'

/** What a method may know of its request beyond the body: the client's address, the certificate it presented (its key and expiry), and the server's trust watch. */
export interface RequestContext {
  address: string
  certificate: {spki: Uint8Array; notAfter: Date}
  /** Aborted when the caller goes away before the answer. */
  gone?: AbortSignal
  /** Counts what the methods issue. */
  metrics: Pick<ServerMetrics, 'issued'>
  trust: {
    /** The trust state once it is not `since` (see server/trust-watch.ts); `address` is the caller's. */
    wait(since: number | undefined, address: string, gone?: AbortSignal): Promise<TrustState>
    /** This server changed the trust: the public documents and the watch learn of it now, not at the next check. */
    changed(): Promise<void>
  }
}

/** A method's body is what its schema (schemas/api/<method>.json) lets through. */
type Handler<Body = never> = (auth: AuthServer, principal: Principal, body: Body, request: RequestContext) => Promise<unknown>

interface Named {
  kind: string
  name: string
}


interface LoginBody {
  user: string
  password: string
  invite?: string
  publicKey: string
  ttlSeconds?: number
}

/** Batches of PRUNE_BATCH events one pruneAudit request deletes at most (100,000 events). */
const API_PRUNE_BATCHES = 10

/** An RFC 3339 time, as clients send them (toISOString), within the years isoString keeps. */
function timeOf(value: string | undefined, where: string): Date | undefined {
  if (value === undefined) return undefined
  try {
    return parseInstant(value, where)
  } catch {
    throw badInput(`api: ${where}: must be an ISO 8601 time (RFC 3339, years 1000 to 9999)`)
  }
}

/** The SVIDs a batch issued, by type (an item may issue several, or be refused). */
function countIssued(results: SvidItemResult[], metrics: RequestContext['metrics']): void {
  let x509 = 0
  let jwt = 0
  for (const result of results) {
    if ('x509' in result) x509++
    else if ('x509s' in result) x509 += result.x509s.length
    else if ('jwt' in result) jwt++
    else if ('jwts' in result) jwt += result.jwts.length
  }
  if (x509 > 0) metrics.issued('x509', x509)
  if (jwt > 0) metrics.issued('jwt', jwt)
}

const API: Record<string, Handler> = {
  status: async (auth, principal) => {
    // Where the server keeps its files is the server's business.
    const {dataDir: _hidden, backend, ...status} = await auth.status()
    return {...status, backend: {kind: backend.kind, location: 'on the server'}, caller: await auth.whoami(principal)}
  },
  whoami: (auth, principal) => auth.whoami(principal),
  issueX509Svid: async (auth, principal, body: X509SvidRequest, request) => {
    const svid = await auth.issueX509Svid(principal, body)
    request.metrics.issued('x509', 1)
    return svid
  },
  issueJwtSvid: async (auth, principal, body: JwtSvidRequest, request) => {
    const svid = await auth.issueJwtSvid(principal, body)
    request.metrics.issued('jwt', 1)
    return svid
  },
  issueSvids: async (auth, principal, body: {items: SvidItem[]}, request) => {
    const results = await auth.issueSvids(principal, body.items)
    countIssued(results, request.metrics)
    return {results}
  },
  renewBot: (auth, principal, body: Omit<RenewRequest, 'address'>, request) => auth.renewBot(principal, {...body, address: request.address}),
  listBotInstances: (auth, principal, body: {bot?: string}) => auth.listBotInstances(principal, body.bot),
  deleteBotInstance: async (auth, principal, body: {bot: string; id: string}) => {
    await auth.deleteBotInstance(principal, body.bot, body.id)
    return null
  },
  exportTrust: (auth, _principal, body: {type: TrustExportType}) => auth.exportTrust(body.type),
  applyResource: (auth, principal, body: {resource: Resource; mode: ApplyMode}) => auth.applyResource(principal, body.resource, body.mode),
  getResource: (auth, principal, body: Named) => auth.getResource(principal, parseKind(body.kind), body.name),
  listResources: (auth, principal, body: {kind: string}) => auth.listResources(principal, parseKind(body.kind)),
  deleteResource: async (auth, principal, body: Named) => {
    return {name: await auth.deleteResource(principal, parseKind(body.kind), body.name)}
  },
  addBot: (auth, principal, body: {name: string; roles: string[]; traits?: Bot['spec']['traits']; tokenTtlSeconds: number}) => auth.addBot(principal, body),
  addBotToken: (auth, principal, body: {botName: string; ttlSeconds: number}) => auth.addBotToken(principal, body.botName, body.ttlSeconds),
  updateRoles: (auth, principal, body: {kind: 'bot' | 'user'; name: string; change: RoleChange}) => auth.updateRoles(principal, body.kind, body.name, body.change),
  resetUser: (auth, principal, body: {name: string; inviteTtlSeconds: number}) => auth.resetUser(principal, body),
  addUser: (auth, principal, body: {name: string; roles: string[]; traits?: Record<string, string[]>; inviteTtlSeconds: number}) => auth.addUser(principal, body),
  rotateAuthority: async (auth, principal, body: RotateRequest, request) => {
    const status = await auth.rotateAuthority(principal, body)
    await request.trust.changed()
    return status
  },
  // Any authenticated caller may watch: the trust is public (the bundle endpoints serve it to anyone).
  watchTrust: (_auth, _principal, body: {since?: number}, request) => request.trust.wait(body.since, request.address, request.gone),
  reissueLogin: (auth, principal, _body, request) => auth.reissueLogin(principal, request.certificate),
  listAudit: (auth, principal, body: {since?: string; type?: string}) => auth.listAudit(principal, {since: timeOf(body.since, 'listAudit: since'), type: body.type}),
  auditEvents: (auth, principal, body: {after?: AuditCursor; since?: string; limit?: number}) =>
    auth.auditEvents(principal, {after: body.after, since: timeOf(body.since, 'auditEvents: since'), limit: body.limit}),
  auditRetention: (auth, principal) => auth.auditRetention(principal),
  setAuditRetention: (auth, principal, body: {retentionSeconds: number}) => auth.setAuditRetention(principal, body.retentionSeconds),
  // A few seconds of deleting per request, well inside a client's answer timeout: the client asks again while `more`
  pruneAudit: (auth, principal, body: {before: string}) => auth.pruneAudit(principal, timeOf(body.before, 'pruneAudit: before')!, API_PRUNE_BATCHES),
}

/** Checks a body against its method's schema: bad input naming the method and the field. */
async function checkBody(method: string, body: Record<string, unknown>): Promise<void> {
  try {
    await validateConfig(`api/${method}`, body)
  } catch (error) {
    if (error instanceof FieldError) throw badInput(`api: ${method}: ${error.message}`)
    throw error
  }
}

type Method = (auth: AuthServer, principal: Principal, body: Record<string, unknown>, request: RequestContext) => Promise<unknown>

const METHODS = new Map<string, Method>(
  Object.entries(API).map(([name, handler]) => [
    name,
    async (auth, principal, body, request) => {
      await checkBody(name, body)
      return handler(auth, principal, body as never, request)
    },
  ]),
)

/** The method behind `/v1/<name>` (the API's own names only, never Object.prototype's), which checks its body first. */
export function apiMethod(name: string): Method | undefined {
  return METHODS.get(name)
}

/** A /v1/login body, checked against its schema. */
export async function loginBody(body: Record<string, unknown>): Promise<LoginBody> {
  await checkBody('login', body)
  return body as unknown as LoginBody
}

/** A /v1/joinBot body, checked against its schema. */
export async function joinBody(body: Record<string, unknown>): Promise<JoinBody> {
  await checkBody('joinBot', body)
  return body as unknown as JoinBody
}

/**
 * Compiles the schema of every method now (by checking an empty body, which most refuse),
 * so that a missing or broken schema stops the server at start, not its first call.
 */
export async function compileApiSchemas(): Promise<void> {
  for (const method of ['login', 'joinBot', ...METHODS.keys()]) {
    await checkBody(method, {}).catch((error: unknown) => {
      if (!(error instanceof WidError) || error.code !== 'bad_input') throw error
    })
  }
}
