/**
 * The cluster API: one POST per Cluster method under /v1/, JSON in and out. The caller is
 * the holder of the client certificate; every call goes through the same AuthServer
 * methods, and so the same access rules, as local mode.
 */
import {TRUST_EXPORT_TYPES, type AuthServer, type TrustExportType} from '../auth/auth-server.js'
import type {ApplyMode, RoleChange} from '../auth/admin.js'
import type {Caller} from '../auth/principal.js'
import {badInput} from '../errors.js'
import {parseKind} from '../resources/refs.js'
import type {Kind, Resource} from '../resources/types.js'

type Handler = (auth: AuthServer, caller: Caller, body: Record<string, unknown>) => Promise<unknown>

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
  status: async (auth, caller) => {
    // Where the server keeps its files is the server's business.
    const {dataDir: _hidden, backend, ...status} = await auth.status()
    return {...status, backend: {kind: backend.kind, location: 'on the server'}, caller: await auth.whoami(caller)}
  },
  whoami: async (_auth, caller) => caller,
  issueX509Svid: (auth, caller, body) => auth.issueX509Svid(caller, body as never),
  issueJwtSvid: (auth, caller, body) => auth.issueJwtSvid(caller, body as never),
  exportTrust: (auth, _caller, body) => auth.exportTrust(exportTypeOf(body.type)),
  applyResource: (auth, caller, body) => auth.applyResource(caller, resourceOf(body), modeOf(body.mode)),
  getResource: (auth, caller, body) => auth.getResource(caller, kindOf(body), str(body, 'name')),
  listResources: (auth, caller, body) => auth.listResources(caller, kindOf(body)),
  deleteResource: async (auth, caller, body) => {
    return {name: await auth.deleteResource(caller, kindOf(body), str(body, 'name'))}
  },
  addBot: (auth, caller, body) =>
    auth.addBot(caller, {name: str(body, 'name'), roles: strings(body.roles, 'roles'), tokenTtlSeconds: positive(body.tokenTtlSeconds, 'tokenTtlSeconds')}),
  addBotToken: (auth, caller, body) => auth.addBotToken(caller, str(body, 'botName'), positive(body.ttlSeconds, 'ttlSeconds')),
  updateRoles: (auth, caller, body) => {
    const kind = kindOf(body)
    if (kind !== 'bot' && kind !== 'user') throw badInput('api: "kind" must be bot or user')
    return auth.updateRoles(caller, kind, str(body, 'name'), changeOf(body.change))
  },
  resetUser: (auth, caller, body) => auth.resetUser(caller, {name: str(body, 'name'), inviteTtlSeconds: positive(body.inviteTtlSeconds, 'inviteTtlSeconds')}),
  addUser: (auth, caller, body) =>
    auth.addUser(caller, {name: str(body, 'name'), roles: strings(body.roles, 'roles'), inviteTtlSeconds: positive(body.inviteTtlSeconds, 'inviteTtlSeconds')}),
  listAudit: (auth, caller, body) => auth.listAudit(caller, {since: sinceOf(body.since), type: typeof body.type === 'string' ? body.type : undefined}),
}

/** The handler for `/v1/<name>`, for the API's own names only (never Object.prototype's). */
export function apiMethod(name: string): Handler | undefined {
  return Object.hasOwn(API, name) ? API[name] : undefined
}
