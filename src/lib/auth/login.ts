/**
 * `wid login`: a user proves who they are with a password (or sets one with a one-time
 * invite) and receives a short-lived client certificate for a key generated on their side.
 * Passwords are stored as scrypt hashes and compared in constant time; failed attempts are
 * limited per user and per client address.
 */
import {randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions} from 'node:crypto'
import type {Backend} from '../backend/backend.js'
import {WidError} from '../errors.js'
import type {User} from '../resources/types.js'
import {auditOperation} from '../services/audit.js'
import {getResource, putResource, resourceKey} from '../services/resources.js'
import {hashSecret} from './admin.js'

const SCRYPT = {N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024}
export const MIN_PASSWORD_LENGTH = 10
export const DEFAULT_LOGIN_TTL_SECONDS = 12 * 3600
export const MAX_LOGIN_TTL_SECONDS = 30 * 3600

function scrypt(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCallback(password, salt, 32, options, (error, key) => (error ? reject(error) : resolve(key))),
  )
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16)
  const key = await scrypt(password, salt, SCRYPT)
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${key.toString('base64')}`
}

export async function verifyPassword(password: string, stored: string | undefined): Promise<boolean> {
  const [scheme, n, r, p, salt, expected] = (stored ?? '').split('$')
  // Only hashes made with our own parameters are checked: a stored hash cannot choose the cost.
  const ours = Number(n) === SCRYPT.N && Number(r) === SCRYPT.r && Number(p) === SCRYPT.p
  if (scheme !== 'scrypt' || !salt || !expected || !ours) {
    // Same work as a real check, so that unknown users cannot be told apart by timing.
    await scrypt(password, Buffer.alloc(16), SCRYPT)
    return false
  }
  const key = await scrypt(password, Buffer.from(salt, 'base64'), SCRYPT)
  const want = Buffer.from(expected, 'base64')
  return want.length === key.length && timingSafeEqual(want, key)
}

interface Window {
  failures: number[]
}

/** Failed logins per key (a user, an address): at most `limit` within `windowMs`. */
export class FailureLimiter {
  private readonly windows = new Map<string, Window>()
  private readonly limit: number
  private readonly windowMs: number

  constructor(limit: number, windowMs: number) {
    this.limit = limit
    this.windowMs = windowMs
  }

  /** Keys tracked at most; the oldest windows are dropped beyond it, so memory stays bounded. */
  static readonly MAX_KEYS = 10_000

  /** Milliseconds until `key` may try again, or 0. */
  blockedFor(key: string, now: number): number {
    const recent = (this.windows.get(key)?.failures ?? []).filter((t) => now - t < this.windowMs)
    return recent.length >= this.limit ? recent[0]! + this.windowMs - now : 0
  }

  fail(key: string, now: number): void {
    const window = this.windows.get(key) ?? {failures: []}
    window.failures = [...window.failures.filter((t) => now - t < this.windowMs), now]
    this.windows.delete(key)
    this.windows.set(key, window)
    if (this.windows.size > FailureLimiter.MAX_KEYS) this.windows.delete(this.windows.keys().next().value!)
  }

  /** Takes back the most recent failure (an attempt counted in advance that succeeded). */
  forgive(key: string): void {
    this.windows.get(key)?.failures.pop()
  }

  clear(key: string): void {
    this.windows.delete(key)
  }
}

export interface LoginAttempt {
  user: string
  password: string
  invite?: string
  address: string
}

export interface LoginLimits {
  perUser: FailureLimiter
  perAddress: FailureLimiter
  /** Password checks running now; each holds a scrypt worker for tens of milliseconds. */
  inFlight: number
}

const MAX_CONCURRENT_LOGINS = 4
const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,252}$/

const refused = () => new WidError('access_denied', 'auth: invalid user name or password')

/**
 * Checks a login (or redeems an invite, setting the password) and returns the user. The
 * invite is consumed in the same transaction that stores the password, so it works once.
 */
export async function authenticateUser(backend: Backend, limits: LoginLimits, attempt: LoginAttempt, now: Date): Promise<User> {
  if (!USER_NAME.test(attempt.user)) throw refused()
  if (attempt.password.length > 1024) throw new WidError('bad_input', 'auth: the password is longer than 1024 characters')
  const t = now.getTime()
  const userKey = `user:${attempt.user}`
  const addressKey = `addr:${attempt.address}`
  const wait = Math.max(limits.perUser.blockedFor(userKey, t), limits.perAddress.blockedFor(addressKey, t))
  if (wait > 0) throw new WidError('access_denied', `auth: too many failed logins; try again in ${Math.ceil(wait / 60_000)} min`)
  if (limits.inFlight >= MAX_CONCURRENT_LOGINS) throw new WidError('unavailable', 'auth: too many logins at once; try again in a moment')
  // Counted before the (slow) check, so parallel guesses cannot all slip under the limit.
  limits.perUser.fail(userKey, t)
  limits.perAddress.fail(addressKey, t)
  limits.inFlight++
  try {
    const user = await checkCredentials(backend, attempt, now)
    limits.perUser.clear(userKey)
    limits.perAddress.forgive(addressKey)
    return user
  } finally {
    limits.inFlight--
  }
}

async function checkCredentials(backend: Backend, attempt: LoginAttempt, now: Date): Promise<User> {
  const t = now.getTime()
  const user = await getResource<User>(backend, 'user', attempt.user)
  if (attempt.invite !== undefined) {
    const status = user?.status
    const valid =
      status?.invite_hash?.length === 64 &&
      timingSafeEqual(Buffer.from(status.invite_hash), Buffer.from(hashSecret(attempt.invite))) &&
      Date.parse(status.invite_expires ?? '') > t
    if (!user || !valid) throw new WidError('access_denied', 'auth: the invite is not valid (wrong, expired, or already used); ask an admin for a new one with wid users add')
    if (attempt.password.length < MIN_PASSWORD_LENGTH) {
      throw new WidError('bad_input', `auth: the password must be at least ${MIN_PASSWORD_LENGTH} characters`)
    }
    const updated: User = {...user, status: {password_hash: await hashPassword(attempt.password)}}
    try {
      await backend.atomicWrite(
        [{key: resourceKey('user', user.metadata.name), type: 'revision', revision: user.metadata.revision!}],
        [putResource(updated), auditOperation({time: now.toISOString(), type: 'user.invite_redeemed', actor: `user:${user.metadata.name}`, kind: 'user', name: user.metadata.name})],
      )
    } catch (error) {
      if (error instanceof WidError && error.code === 'compare_failed') throw new WidError('access_denied', 'auth: the invite was just used; ask an admin for a new one')
      throw error
    }
    return updated
  }
  if (!(await verifyPassword(attempt.password, user?.status?.password_hash)) || !user) throw refused()
  return user
}
