/**
 * `wid login`: a user proves who they are with a password (or sets one with a one-time
 * invite) and receives a short-lived client certificate for a key generated on their side.
 * Passwords are stored as scrypt hashes and compared in constant time; failed attempts are
 * limited per user and per client address, and the password checks of a process are handed
 * out by a LoginGate.
 */
import {randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions} from 'node:crypto'
import {isIP} from 'node:net'
import type {Backend, Condition, Operation} from '../backend/backend.js'
import {WidError} from '../errors.js'
import type {User} from '../resources/types.js'
import {auditOperation} from '../services/audit.js'
import {getResource, putResource, resourceKey} from '../services/resources.js'
import {hashSecret} from '../crypto/secrets.js'
import type {LoginGate} from './login-gate.js'

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

/** Where failed logins are counted: one item per user and per client address. */
export const LOGIN_FAILURES_PREFIX = '/login-failures/'

/** The item counting a user's failed logins. */
export const userFailuresKey = (user: string): string => `${LOGIN_FAILURES_PREFIX}user/${user}`

export interface ThrottleLimits {
  perUser: number
  perAddress: number
  windowMs: number
}

type Scope = 'user' | 'address'

/**
 * Failed logins per user and per client address, at most `perUser` and `perAddress` within
 * `windowMs`. They are kept in the store, so every server process on it counts the same
 * failures and a restart forgets none.
 */
export class LoginThrottle {
  private readonly backend: Backend
  private readonly limits: ThrottleLimits
  private lastSweep = 0

  constructor(backend: Backend, limits: ThrottleLimits) {
    this.backend = backend
    this.limits = limits
  }

  private key(scope: Scope, id: string): string {
    return scope === 'user' ? userFailuresKey(id) : `${LOGIN_FAILURES_PREFIX}address/${id}`
  }

  private recent(value: string | undefined, now: number): number[] {
    const failures = value === undefined ? [] : (JSON.parse(value) as {failures?: unknown}).failures
    return Array.isArray(failures) ? failures.filter((t): t is number => typeof t === 'number' && now - t < this.limits.windowMs) : []
  }

  private wait(userFailures: number[], addressFailures: number[], now: number): number {
    const waitFor = (failures: number[], limit: number) => (failures.length >= limit ? Math.min(...failures) + this.limits.windowMs - now : 0)
    return Math.max(waitFor(userFailures, this.limits.perUser), waitFor(addressFailures, this.limits.perAddress))
  }

  /**
   * Changes the failure lists of this user (none for a bot's join) and this address together,
   * in one write that is retried when another process changed either meanwhile. `edit` may
   * refuse by throwing.
   */
  private async change(user: string | undefined, address: string, now: number, edit: (failures: {user: number[]; address: number[]}) => {user: number[]; address: number[]}): Promise<void> {
    const userKey = user === undefined ? undefined : this.key('user', user)
    const addressKey = this.key('address', addressGroup(address))
    for (let attempt = 0; attempt < 20; attempt++) {
      const [userItem, addressItem] = await Promise.all([userKey === undefined ? undefined : this.backend.get(userKey), this.backend.get(addressKey)])
      const next = edit({user: this.recent(userItem?.value, now), address: this.recent(addressItem?.value, now)})
      const conditions: Condition[] = []
      const operations: Operation[] = []
      const lists = [...(userKey === undefined ? [] : [[userKey, userItem, next.user] as const]), [addressKey, addressItem, next.address] as const]
      for (const [key, item, failures] of lists) {
        conditions.push(item ? {key, type: 'revision', revision: item.revision} : {key, type: 'absent'})
        if (failures.length > 0) operations.push({key, type: 'put', value: JSON.stringify({failures})})
        else if (item) operations.push({key, type: 'delete'})
      }
      try {
        if (operations.length > 0) await this.backend.atomicWrite(conditions, operations)
        return
      } catch (error) {
        if (!(error instanceof WidError) || error.code !== 'compare_failed') throw error
      }
    }
    throw new WidError('unavailable', 'auth: too many logins at once; try again in a moment')
  }

  /**
   * Admits an attempt, counting it as failed before it is checked, or refuses it when the
   * user or the address is at its limit. The check and the count are one conditional write,
   * so parallel guesses, from any number of server processes, cannot slip past the limit.
   * Returns how many recent failures the address had before this attempt. A bot's join
   * (`user` undefined) is counted against the address only.
   */
  async admit(user: string | undefined, address: string, now: number, options: {countUser?: boolean} = {}): Promise<{addressFailures: number}> {
    const countUser = user !== undefined && (options.countUser ?? true)
    let addressFailures = 0
    await this.change(user, address, now, (failures) => {
      const wait = this.wait(countUser ? failures.user : [], failures.address, now)
      const what = user === undefined ? 'logins and joins from this address' : 'logins'
      if (wait > 0) throw new LoginLocked(`auth: too many failed ${what}; try again in ${Math.ceil(wait / 60_000)} min`)
      addressFailures = failures.address.length
      return {user: countUser ? [...failures.user, now] : failures.user, address: [...failures.address, now]}
    })
    if (now - this.lastSweep > this.limits.windowMs) {
      this.lastSweep = now
      // In the background: a login does not wait for it, and a failed sweep is retried a window later.
      void this.sweep(now).catch(() => {})
    }
    return {addressFailures}
  }

  /** An admitted attempt succeeded: the user's failures are forgotten, and the address is not charged for it. */
  async succeeded(user: string | undefined, address: string, attemptedAt: number, now: number): Promise<void> {
    await this.change(user, address, now, (failures) => ({user: [], address: without(failures.address, attemptedAt)}))
  }

  /** An admitted attempt was never checked (no password-check slot came free): its advance count is taken back. */
  async withdraw(user: string | undefined, address: string, attemptedAt: number, now: number, options: {countUser?: boolean} = {}): Promise<void> {
    const countUser = user !== undefined && (options.countUser ?? true)
    await this.change(user, address, now, (failures) => ({
      user: countUser ? without(failures.user, attemptedAt) : failures.user,
      address: without(failures.address, attemptedAt),
    }))
  }

  /** Removes the entries whose failures have all left the window, in batches of one write each. */
  private async sweep(now: number): Promise<void> {
    const expired = (await this.backend.list(LOGIN_FAILURES_PREFIX)).filter((item) => this.recent(item.value, now).length === 0)
    for (let i = 0; i < expired.length; i += SWEEP_BATCH) {
      const batch = expired.slice(i, i + SWEEP_BATCH)
      await this.backend
        .atomicWrite(
          batch.map((item): Condition => ({key: item.key, type: 'revision', revision: item.revision})),
          batch.map((item): Operation => ({key: item.key, type: 'delete'})),
        )
        .catch((error: unknown) => {
          // one of them failed again meanwhile: the batch waits for the next sweep
          if (!(error instanceof WidError) || error.code !== 'compare_failed') throw error
        })
    }
  }
}

const SWEEP_BATCH = 500

/** The failures without (one count of) the attempt made at `attemptedAt`. */
function without(failures: number[], attemptedAt: number): number[] {
  const at = failures.lastIndexOf(attemptedAt)
  return at < 0 ? failures : [...failures.slice(0, at), ...failures.slice(at + 1)]
}

/**
 * The address failures are counted under: an IPv4 address as it is (also when IPv4-mapped),
 * an IPv6 address by its /64, the smallest block a single client usually holds.
 */
export function addressGroup(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped) return mapped[1]!
  if (isIP(address) !== 6) return address
  const [head = '', tail = ''] = address.split('::')
  const headGroups = head ? head.split(':') : []
  const tailGroups = tail ? tail.split(':') : []
  const groups = address.includes('::') ? [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups] : headGroups
  return `${groups.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`
}

export interface LoginAttempt {
  user: string
  password: string
  invite?: string
  address: string
}

const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,252}$/

/**
 * A login refused after its credentials were checked (a wrong password, a bad invite): what
 * the audit log records. Refusals before the check (a malformed name, the throttle) are not
 * recorded one by one, since nothing limits how many of those a client can cause.
 */
export class LoginRefused extends WidError {
  constructor(message: string) {
    super('access_denied', message)
  }
}

/** An attempt refused unchecked: the user or the address has failed too often lately (see LoginThrottle). */
export class LoginLocked extends WidError {
  constructor(message: string) {
    super('access_denied', message)
  }
}

const refused = () => new WidError('access_denied', 'auth: invalid user name or password')
const wrongPassword = () => new LoginRefused('auth: invalid user name or password')

/**
 * Checks a login (or redeems an invite, setting the password) and returns the user. The
 * invite is consumed in the same transaction that stores the password, so it works once.
 * The check runs behind the throttle and the gate (throttledCheck).
 */
export async function authenticateUser(backend: Backend, throttle: LoginThrottle, gate: LoginGate, attempt: LoginAttempt, now: Date): Promise<User> {
  if (!USER_NAME.test(attempt.user)) throw refused()
  if (attempt.password.length > 1024) throw new WidError('bad_input', 'auth: the password is longer than 1024 characters')
  const t = now.getTime()
  // An invite is a 128-bit secret: guessing one is hopeless, so redeeming it is counted
  // against the address only, and a user locked out by someone else's guesses can still
  // use the invite of wid users reset.
  const counted = {countUser: attempt.invite === undefined}
  return throttledCheck({throttle, gate, user: attempt.user, address: attempt.address, now: t, ...counted}, () => checkCredentials(backend, attempt, now))
}

/**
 * Runs a credential check (a password, an invite, a bot's join token) behind the throttle
 * and the gate: the address's own limits come first (one attempt at a time, its failures),
 * and only then does it wait for one of the slots that all addresses share. The attempt is
 * counted as failed until `check` succeeds. `user` is the user named, if any (not a join).
 */
export async function throttledCheck<T>(
  options: {throttle: LoginThrottle; gate: LoginGate; user: string | undefined; address: string; now: number; countUser?: boolean},
  check: () => Promise<T>,
): Promise<T> {
  const {throttle, user, address, now: t} = options
  const counted = {countUser: options.countUser ?? true}
  const pass = options.gate.enter(addressGroup(address))
  try {
    const {addressFailures} = await throttle.admit(user, address, t, counted)
    try {
      await pass.slot(addressFailures === 0)
    } catch (error) {
      await throttle.withdraw(user, address, t, t, counted)
      throw error
    }
    const result = await check()
    await throttle.succeeded(user, address, t, t)
    return result
  } finally {
    pass.leave()
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
    if (!user || !valid) throw new LoginRefused('auth: the invite is not valid (wrong, expired, or already used); ask an admin for a new one (wid users reset)')
    if (attempt.password.length < MIN_PASSWORD_LENGTH) {
      throw new WidError('bad_input', `auth: the password must be at least ${MIN_PASSWORD_LENGTH} characters`)
    }
    const loginId = user.status?.login_id
    const updated: User = {...user, status: {...(loginId ? {login_id: loginId} : {}), password_hash: await hashPassword(attempt.password)}}
    try {
      await backend.atomicWrite(
        [{key: resourceKey('user', user.metadata.name), type: 'revision', revision: user.metadata.revision!}],
        [putResource(updated), auditOperation({time: now.toISOString(), type: 'user.invite_redeemed', actor: `user:${user.metadata.name}`, kind: 'user', name: user.metadata.name, address: attempt.address})],
      )
    } catch (error) {
      if (error instanceof WidError && error.code === 'compare_failed') throw new WidError('access_denied', 'auth: the invite was just used; ask an admin for a new one')
      throw error
    }
    return updated
  }
  if (!(await verifyPassword(attempt.password, user?.status?.password_hash)) || !user) throw wrongPassword()
  return user
}
