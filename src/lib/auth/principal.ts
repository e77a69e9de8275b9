/**
 * Who is calling, resolved against the store: their roles and the attributes that
 * templates and rules see. The local admin has no roles and bypasses access control;
 * users and bots are checked by AccessChecker.
 */
import type {Backend} from '../backend/backend.js'
import {WidError} from '../errors.js'
import type {Bot, Role, User} from '../resources/types.js'
import {getBotInstance, type BotInstance} from '../services/bot-instances.js'
import {getResource} from '../services/resources.js'
import {AccessChecker} from './access.js'
import type {Attributes} from './attributes.js'

/** rehearsedBy: the local admin (OS user name) acting as this user or bot with `--as`; local mode only. */
interface Rehearsal {
  rehearsedBy?: string
}

export type Caller =
  | {kind: 'admin'; name: string}
  /** loginId: the UserStatus.login_id a client certificate carries ('' for one without); unset in local mode. */
  | ({kind: 'user'; name: string; loginId?: string} & Rehearsal)
  /** instanceId, generation: the bot instance a client certificate names, and its generation; unset in local mode. */
  | ({kind: 'bot'; name: string; join?: {method: string; tokenName?: string}; instanceId?: string; generation?: number} & Rehearsal)

/** Whom the local admin may rehearse with `--as`. */
export type UserOrBot = Exclude<Caller, {kind: 'admin'}>

export interface Principal {
  caller: Caller
  /** `user "alice"`, `bot "my-bot"`, `admin "root"` */
  description: string
  /** Who did it, for the audit log: `user:alice`; the local admin (`admin:root`) when rehearsing with `--as`. */
  actor: string
  /** The user or bot a rehearsal (`--as`) acted as: `bot:my-bot`. */
  as?: string
  attributes: Attributes
  /** Undefined for the local admin, who may do anything. */
  access?: AccessChecker
  /** The names of the roles held now (none for the local admin). */
  roles: string[]
}

export function describeCaller(caller: Caller): string {
  return `${caller.kind} "${caller.name}"`
}

/** The fields of an audit event that say who did it. */
export function auditActor(principal: Principal): {actor: string; as?: string} {
  return {actor: principal.actor, ...(principal.as === undefined ? {} : {as: principal.as})}
}

/** A rehearsal is done by the local admin, as the user or bot. */
function actorOf(caller: Caller): {actor: string; as?: string} {
  const self = `${caller.kind}:${caller.name}`
  return caller.kind !== 'admin' && caller.rehearsedBy !== undefined ? {actor: `admin:${caller.rehearsedBy}`, as: self} : {actor: self}
}

/**
 * Teleport names a bot's user `bot-<name>`; templates see that as user.name. So no user may be
 * named so, in any case: rendered DNS SANs are lower case (schemas/user.v2.json).
 */
const BOT_USER_PREFIX = 'bot-'
export const botUserName = (bot: string): string => `${BOT_USER_PREFIX}${bot}`

async function loadRoles(backend: Backend, owner: string, names: string[]): Promise<Role[]> {
  const roles: Role[] = []
  for (const name of names) {
    const role = await getResource<Role>(backend, 'role', name)
    if (!role) throw new WidError('access_denied', `auth: role "${name}" of ${owner} does not exist`)
    roles.push(role)
  }
  return roles
}

/**
 * What AuthServer's methods take: a caller, or the principal the server resolved from one
 * for this request (which is then not looked up again).
 */
export type CallerOrPrincipal = Caller | Principal

/** The caller resolved against the store, unless it already is a principal. */
export async function principalOf(backend: Backend, who: CallerOrPrincipal): Promise<Principal> {
  return 'actor' in who ? who : resolvePrincipal(backend, who)
}

/** Why the calls of a bot instance are refused: it was removed, or it is locked (else undefined). */
export function instanceRefusal(bot: string, id: string, instance: BotInstance | undefined): WidError | undefined {
  if (!instance) return new WidError('access_denied', `auth: bot instance ${id} of bot "${bot}" was removed; join again (with a new token; a bot that joins by a delegated method proves a fresh ID token)`)
  if (!instance.locked) return undefined
  return new WidError('access_denied', `auth: bot instance ${id} of bot "${bot}" is locked: ${instance.locked.reason}; remove it (wid bots instances rm ${bot}/${id}) and join again`)
}

/**
 * Refuses a caller that no longer exists (or was reset, or re-created, since its login; a bot
 * instance removed or locked) or holds a role that does not.
 */
export async function resolvePrincipal(backend: Backend, caller: Caller): Promise<Principal> {
  const description = describeCaller(caller)
  const who = actorOf(caller)
  if (caller.kind === 'admin') {
    return {caller, description, ...who, attributes: {user: {name: caller.name, is_bot: false, labels: {}, traits: {}}}, roles: []}
  }
  if (caller.kind === 'user') {
    const user = await getResource<User>(backend, 'user', caller.name)
    if (!user) throw new WidError('access_denied', `auth: user "${caller.name}" does not exist`)
    if (caller.name.toLowerCase().startsWith(BOT_USER_PREFIX)) {
      // Stored before such names were reserved: in rules and templates (and DNS SANs) it would pass for the bot.
      const bot = caller.name.slice(BOT_USER_PREFIX.length)
      throw new WidError(
        'access_denied',
        `auth: user "${caller.name}" is refused: user names starting with "${BOT_USER_PREFIX}", in any case, are reserved for bots, and the bot "${bot}" is user.name "${botUserName(bot)}"; remove the user (wid users rm ${caller.name}) and add it under another name`,
      )
    }
    if (caller.loginId !== undefined && caller.loginId !== (user.status?.login_id ?? '')) {
      throw new WidError('access_denied', `auth: user "${caller.name}" was reset, or removed and added again, since this login; run wid login`)
    }
    const roles = await loadRoles(backend, description, user.spec.roles)
    const attributes: Attributes = {
      user: {name: caller.name, is_bot: false, labels: user.metadata.labels ?? {}, traits: user.spec.traits ?? {}},
    }
    return {caller, description, ...who, attributes, access: new AccessChecker(description, roles), roles: user.spec.roles}
  }
  const bot = await getResource<Bot>(backend, 'bot', caller.name)
  if (!bot) throw new WidError('access_denied', `auth: bot "${caller.name}" does not exist`)
  const instance = caller.instanceId === undefined ? undefined : (await getBotInstance(backend, caller.name, caller.instanceId))?.instance
  if (caller.instanceId !== undefined) {
    const refusal = instanceRefusal(caller.name, caller.instanceId, instance)
    if (refusal) throw refusal
  }
  const roles = await loadRoles(backend, description, bot.spec.roles)
  const traits = Object.fromEntries((bot.spec.traits ?? []).map((t) => [t.name, t.values]))
  const attributes: Attributes = {
    user: {name: botUserName(caller.name), is_bot: true, bot_name: caller.name, labels: bot.metadata.labels ?? {}, traits},
  }
  const join = caller.join ?? (instance && {method: instance.joinMethod, tokenName: instance.tokenId})
  if (join) attributes.join = {meta: {join_method: join.method, join_token_name: join.tokenName}, ...(instance?.joinAttributes ? {[instance.joinMethod]: instance.joinAttributes} : {})}
  return {caller, description, ...who, attributes, access: new AccessChecker(description, roles), roles: bot.spec.roles}
}
