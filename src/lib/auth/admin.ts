/**
 * Managing resources, bots, users and join tokens: the same rules for the local admin and
 * for remote callers (who are checked against their roles). Every change is written
 * together with its audit event in one transaction.
 */
import {randomBytes} from 'node:crypto'
import type {Backend, Condition, Operation} from '../backend/backend.js'
import {hashSecret} from '../crypto/secrets.js'
import {formatDuration} from '../duration.js'
import {WidError} from '../errors.js'
import {MIN_TOKEN_LENGTH, type Bot, type Kind, type Resource, type Role, type Token, type User, type UserStatus, type Verb, type WorkloadIdentity} from '../resources/types.js'
import {resourceLabel, shownName, TOKEN_HASH, TOKEN_ID_DIGITS, tokenId} from '../resources/names.js'
import {auditOperation, type AuditEvent} from '../services/audit.js'
import {BOT_INSTANCE_ID, botInstanceKey, getBotInstance, listBotInstances, type BotInstance} from '../services/bot-instances.js'
import {getResource, listResources, putResource, resourceKey} from '../services/resources.js'
import {userFailuresKey} from './login.js'
import {auditActor, type Principal} from './principal.js'

export type ApplyMode = 'create' | 'upsert' | {revision: number}


export const newSecret = (): string => randomBytes(16).toString('hex')
/** How long a token id is, and the shortest prefix of one that names a token. */
const MIN_TOKEN_ID_DIGITS = 8

export interface AdminContext {
  backend: Backend
  now: () => Date
}

/** Resource checks load the YAML and schema machinery, which issuance must not pay for at start-up. */
async function checkLater<T extends Resource>(resource: T): Promise<T> {
  const {checkResource} = await import('../resources/validate.js')
  return (await checkResource(resource)) as T
}

function requireVerbs(principal: Principal, kind: Kind, verbs: Verb[]): void {
  principal.access?.checkVerbs(kind, verbs)
}

/**
 * A workload identity written by a user or bot under access control: its labels before the
 * change (unless it is a create, which must find nothing) and after it lie in the label
 * scope of roles that allow the write, and what it defines within the SPIFFE entitlements
 * of the roles that allow writing it.
 */
function checkDelegatedWrite(principal: Principal, before: WorkloadIdentity | undefined, after: WorkloadIdentity): void {
  const access = principal.access
  if (!access) return
  const verb = before ? 'update' : 'create'
  if (before) access.checkWorkloadIdentityScope(before, verb, 'current')
  access.checkWorkloadIdentityScope(after, verb, before ? 'new' : undefined)
  access.checkWorkloadIdentitySpec(after, verb)
}

/** A listing shows a user or bot only the workload identities in its label scope. */
const inScope = (principal: Principal, resource: Resource): boolean =>
  resource.kind !== 'workload_identity' || !principal.access || principal.access.inWorkloadIdentityScope(resource)

function event(ctx: AdminContext, principal: Principal, type: string, kind: Kind, name: string): AuditEvent {
  return {time: ctx.now().toISOString(), type, ...auditActor(principal), kind, name: shownName(kind, name)}
}

async function requireRoles(ctx: AdminContext, owner: string, roles: string[]): Promise<void> {
  for (const role of roles) {
    if (!(await getResource<Role>(ctx.backend, 'role', role))) {
      throw new WidError('not_found', `${owner}: role "${role}" does not exist (create it first with wid create -f)`)
    }
  }
}

/** A new user's UserStatus.login_id. */
const newLoginId = (): string => newSecret()

/** What a stored resource looks like to readers: no secrets, no hashes. */
export function publicView<T extends Resource>(resource: T): T {
  if (resource.kind === 'token' && (resource as Token).spec.join_method === 'token') {
    // Stored under the full hash of the secret; readers see only the short id.
    const {status, ...rest} = resource as T & {status?: unknown}
    return {...rest, metadata: {...rest.metadata, name: tokenId(resource as Token)}} as T
  }
  if (resource.kind === 'user') {
    const {status, ...rest} = resource as T & {status?: unknown}
    return rest as T
  }
  return resource
}

/** A one-time token's document names its secret; what is stored is named by the secret's hash. A delegated method's token has no secret. */
function storedForm(resource: Resource): Resource {
  if (resource.kind !== 'token' || resource.spec.join_method !== 'token') return resource
  const hash = hashSecret(resource.metadata.name)
  return {...resource, metadata: {...resource.metadata, name: hash}, status: {secret_hash: hash}}
}

async function checkReferences(ctx: AdminContext, resource: Resource): Promise<void> {
  const label = resourceLabel(resource.kind, resource.metadata.name)
  if (resource.kind === 'bot' || resource.kind === 'user') await requireRoles(ctx, label, resource.spec.roles)
  if (resource.kind === 'token' && resource.spec.bot_name && !(await getResource<Bot>(ctx.backend, 'bot', resource.spec.bot_name))) {
    throw new WidError('not_found', `token: bot "${resource.spec.bot_name}" does not exist (wid bots add ${resource.spec.bot_name} creates it with a token)`)
  }
}

/** Creates (or with `upsert`, replaces; with a revision, updates exactly that revision of) one resource. */
export async function applyResource(ctx: AdminContext, principal: Principal, input: Resource, mode: ApplyMode): Promise<'created' | 'updated'> {
  if (typeof mode === 'object' && input.kind === 'token' && input.spec.join_method === 'token') {
    throw new WidError('bad_input', 'tokens cannot be edited; remove the token and add a new one')
  }
  // Checked here too, not only where the YAML was read: a remote client is not trusted. What is
  // stored is the checked form (a user's or token's status is never taken from a caller).
  const resource = storedForm(await checkLater(input))
  const {kind} = resource
  const name = resource.metadata.name
  requireVerbs(principal, kind, mode === 'create' ? ['create'] : mode === 'upsert' ? ['create', 'update'] : ['update'])
  await checkReferences(ctx, resource)
  const key = resourceKey(kind, name)
  const existing = await ctx.backend.get(key)
  const action = existing ? 'updated' : 'created'
  const condition: Condition[] =
    mode === 'create' ? [{key, type: 'absent'}] : mode === 'upsert' ? [] : [{key, type: 'revision', revision: mode.revision}]
  if (resource.kind === 'workload_identity' && principal.access) {
    const before = mode === 'create' || !existing ? undefined : (JSON.parse(existing.value) as WorkloadIdentity)
    checkDelegatedWrite(principal, before, resource)
    // The write must find what was checked, not what someone may have moved out of the scope since.
    if (mode === 'upsert') condition.push(existing ? {key, type: 'revision', revision: existing.revision} : {key, type: 'absent'})
  }
  if (resource.kind === 'user') {
    // A user document never carries credentials: keep the stored invite or password hash, or none.
    (resource as User).status = existing ? (JSON.parse(existing.value) as User).status : {login_id: newLoginId()}
  }
  try {
    await ctx.backend.atomicWrite(condition, [putResource(resource), auditOperation(event(ctx, principal, `resource.${action}`, kind, name))])
  } catch (error) {
    if (!(error instanceof WidError) || error.code !== 'compare_failed') throw error
    if (mode === 'create') {
      throw new WidError('already_exists', `${resourceLabel(kind, shownName(kind, name))} already exists; use --force to overwrite it`)
    }
    throw new WidError('compare_failed', `${resourceLabel(kind, shownName(kind, name))} was changed by someone else meanwhile; read it again and retry`)
  }
  return action
}

/** Reads one resource (a token by its id or its secret, as deleteResource takes it). */
export async function readResource(ctx: AdminContext, principal: Principal, kind: Kind, nameOrId: string): Promise<Resource> {
  requireVerbs(principal, kind, ['read'])
  const name = kind === 'token' ? await resolveTokenName(ctx, nameOrId) : nameOrId
  const resource = await getResource(ctx.backend, kind, name)
  if (!resource) throw new WidError('not_found', `${resourceLabel(kind, shownName(kind, name))} not found`)
  if (resource.kind === 'workload_identity') principal.access?.checkWorkloadIdentityScope(resource, 'read')
  return publicView(resource)
}

export async function listResourcesOf(ctx: AdminContext, principal: Principal, kind: Kind): Promise<Resource[]> {
  requireVerbs(principal, kind, ['list', 'read'])
  return (await listResources(ctx.backend, kind)).filter((resource) => inScope(principal, resource)).map(publicView)
}

/**
 * Tokens are read and removed by their id (or a prefix of it of at least 8 hex digits) or by
 * the token itself. A message shows what was given only when it is shorter than any token:
 * anything else may be one (a removed token, or a mistyped one), and is named by the id it
 * would have.
 */
async function resolveTokenName(ctx: AdminContext, idOrSecret: string): Promise<string> {
  const byHash = await getResource<Token>(ctx.backend, 'token', hashSecret(idOrSecret))
  // A delegated method's token, by its name (which is never a hash's form).
  const byName = TOKEN_HASH.test(idOrSecret) ? undefined : await getResource<Token>(ctx.backend, 'token', idOrSecret)
  if (byHash && byName) {
    throw new WidError('bad_input', `token "${idOrSecret}" names both a delegated token and a one-time token (id ${tokenId(byHash)}); give the one-time token's id`)
  }
  if (byHash ?? byName) return (byHash ?? byName)!.metadata.name
  const hex = /^[0-9a-f]+$/.test(idOrSecret)
  if (hex && idOrSecret.length < MIN_TOKEN_ID_DIGITS) {
    throw new WidError('bad_input', `token id "${idOrSecret}" is too short: ids are at least ${MIN_TOKEN_ID_DIGITS} hex digits (wid tokens ls shows them)`)
  }
  const notFound = () =>
    idOrSecret.length < MIN_TOKEN_LENGTH
      ? new WidError('not_found', `token "${idOrSecret}" not found`)
      : new WidError('not_found', `token not found (if what was given is a token, its id would be ${hashSecret(idOrSecret).slice(0, TOKEN_ID_DIGITS)})`)
  if (!hex || idOrSecret.length > TOKEN_ID_DIGITS) throw notFound()
  const matches = (await listResources<Token>(ctx.backend, 'token')).filter((t) => TOKEN_HASH.test(t.metadata.name) && t.metadata.name.startsWith(idOrSecret))
  if (matches.length === 0) throw notFound()
  if (matches.length > 1) throw new WidError('bad_input', `token id "${idOrSecret}" is ambiguous; give more digits`)
  return matches[0]!.metadata.name
}

/** Deletes one resource (a token by its id or its secret); answers the name it is shown by. */
export async function deleteResource(ctx: AdminContext, principal: Principal, kind: Kind, nameOrId: string): Promise<string> {
  requireVerbs(principal, kind, ['delete'])
  const name = kind === 'token' ? await resolveTokenName(ctx, nameOrId) : nameOrId
  const key = resourceKey(kind, name)
  const existing = await ctx.backend.get(key)
  if (!existing) throw new WidError('not_found', `${resourceLabel(kind, shownName(kind, name))} not found`)
  if (kind === 'workload_identity') principal.access?.checkWorkloadIdentityScope(JSON.parse(existing.value) as WorkloadIdentity, 'delete')
  const operations: Operation[] = [{key, type: 'delete'}, auditOperation(event(ctx, principal, 'resource.deleted', kind, name))]
  if (kind === 'role') {
    const users = [...(await listResources<User>(ctx.backend, 'user')), ...(await listResources<Bot>(ctx.backend, 'bot'))]
    const holders = users.filter((u) => u.spec.roles.includes(name)).map((u) => resourceLabel(u.kind, u.metadata.name))
    if (holders.length) throw new WidError('bad_input', `role '${name}' is used by ${holders.join(', ')}; remove it from them first`)
  }
  if (kind === 'bot') {
    for (const token of await listResources<Token>(ctx.backend, 'token')) {
      if (token.spec.bot_name !== name) continue
      operations.push({key: resourceKey('token', token.metadata.name), type: 'delete'}, auditOperation(event(ctx, principal, 'resource.deleted', 'token', token.metadata.name)))
    }
    // Listed after the bot was read: a join writes the bot too, so one that lands in between fails the write below.
    for (const instance of await listBotInstances(ctx.backend, name)) operations.push(...instanceRemoval(ctx, principal, instance))
  }
  try {
    await ctx.backend.atomicWrite([{key, type: 'revision', revision: existing.revision}], operations)
  } catch (error) {
    if (error instanceof WidError && error.code === 'compare_failed') {
      throw new WidError('compare_failed', `${resourceLabel(kind, shownName(kind, name))} was changed by someone else meanwhile; try again`)
    }
    throw error
  }
  return shownName(kind, name)
}

export interface IssuedSecret {
  /** The secret itself: shown once, stored only as a hash. */
  token: string
  expires: string
  ttl: string
}

/** A new one-time secret (a join token or an invite) valid for `ttlSeconds`. */
function issueSecret(ctx: AdminContext, ttlSeconds: number): IssuedSecret {
  return {token: newSecret(), expires: new Date(ctx.now().getTime() + ttlSeconds * 1000).toISOString(), ttl: formatDuration(ttlSeconds)}
}

/** The status of a user who is to redeem `invite`: no password, and a new login_id, so no earlier login counts. */
function invitedStatus(invite: IssuedSecret): UserStatus {
  return {login_id: newLoginId(), invite_hash: hashSecret(invite.token), invite_expires: invite.expires}
}

function botToken(ctx: AdminContext, botName: string, ttlSeconds: number): {token: Token; secret: IssuedSecret} {
  const secret = issueSecret(ctx, ttlSeconds)
  const token = storedForm({
    kind: 'token',
    version: 'v2',
    metadata: {name: secret.token, expires: secret.expires},
    spec: {roles: ['Bot'], bot_name: botName, join_method: 'token'},
  }) as Token
  return {token, secret}
}

export async function addBot(
  ctx: AdminContext,
  principal: Principal,
  options: {name: string; roles: string[]; traits?: Bot['spec']['traits']; tokenTtlSeconds: number},
): Promise<{bot: Bot; join: IssuedSecret}> {
  requireVerbs(principal, 'bot', ['create'])
  requireVerbs(principal, 'token', ['create'])
  const bot: Bot = {kind: 'bot', version: 'v1', metadata: {name: options.name}, spec: {roles: options.roles, ...(options.traits ? {traits: options.traits} : {})}}
  await checkLater(bot)
  await requireRoles(ctx, `bot "${options.name}"`, options.roles)
  const {token, secret} = botToken(ctx, options.name, options.tokenTtlSeconds)
  const botKey = resourceKey('bot', options.name)
  try {
    await ctx.backend.atomicWrite(
      [{key: botKey, type: 'absent'}],
      [
        putResource(bot),
        putResource(token),
        auditOperation(event(ctx, principal, 'resource.created', 'bot', options.name)),
        auditOperation(event(ctx, principal, 'resource.created', 'token', tokenId(token))),
      ],
    )
  } catch (error) {
    if (error instanceof WidError && error.code === 'compare_failed') {
      throw new WidError('already_exists', `bot "${options.name}" already exists; use wid bots update to change its roles`)
    }
    throw error
  }
  return {bot, join: secret}
}

export async function addBotToken(ctx: AdminContext, principal: Principal, botName: string, ttlSeconds: number): Promise<IssuedSecret & {id: string}> {
  requireVerbs(principal, 'token', ['create'])
  if (!(await getResource<Bot>(ctx.backend, 'bot', botName))) throw new WidError('not_found', `bot "${botName}" not found`)
  const {token, secret} = botToken(ctx, botName, ttlSeconds)
  await ctx.backend.atomicWrite([], [putResource(token), auditOperation(event(ctx, principal, 'resource.created', 'token', tokenId(token)))])
  return {...secret, id: tokenId(token)}
}

export interface RoleChange {
  add?: string[]
  set?: string[]
}

/** Changes the roles of a bot or user with a revision check, so concurrent changes are not lost. */
export async function updateRoles(ctx: AdminContext, principal: Principal, kind: 'bot' | 'user', name: string, change: RoleChange): Promise<string[]> {
  requireVerbs(principal, kind, ['update'])
  const current = await getResource<Bot | User>(ctx.backend, kind, name)
  if (!current) throw new WidError('not_found', `${kind} "${name}" not found`)
  const roles = change.set ?? [...new Set([...current.spec.roles, ...(change.add ?? [])])]
  await requireRoles(ctx, `${kind} "${name}"`, roles)
  const updated = {...current, spec: {...current.spec, roles}} as Bot | User
  await applyResource(ctx, principal, updated, {revision: current.metadata.revision!})
  return roles
}

/**
 * A new invite for an existing user, who has forgotten the password or is locked out: the
 * password is cleared, the failed logins forgotten, and the user's logins so far refused
 * (a new login_id), until the invite is redeemed with wid login.
 */
export async function resetUser(ctx: AdminContext, principal: Principal, name: string, inviteTtlSeconds: number): Promise<{invite: IssuedSecret}> {
  requireVerbs(principal, 'user', ['update'])
  const key = resourceKey('user', name)
  const item = await ctx.backend.get(key)
  if (!item) throw new WidError('not_found', `user "${name}" not found`)
  const user = JSON.parse(item.value) as User
  const invite = issueSecret(ctx, inviteTtlSeconds)
  const stored: User = {...user, status: invitedStatus(invite)}
  try {
    await ctx.backend.atomicWrite(
      [{key, type: 'revision', revision: item.revision}],
      [putResource(stored), {key: userFailuresKey(name), type: 'delete'}, auditOperation(event(ctx, principal, 'user.reset', 'user', name))],
    )
  } catch (error) {
    if (error instanceof WidError && error.code === 'compare_failed') throw new WidError('compare_failed', `user "${name}" was changed by someone else meanwhile; try again`)
    throw error
  }
  return {invite}
}

export async function addUser(
  ctx: AdminContext,
  principal: Principal,
  options: {name: string; roles: string[]; traits?: Record<string, string[]>; inviteTtlSeconds: number},
): Promise<{user: User; invite: IssuedSecret}> {
  requireVerbs(principal, 'user', ['create'])
  const invite = issueSecret(ctx, options.inviteTtlSeconds)
  const user: User = {
    kind: 'user',
    version: 'v2',
    metadata: {name: options.name},
    spec: {roles: options.roles, ...(options.traits ? {traits: options.traits} : {})},
  }
  await checkLater(user)
  await requireRoles(ctx, `user "${options.name}"`, options.roles)
  const stored: User = {...user, status: invitedStatus(invite)}
  const key = resourceKey('user', options.name)
  try {
    await ctx.backend.atomicWrite([{key, type: 'absent'}], [putResource(stored), auditOperation(event(ctx, principal, 'resource.created', 'user', options.name))])
  } catch (error) {
    if (error instanceof WidError && error.code === 'compare_failed') {
      throw new WidError('already_exists', `user "${options.name}" already exists; use wid users update to change it`)
    }
    throw error
  }
  return {user, invite}
}

/** The writes that remove a bot instance, with its audit event. */
function instanceRemoval(ctx: AdminContext, principal: Principal, instance: BotInstance): Operation[] {
  const removed: AuditEvent = {time: ctx.now().toISOString(), type: 'bot.instance_removed', ...auditActor(principal), kind: 'bot', name: instance.bot, instance: instance.id}
  return [{key: botInstanceKey(instance.bot, instance.id), type: 'delete'}, auditOperation(removed)]
}

/** The instances of every bot, or of one (which must exist). */
export async function listBotInstancesOf(ctx: AdminContext, principal: Principal, bot?: string): Promise<BotInstance[]> {
  principal.access?.checkVerbs('bot_instance', ['list', 'read'])
  if (bot !== undefined && !(await getResource<Bot>(ctx.backend, 'bot', bot))) throw new WidError('not_found', `bot "${bot}" not found`)
  return listBotInstances(ctx.backend, bot)
}

/** Removes one instance of a bot: its identity is refused from then on, and the bot must join again (with a new token, or a fresh ID token for a delegated join method). */
export async function deleteBotInstance(ctx: AdminContext, principal: Principal, bot: string, id: string): Promise<void> {
  principal.access?.checkVerbs('bot_instance', ['delete'])
  if (!BOT_INSTANCE_ID.test(id)) throw new WidError('bad_input', `bots: "${id}" is not a bot instance id: ids are 32 lowercase hex digits (wid bots instances ls shows them)`)
  const stored = await getBotInstance(ctx.backend, bot, id)
  if (!stored) throw new WidError('not_found', `bot instance ${id} of bot "${bot}" not found`)
  try {
    await ctx.backend.atomicWrite([{key: botInstanceKey(bot, id), type: 'exists'}], instanceRemoval(ctx, principal, stored.instance))
  } catch (error) {
    if (error instanceof WidError && error.code === 'compare_failed') throw new WidError('not_found', `bot instance ${id} of bot "${bot}" not found`)
    throw error
  }
}
