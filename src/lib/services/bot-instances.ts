/**
 * Bot instances as stored: one JSON item per joined copy of a bot under
 * /bot-instances/<bot>/<id>. An instance counts the renewals of its identity (generation),
 * so that a copy of it used from a second place is detected, and is locked when it is.
 */
import type {Backend, Operation} from '../backend/backend.js'
import type {JoinMethod} from '../resources/types.js'
import {parseStored} from './cluster-config.js'

export interface BotInstance {
  bot: string
  /** 32 lowercase hex digits, random. */
  id: string
  joinMethod: JoinMethod
  /** The id of the one-time token it used (wid tokens ls), or the name of its delegated method's token. */
  tokenId: string
  /** A delegated method's `join.<method>.*` attributes, from its last proof (join or renewal). */
  joinAttributes?: Record<string, string | boolean>
  /** A delegated method's subject (service account, CI job `sub`): every renewal must prove a token for it. */
  joinSubject?: string
  /** The `iat` of the last ID token proven: a renewal may not prove an older one. */
  proofIssuedAt?: number
  created: string
  /** The last join or renewal. */
  lastSeen: string
  /** 1 at the join, one more at every renewal; the bot's certificate carries it. */
  generation: number
  /**
   * The pin (sha256:…) of the key the last renewal certified: that renewal, asked again with
   * the generation before for the same key, is answered again (its answer may have been lost).
   */
  renewalKey?: string
  /** Set when two copies of the identity were seen: every call of the instance is refused. */
  locked?: {at: string; reason: string}
  /** The client address of the join. */
  address: string
}

export interface StoredBotInstance {
  instance: BotInstance
  revision: number
}

export const BOT_INSTANCES_PREFIX = '/bot-instances/'

export const botInstanceKey = (bot: string, id: string): string => `${BOT_INSTANCES_PREFIX}${bot}/${id}`

/** The instance ids of wid: 32 lowercase hex digits. */
export const BOT_INSTANCE_ID = /^[0-9a-f]{32}$/

export async function getBotInstance(backend: Backend, bot: string, id: string): Promise<StoredBotInstance | undefined> {
  const item = await backend.get(botInstanceKey(bot, id))
  return item && {instance: parseStored<BotInstance>(item.value, item.key), revision: item.revision}
}

/** Every stored instance, or those of one bot, in key order. */
export async function listBotInstances(backend: Backend, bot?: string): Promise<BotInstance[]> {
  const items = await backend.list(bot === undefined ? BOT_INSTANCES_PREFIX : `${BOT_INSTANCES_PREFIX}${bot}/`)
  return items.map((item) => parseStored<BotInstance>(item.value, item.key))
}

export function putBotInstance(instance: BotInstance): Operation {
  return {key: botInstanceKey(instance.bot, instance.id), type: 'put', value: JSON.stringify(instance)}
}
