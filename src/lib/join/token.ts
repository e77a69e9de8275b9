/**
 * The one-time token join method: the secret names a stored token (by its hash) that is a
 * bot's, unexpired, and whose bot still exists. The caller spends the token in the write
 * that makes the instance.
 */
import type {Backend} from '../backend/backend.js'
import {hashSecret} from '../crypto/secrets.js'
import {tokenId} from '../resources/names.js'
import type {Bot, Token} from '../resources/types.js'
import {getResource} from '../services/resources.js'
import {JoinRefused, type RefusalDetails} from './refused.js'

export interface CheckedToken {
  token: Token
  /** The key it is stored under: the hash of the secret. */
  hash: string
  /** What it is shown and audited by. */
  id: string
  bot: Bot
}

const unknownToken = () => new JoinRefused('join: the token is not known to the cluster (it may have been used already, or removed)')

export async function checkJoinToken(backend: Backend, secret: string, now: Date): Promise<CheckedToken> {
  const hash = hashSecret(secret)
  const token = await getResource<Token>(backend, 'token', hash)
  if (!token) throw unknownToken()
  const id = tokenId(token)
  const botName = token.spec.bot_name
  if (token.spec.join_method !== 'token' || !botName) throw new JoinRefused(`join: the token ${id} is not a bot's join token`)
  checkUnexpired(token, id, now)
  const bot = await getResource<Bot>(backend, 'bot', botName)
  if (!bot) throw new JoinRefused(`join: the bot "${botName}" of the token ${id} was removed`)
  return {token, hash, id, bot}
}

/** A token resource past its metadata.expires is refused, whatever its method. */
export function checkUnexpired(token: Token, id: string, now: Date, details: RefusalDetails = {}): void {
  const expires = token.metadata.expires
  if (expires !== undefined && !(Date.parse(expires) > now.getTime())) throw new JoinRefused(`join: the token ${id} expired at ${expires}`, details)
}
