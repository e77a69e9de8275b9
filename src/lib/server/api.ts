/**
 * The cluster API: one POST per Cluster method under /v1/, JSON in and out. The caller is
 * the holder of the client certificate, authenticated against the store by the server
 * before any method runs; every call goes through the same AuthServer methods, and so the
 * same access rules, as local mode.
 */
import {TRUST_EXPORT_TYPES, type AuthServer, type TrustExportType} from '../auth/auth-server.js'
import type {ApplyMode, RoleChange} from '../auth/admin.js'
import type {Principal} from '../auth/principal.js'
import {badInput} from '../errors.js'
import {parseKind} from '../resources/refs.js'
import type {Kind, Resource} from '../resources/types.js'

type Handler = (auth: AuthServer, principal: Principal, body: Record<string, unknown>) => Promise<unknown>

const str = (body: Record<string, unknown>, field: string): string => {
  const value = body[field]
  if (typeof value !== 'string') throw badInput(`api: "${field}" must be a string`)
  return value
}

const kindOf = (body: Record<string, unknown>): Kind => parseKind(str(body, 'kind'))

const strings = (value: unknown, field: string): string[] => {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw badInput(`api: "${field}" must be a list of strings`)
  return value
}

/** Ten years: beyond any TTL wid allows, and far below what a Date can hold. */
const MAX_SECONDS = 10 * 366 * 24 * 3600

const positive = (value: unknown, field: string): number => {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0 || value > MAX_SECONDS) {
    throw badInput(`api: "${field}" must be a positive whole number of seconds, at most ten years`)
  }
  return value
}

function resourceOf(body: Record<string, unknown>): Resource {
  const resource = body.resource
  if (!resource || typeof resource !== 'object' || Array.isArray(resource)) throw badInput('api: "resource" must be a resource document')
  return resource as Resource
}

function modeOf(value: unknown): ApplyMode {
  if (value === 'create' || value === 'upsert') return value
  if (value && typeof value === 'object' && Number.isInteger((value as {revision?: unknown}).revision)) return {revision: (value as {revision: number}).revision}
  throw badInput('api: "mode" must be "create", "upsert" or {"revision": N}')
}

function changeOf(value: unknown): RoleChange {
  if (!value || typeof value !== 'object') throw badInput('api: "change" must be {"add": [...]} or {"set": [...]}')
  const change = value as {add?: unknown; set?: unknown}
  if ((change.add === undefined) === (change.set === undefined)) throw badInput('api: "change" needs exactly one of "add" and "set"')
  return change.add !== undefined ? {add: strings(change.add, 'change.add')} : {set: strings(change.set, 'change.set')}
}

function sinceOf(value: unknown): Date | undefined {
  if (value === undefined) return undefined
  const date = typeof value === 'string' ? new Date(value) : new Date(NaN)
  if (Number.isNaN(date.getTime())) throw badInput('api: "since" must be an ISO 8601 time')
  return date
}

function exportTypeOf(value: unknown): TrustExportType {
  if (!(TRUST_EXPORT_TYPES as readonly unknown[]).includes(value)) throw badInput(`api: "type" must be one of ${TRUST_EXPORT_TYPES.join(', ')}`)
  return value as TrustExportType
}

const API: Record<string, Handler> = {
  status: async (auth, principal) => {
    // Where the server keeps its files is the server's business.
    const {dataDir: _hidden, backend, ...status} = await auth.status()
    return {...status, backend: {kind: backend.kind, location: 'on the server'}, caller: await auth.whoami(principal)}
  },
  whoami: (auth, principal) => auth.whoami(principal),
  issueX509Svid: (auth, principal, body) => auth.issueX509Svid(principal, body as never),
  issueJwtSvid: (auth, principal, body) => auth.issueJwtSvid(principal, body as never),
  exportTrust: (auth, _principal, body) => auth.exportTrust(exportTypeOf(body.type)),
  applyResource: (auth, principal, body) => auth.applyResource(principal, resourceOf(body), modeOf(body.mode)),
  getResource: (auth, principal, body) => auth.getResource(principal, kindOf(body), str(body, 'name')),
  listResources: (auth, principal, body) => auth.listResources(principal, kindOf(body)),
  deleteResource: async (auth, principal, body) => {
    await auth.deleteResource(principal, kindOf(body), str(body, 'name'))
    return {}
  },
  addBot: (auth, principal, body) =>
    auth.addBot(principal, {name: str(body, 'name'), roles: strings(body.roles, 'roles'), tokenTtlSeconds: positive(body.tokenTtlSeconds, 'tokenTtlSeconds')}),
  addBotToken: (auth, principal, body) => auth.addBotToken(principal, str(body, 'botName'), positive(body.ttlSeconds, 'ttlSeconds')),
  updateRoles: (auth, principal, body) => {
    const kind = kindOf(body)
    if (kind !== 'bot' && kind !== 'user') throw badInput('api: "kind" must be bot or user')
    return auth.updateRoles(principal, kind, str(body, 'name'), changeOf(body.change))
  },
  resetUser: (auth, principal, body) => auth.resetUser(principal, {name: str(body, 'name'), inviteTtlSeconds: positive(body.inviteTtlSeconds, 'inviteTtlSeconds')}),
  addUser: (auth, principal, body) =>
    auth.addUser(principal, {name: str(body, 'name'), roles: strings(body.roles, 'roles'), inviteTtlSeconds: positive(body.inviteTtlSeconds, 'inviteTtlSeconds')}),
  listAudit: (auth, principal, body) => auth.listAudit(principal, {since: sinceOf(body.since), type: typeof body.type === 'string' ? body.type : undefined}),
}

/** The handler for `/v1/<name>`, for the API's own names only (never Object.prototype's). */
export function apiMethod(name: string): Handler | undefined {
  return Object.hasOwn(API, name) ? API[name] : undefined
}
