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
  if (scheme !== 'scrypt' || !salt || !expected) {
    // Same work as a real check, so that unknown users cannot be told apart by timing.
    await scrypt(password, Buffer.alloc(16), SCRYPT)
    return false
  }
  const key = await scrypt(password, Buffer.from(salt, 'base64'), {N: Number(n), r: Number(r), p: Number(p), maxmem: SCRYPT.maxmem})
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

  /** Milliseconds until `key` may try again, or 0. */
  blockedFor(key: string, now: number): number {
    const recent = (this.windows.get(key)?.failures ?? []).filter((t) => now - t < this.windowMs)
    return recent.length >= this.limit ? recent[0]! + this.windowMs - now : 0
  }

  fail(key: string, now: number): void {
    const window = this.windows.get(key) ?? {failures: []}
    window.failures = [...window.failures.filter((t) => now - t < this.windowMs), now]
    this.windows.set(key, window)
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
}

const refused = () => new WidError('access_denied', 'auth: invalid user name or password')

/**
 * Checks a login (or redeems an invite, setting the password) and returns the user. The
 * invite is consumed in the same transaction that stores the password, so it works once.
 */
export async function authenticateUser(backend: Backend, limits: LoginLimits, attempt: LoginAttempt, now: Date): Promise<User> {
  const t = now.getTime()
  const wait = Math.max(limits.perUser.blockedFor(`user:${attempt.user}`, t), limits.perAddress.blockedFor(`addr:${attempt.address}`, t))
  if (wait > 0) throw new WidError('access_denied', `auth: too many failed logins; try again in ${Math.ceil(wait / 60_000)} min`)
  const failed = (error: WidError) => {
    limits.perUser.fail(`user:${attempt.user}`, t)
    limits.perAddress.fail(`addr:${attempt.address}`, t)
    return error
  }
  const user = await getResource<User>(backend, 'user', attempt.user)
  if (attempt.invite !== undefined) {
    const status = user?.status
    const valid =
      status?.invite_hash?.length === 64 &&
      timingSafeEqual(Buffer.from(status.invite_hash), Buffer.from(hashSecret(attempt.invite))) &&
      Date.parse(status.invite_expires ?? '') > t
    if (!user || !valid) throw failed(new WidError('access_denied', 'auth: the invite is not valid (wrong, expired, or already used); ask an admin for a new one with wid users add'))
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
      if (error instanceof WidError && error.code === 'compare_failed') throw failed(new WidError('access_denied', 'auth: the invite was just used; ask an admin for a new one'))
      throw error
    }
    limits.perUser.clear(`user:${attempt.user}`)
    return updated
  }
  if (!(await verifyPassword(attempt.password, user?.status?.password_hash)) || !user) throw failed(refused())
  limits.perUser.clear(`user:${attempt.user}`)
  return user
}
