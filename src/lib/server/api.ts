/**
 * The cluster API: one POST per Cluster method under /v1/, JSON in and out. The caller is
 * the holder of the client certificate; every call goes through the same AuthServer
 * methods, and so the same access rules, as local mode.
 */
import type {AuthServer, TrustExportType} from '../auth/auth-server.js'
import type {Caller} from '../auth/principal.js'
import {badInput} from '../errors.js'
import type {Kind, Resource} from '../resources/types.js'

type Handler = (auth: AuthServer, caller: Caller, body: Record<string, unknown>) => Promise<unknown>

const str = (body: Record<string, unknown>, field: string): string => {
  const value = body[field]
  if (typeof value !== 'string') throw badInput(`api: "${field}" must be a string`)
  return value
}

export const API: Record<string, Handler> = {
  status: async (auth) => {
    const {dataDir: _hidden, ...status} = await auth.status()
    return status
  },
  whoami: async (_auth, caller) => caller,
  issueX509Svid: (auth, caller, body) => auth.issueX509Svid(caller, body as never),
  issueJwtSvid: (auth, caller, body) => auth.issueJwtSvid(caller, body as never),
  exportTrust: (auth, _caller, body) => auth.exportTrust(str(body, 'type') as TrustExportType),
  applyResource: (auth, caller, body) => auth.applyResource(caller, body.resource as Resource, body.mode as never),
  getResource: (auth, caller, body) => auth.getResource(caller, str(body, 'kind') as Kind, str(body, 'name')),
  listResources: (auth, caller, body) => auth.listResources(caller, str(body, 'kind') as Kind),
  deleteResource: async (auth, caller, body) => {
    await auth.deleteResource(caller, str(body, 'kind') as Kind, str(body, 'name'))
    return {}
  },
  addBot: (auth, caller, body) => auth.addBot(caller, body as never),
  addBotToken: (auth, caller, body) => auth.addBotToken(caller, str(body, 'botName'), Number(body.ttlSeconds)),
  updateRoles: (auth, caller, body) => auth.updateRoles(caller, str(body, 'kind') as 'bot' | 'user', str(body, 'name'), body.change as never),
  addUser: (auth, caller, body) => auth.addUser(caller, body as never),
  listAudit: (auth, caller, body) =>
    auth.listAudit(caller, {since: typeof body.since === 'string' ? new Date(body.since) : undefined, type: typeof body.type === 'string' ? body.type : undefined}),
}
