/**
 * A bot's own identity (DESIGN §4.1): a one-time join token, or an ID token its platform
 * signed for a delegated join token (DESIGN §4.3), is exchanged for a bot instance and a
 * client certificate that names the instance and its generation; each renewal must
 * present the generation the store holds and moves it on by one. A copy of the identity,
 * renewed from a second place, presents a generation that is no longer current: the
 * instance is then locked, and both copies are refused from then on. An instance that joined
 * by a delegated method proves a fresh ID token at every renewal, and keeps its id.
 */
import type {Backend} from '../backend/backend.js'
import {randomHex} from '../crypto/random.js'
import {spkiPin} from '../crypto/keys.js'
import {subjectPublicKeyType} from '../crypto/spki.js'
import {WidError, type ErrorCode} from '../errors.js'
import type {DelegatedJoin} from '../join/allow.js'
import {claimTime, shown, type IssuerKeys} from '../join/jwt.js'
import {JoinRefused} from '../join/refused.js'
import {checkJoinToken, checkUnexpired} from '../join/token.js'
import {TOKEN_HASH} from '../resources/names.js'
import type {Bot, DelegatedJoinMethod, Token} from '../resources/types.js'
import {auditOperation} from '../services/audit.js'
import {botInstanceKey, getBotInstance, putBotInstance, type BotInstance} from '../services/bot-instances.js'
import {getRestoreMark} from '../services/cluster-config.js'
import {getResource, putResource, resourceKey} from '../services/resources.js'
import type {SigningAuthority} from '../svid/x509.js'
import {isoString} from '../time.js'
import {checkTtl, publicKeyDer, type JwtSvidRequest, type JwtSvidResponse, type X509SvidRequest, type X509SvidResponse} from './issuance.js'
import type {LoginGate} from './login-gate.js'
import {throttledCheck, type LoginThrottle} from './login.js'
import {instanceRefusal} from './principal.js'
import {issueClientCertificate, type IssuedCertificate} from './tls-certificates.js'

export type {BotInstance} from '../services/bot-instances.js'

export const DEFAULT_BOT_TTL_SECONDS = 3600
export const MAX_BOT_TTL_SECONDS = 24 * 3600

/** What a join or a renewal answers: the bot's client certificate and what it needs to reach the cluster. */
export interface BotIdentity {
  botName: string
  instanceId: string
  generation: number
  /** PEM, issued by the client CA for the key the bot generated. */
  certificate: string
  notAfter: string
  clusterName: string
  /** PEM certificates of the CA that signs the servers' TLS certificates. */
  hostAuthorities: string[]
}

/** What an item of a batch may add to a single request: `all` (labels only) asks for every matching identity that can be issued. */
interface BatchOptions {
  all?: boolean
}

/** One SVID of a batch (POST /v1/issueSvids), or with `all` one per matching identity. */
export type SvidItem = ({type: 'x509'} & X509SvidRequest & BatchOptions) | ({type: 'jwt'} & JwtSvidRequest & BatchOptions)

/**
 * The `workload.*` attributes (sorted, each once) that the rules and templates of every
 * identity considered for an item refer to: the same answer holds for any workload with the
 * same values of these ([] by path, or when nothing refers to the workload).
 */
interface Dependencies {
  dependsOn: string[]
}

/** The answer for one item of a batch, in the items' order: `x509s`/`jwts` for `all`, by identity name. */
export type SvidItemResult =
  | ({x509: X509SvidResponse} & Dependencies)
  | ({jwt: JwtSvidResponse} & Dependencies)
  | ({x509s: X509SvidResponse[]} & Dependencies)
  | ({jwts: JwtSvidResponse[]} & Dependencies)
  | {error: {code: ErrorCode; message: string}}

/** A join by a delegated method: the token resource's name, and the ID token the bot's platform signed for it. */
export interface DelegatedProof {
  method: DelegatedJoinMethod
  /** The name of the token resource (not a secret). */
  token: string
  /** The platform's JWT, for the audience of the cluster name. */
  idToken: string
}

/** What POST /v1/joinBot takes: a one-time token's secret, or a delegated proof. */
export type JoinBody = ({token: string; method?: undefined} | DelegatedProof) & {
  /** SubjectPublicKeyInfo of the bot's key, PEM `PUBLIC KEY`. */
  publicKey: string
  ttlSeconds?: number
}

export type JoinRequest = JoinBody & {
  /** The client address, for the throttle and the audit log. */
  address: string
}

export interface RenewRequest {
  publicKey: string
  ttlSeconds?: number
  /** A fresh ID token: required of, and only of, an instance that joined by a delegated method. */
  idToken?: string
  address: string
}

export interface BotContext {
  backend: Backend
  now: Date
  /** The client CA, which signs bots' certificates. */
  clientCa: SigningAuthority
  /** The audience of delegated ID tokens. */
  clusterName: string
  issuerKeys: IssuerKeys
}

/** The instance a certificate was issued for, as stored with it. */
export interface BotCredential {
  instance: BotInstance
  certificate: IssuedCertificate
}

/** How often a join or renewal is tried again when another write to the same items came first. */
const ATTEMPTS = 5
/** Delegated joins of one bot come many at once (no secret is spent): they are tried again more often. */
const DELEGATED_ATTEMPTS = 50

const isCompareFailed = (error: unknown): boolean => error instanceof WidError && error.code === 'compare_failed'

/** The bot's public key, checked (as issuance checks one) before anything is spent on the request. */
function checkedKey(publicKey: string): Uint8Array {
  const spki = publicKeyDer(publicKey)
  subjectPublicKeyType(spki)
  return spki
}

function certificateFor(ctx: BotContext, instance: BotInstance, spki: Uint8Array, ttlSeconds: number): IssuedCertificate {
  return issueClientCertificate(ctx.clientCa, {kind: 'bot', name: instance.bot, instanceId: instance.id, generation: instance.generation}, spki, ctx.now, ttlSeconds)
}

/**
 * Redeems a join token: a new instance of the token's bot, generation 1. The token is
 * deleted in the write that stores the instance and its audit event, on the condition that
 * it is still the token that was checked, so a token makes exactly one instance however many
 * joins race for it. Attempts are throttled per address like logins (with them), so a flood
 * of guessed tokens is refused long before it could find one. A delegated method's ID token
 * is no secret to guess (its issuer signed it) and cheap to check: it is not throttled, so
 * that pods or runners behind one NAT address join at once, and one job's bad tokens do not
 * lock its neighbours out; nor does it take a slot of the password checks' gate.
 */
export async function joinBot(ctx: BotContext & {throttle: LoginThrottle; gate: LoginGate}, request: JoinRequest): Promise<BotCredential> {
  const spki = checkedKey(request.publicKey)
  const ttlSeconds = checkTtl(request.ttlSeconds ?? DEFAULT_BOT_TTL_SECONDS, MAX_BOT_TTL_SECONDS)
  if (request.method !== undefined) return joinDelegated(ctx, request, request, spki, ttlSeconds)
  const attempt = {throttle: ctx.throttle, gate: ctx.gate, user: undefined, address: request.address, now: ctx.now.getTime()}
  return throttledCheck(attempt, () => redeemToken(ctx, request, spki, ttlSeconds))
}

async function redeemToken(ctx: BotContext, request: JoinRequest, spki: Uint8Array, ttlSeconds: number): Promise<BotCredential> {
  const {backend, now} = ctx
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const {token, hash, id, bot} = await checkJoinToken(backend, request.token, now)
    const botName = bot.metadata.name
    const time = isoString(now)
    const instance: BotInstance = {bot: botName, id: randomHex(16), joinMethod: 'token', tokenId: id, created: time, lastSeen: time, generation: 1, address: request.address}
    const certificate = certificateFor(ctx, instance, spki, ttlSeconds)
    try {
      await backend.atomicWrite(
        [
          {key: resourceKey('token', hash), type: 'revision', revision: token.metadata.revision!},
          {key: resourceKey('bot', botName), type: 'revision', revision: bot.metadata.revision!},
          {key: botInstanceKey(botName, instance.id), type: 'absent'},
        ],
        [
          {key: resourceKey('token', hash), type: 'delete'},
          // The bot is written again (unchanged) so that its revision moves: removing the bot,
          // which lists its instances and then deletes them on the condition of the bot's
          // revision, cannot miss an instance that joined in between.
          putResource(bot),
          putBotInstance(instance),
          auditOperation({time, type: 'bot.joined', actor: `bot:${botName}`, kind: 'bot', name: botName, instance: instance.id, token_id: id, address: request.address}),
        ],
      )
      return {instance, certificate}
    } catch (error) {
      // The token was used or removed meanwhile (the next attempt says so), or the bot changed.
      if (!isCompareFailed(error)) throw error
    }
  }
  throw changedDuringJoin()
}

const changedDuringJoin = () => new WidError('unavailable', 'join: the bot changed during the join, again and again; try again')

const METHODS = {
  kubernetes: () => import('../join/kubernetes.js'),
  github: () => import('../join/github.js'),
  gitlab: () => import('../join/gitlab.js'),
}

/** A delegated token resource and the ID token checked against it: refused (with what decided, for the audit log) unless both pass. */
async function proveDelegated(ctx: BotContext, proof: DelegatedProof): Promise<{token: Token; bot: Bot; join: DelegatedJoin}> {
  const {method, token: name} = proof
  const details = {method, token: name}
  // A name of a hash's form would find a one-time token by its stored key.
  const token = TOKEN_HASH.test(name) ? undefined : await getResource<Token>(ctx.backend, 'token', name)
  if (!token) throw new JoinRefused(`join: the cluster has no token "${name}" (wid get token lists them)`, details)
  if (token.spec.join_method !== method) throw new JoinRefused(`join: the token "${name}" is for join_method ${token.spec.join_method}, not ${method}`, details)
  checkUnexpired(token, `"${name}"`, ctx.now, details)
  const botName = token.spec.bot_name!
  const bot = await getResource<Bot>(ctx.backend, 'bot', botName)
  if (!bot) throw new JoinRefused(`join: the bot "${botName}" of the token "${name}" was removed`, details)
  const {check} = await METHODS[method]()
  const context = {tokenName: name, audience: ctx.clusterName, now: ctx.now}
  try {
    return {token, bot, join: await check(proof.idToken, token.spec[method] as never, context, ctx.issuerKeys)}
  } catch (error) {
    if (error instanceof JoinRefused) throw new JoinRefused(error.message, {...details, ...error.details})
    throw error
  }
}

/** What an instance keeps of its join, and what the audit log says of it. */
const joinRecord = (method: DelegatedJoinMethod, tokenName: string, join: DelegatedJoin) => ({method, token_id: tokenName, rule: join.rule, claims: join.claims})

/**
 * A join by a delegated method: a new instance of the token's bot, generation 1, holding the
 * join's attributes. The token resource stays (it is no secret, and every instance renews
 * against it); the write is on the condition that it and the bot are still what was checked.
 */
async function joinDelegated(ctx: BotContext, proof: DelegatedProof, request: JoinRequest, spki: Uint8Array, ttlSeconds: number): Promise<BotCredential> {
  const {backend, now} = ctx
  // Every join of a bot moves the bot's revision: the pods of a Deployment scaled up, joining
  // at once, each find it moved by another and try again, a few milliseconds apart.
  for (let attempt = 0; attempt < DELEGATED_ATTEMPTS; attempt++) {
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(5 * attempt, 50)))
    const {token, bot, join} = await proveDelegated(ctx, proof)
    const botName = bot.metadata.name
    const time = isoString(now)
    const instance: BotInstance = {
      bot: botName,
      id: randomHex(16),
      joinMethod: proof.method,
      tokenId: proof.token,
      joinAttributes: join.attributes,
      joinSubject: join.subject,
      ...(join.issuedAt === undefined ? {} : {proofIssuedAt: join.issuedAt}),
      created: time,
      lastSeen: time,
      generation: 1,
      address: request.address,
    }
    const certificate = certificateFor(ctx, instance, spki, ttlSeconds)
    try {
      await backend.atomicWrite(
        [
          {key: resourceKey('token', proof.token), type: 'revision', revision: token.metadata.revision!},
          {key: resourceKey('bot', botName), type: 'revision', revision: bot.metadata.revision!},
          {key: botInstanceKey(botName, instance.id), type: 'absent'},
        ],
        [
          putResource(bot),
          putBotInstance(instance),
          auditOperation({time, type: 'bot.joined', actor: `bot:${botName}`, kind: 'bot', name: botName, instance: instance.id, ...joinRecord(proof.method, proof.token, join), address: request.address}),
        ],
      )
      return {instance, certificate}
    } catch (error) {
      if (!isCompareFailed(error)) throw error
    }
  }
  throw changedDuringJoin()
}

/** The subject of an instance that joined before subjects were kept, from its join attributes (undefined: unknown, so no token matches). */
function subjectOfAttributes(method: DelegatedJoinMethod, attributes: Record<string, string | boolean>): string | undefined {
  if (method !== 'kubernetes') return typeof attributes.sub === 'string' ? attributes.sub : undefined
  const [namespace, name] = [attributes['service_account.namespace'], attributes['service_account.name']]
  return typeof namespace === 'string' && typeof name === 'string' ? `system:serviceaccount:${namespace}:${name}` : undefined
}

/** The fresh proof a renewal of `instance` needs: an ID token for a delegated method's instance, none for a one-time token's. */
async function renewalProof(ctx: BotContext, instance: BotInstance, idToken: string | undefined): Promise<DelegatedJoin | undefined> {
  const method = instance.joinMethod
  if (method === 'token') {
    if (idToken !== undefined) throw new WidError('bad_input', `renew: bot instance ${instance.id} joined with a one-time token; renew without an ID token`)
    return undefined
  }
  if (idToken === undefined) throw new JoinRefused(`renew: bot instance ${instance.id} joined by ${method}: each renewal proves a fresh ID token (idToken)`, {method, token: instance.tokenId})
  const proof = {method, token: instance.tokenId, idToken}
  const {bot, join} = await proveDelegated(ctx, proof)
  const details = {method, token: instance.tokenId}
  if (bot.metadata.name !== instance.bot) {
    throw new JoinRefused(`renew: the token "${instance.tokenId}" is now for the bot "${bot.metadata.name}", not "${instance.bot}"; join again`, details)
  }
  // Another job or service account that the same token resource admits is not this instance.
  const joinedAs = instance.joinSubject ?? subjectOfAttributes(method, instance.joinAttributes ?? {})
  if (join.subject !== joinedAs) {
    throw new JoinRefused(`renew: the ID token is for ${shown(join.subject)}, but bot instance ${instance.id} joined as ${shown(joinedAs)}; join again`, {
      ...details,
      claims: {sub: join.subject},
    })
  }
  // A token older than the last one proven is one kept from before (or taken from) the platform's current one.
  if (instance.proofIssuedAt !== undefined && (join.issuedAt === undefined || join.issuedAt < instance.proofIssuedAt)) {
    const when = join.issuedAt === undefined ? 'has no issue time (iat)' : `was issued at ${claimTime(join.issuedAt)}`
    throw new JoinRefused(
      `renew: the ID token ${when}, before the one bot instance ${instance.id} last proved (${claimTime(instance.proofIssuedAt)}); use the platform's current token`,
      details,
    )
  }
  return join
}

/**
 * Renews the identity of the instance `caller` names: the generation it presents must be
 * the stored one, which then moves on by one. A mismatch locks the instance (stored, with
 * its audit event) and is refused, as is every later call of either copy; but the last
 * renewal, asked again with the generation before it for the same key, is answered again.
 */
export async function renewBot(
  ctx: BotContext,
  caller: {bot: string; instanceId: string; generation: number},
  request: RenewRequest,
): Promise<BotCredential> {
  const spki = checkedKey(request.publicKey)
  const ttlSeconds = checkTtl(request.ttlSeconds ?? DEFAULT_BOT_TTL_SECONDS, MAX_BOT_TTL_SECONDS)
  const {backend, now} = ctx
  const {bot, instanceId} = caller
  const time = isoString(now)
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const stored = await getBotInstance(backend, bot, instanceId)
    const refusal = instanceRefusal(bot, instanceId, stored?.instance)
    if (refusal) throw refusal
    const {revision} = stored!
    const proved = await renewalProof(ctx, stored!.instance, request.idToken)
    const instance = proved
      ? {...stored!.instance, joinAttributes: proved.attributes, joinSubject: proved.subject, ...(proved.issuedAt === undefined ? {} : {proofIssuedAt: proved.issuedAt})}
      : stored!.instance
    const unchanged = [{key: botInstanceKey(bot, instanceId), type: 'revision' as const, revision}]
    const expected = instance.generation
    const pin = spkiPin(spki)
    // The last renewal asked again (its answer was lost): the same generation, for the key it certified, which only the bot holds.
    const repeated = caller.generation === expected - 1 && instance.renewalKey === pin
    // Restored from a backup older than the bot's last renewals: the first renewal since goes on from the bot's generation.
    // Only while a certificate issued before the restore can still be valid: later, none is, and nothing can be ahead.
    const mark = caller.generation > expected ? await getRestoreMark(backend) : undefined
    const ahead = mark !== undefined && revision <= mark.revision && now.getTime() < Date.parse(mark.at) + MAX_BOT_TTL_SECONDS * 1000
    const matches = caller.generation === expected || repeated || ahead
    const next: BotInstance = repeated
      ? {...instance, lastSeen: time}
      : matches
        ? {...instance, generation: Math.max(caller.generation, expected) + 1, renewalKey: pin, lastSeen: time}
        : {...instance, locked: {at: time, reason: `its identity was used from two places (generation ${caller.generation} presented, ${expected} expected)`}}
    const event = matches
      ? {
          time,
          type: 'bot.renewed',
          actor: `bot:${bot}`,
          kind: 'bot',
          name: bot,
          instance: instanceId,
          generation: next.generation,
          ...(repeated ? {repeated: true} : {}),
          ...(ahead ? {presented: caller.generation, expected, reason: 'the store was restored from a backup taken before the last renewals'} : {}),
          ...(proved ? joinRecord(instance.joinMethod as DelegatedJoinMethod, instance.tokenId, proved) : {}),
          address: request.address,
        }
      : {time, type: 'bot.instance_locked', actor: `bot:${bot}`, kind: 'bot', name: bot, instance: instanceId, presented: caller.generation, expected, address: request.address}
    const certificate = matches ? certificateFor(ctx, next, spki, ttlSeconds) : undefined
    try {
      await backend.atomicWrite(unchanged, [putBotInstance(next), auditOperation(event)])
    } catch (error) {
      // Renewed (by the other copy) or removed meanwhile: the next attempt decides again.
      if (!isCompareFailed(error)) throw error
      continue
    }
    if (!certificate) throw instanceRefusal(bot, instanceId, next)!
    return {instance: next, certificate}
  }
  throw new WidError('unavailable', 'renew: the bot instance changed during the renewal, again and again; try again')
}
