/** The login throttle (src/lib/auth/login.ts): failed logins counted in the store, per user and per address. */
import {describe, expect, it, vi} from 'vitest'
import {MemoryBackend} from '../../../src/lib/backend/memory.js'
import {LoginGate} from '../../../src/lib/auth/login-gate.js'
import {addressGroup, authenticateUser, LOGIN_FAILURES_PREFIX, LoginThrottle} from '../../../src/lib/auth/login.js'
import {rejection} from '../../helpers/errors.js'

const WINDOW = 15 * 60_000
const LIMITS = {perUser: 5, perAddress: 20, windowMs: WINDOW}
const T0 = Date.UTC(2026, 10, 23, 12, 0, 0)

describe('LoginThrottle', () => {
  it('refuses a user after 5 failures within the window, until the oldest leaves it', async () => {
    // Given 5 admitted (and so counted) attempts for alice, a minute apart
    const throttle = new LoginThrottle(new MemoryBackend(), LIMITS)
    for (let i = 0; i < 5; i++) await throttle.admit('alice', '10.0.0.1', T0 + i * 60_000)
    // Then a sixth, from any address, is refused with the minutes to wait
    const refused = await rejection(throttle.admit('alice', '10.0.0.9', T0 + 5 * 60_000))
    expect([refused.code, refused.message]).toEqual(['access_denied', 'auth: too many failed logins; try again in 10 min'])
    expect((await rejection(throttle.admit('alice', '10.0.0.9', T0 + WINDOW - 1))).code).toBe('access_denied')
    // And once the first failure has left the window, alice is admitted again
    await throttle.admit('alice', '10.0.0.9', T0 + WINDOW)
    // And another user on the first address was never refused (the address has 6 of its 20)
    await throttle.admit('bob', '10.0.0.1', T0 + 5 * 60_000)
  })

  it('refuses an address after 20 failures, whichever users they named', async () => {
    const throttle = new LoginThrottle(new MemoryBackend(), LIMITS)
    for (let i = 0; i < 20; i++) await throttle.admit(`user${i}`, '10.0.0.2', T0 + i)
    expect((await rejection(throttle.admit('someone-new', '10.0.0.2', T0 + 20))).message).toMatch(/too many failed logins/)
    await throttle.admit('someone-new', '10.0.0.3', T0 + 20)
  })

  it("forgets the user's failures on success and does not charge the address for the successful attempt", async () => {
    const backend = new MemoryBackend()
    const throttle = new LoginThrottle(backend, LIMITS)
    for (let i = 0; i < 4; i++) await throttle.admit('carol', '10.0.0.4', T0 + i)
    // When the fifth attempt (counted in advance) succeeds
    await throttle.admit('carol', '10.0.0.4', T0 + 10)
    await throttle.succeeded('carol', '10.0.0.4', T0 + 10, T0 + 11)
    // Then carol has no failures left, and the address keeps only the 4 real ones
    expect(await backend.get(`${LOGIN_FAILURES_PREFIX}user/carol`)).toBeUndefined()
    expect(JSON.parse((await backend.get(`${LOGIN_FAILURES_PREFIX}address/10.0.0.4`))!.value)).toEqual({failures: [T0, T0 + 1, T0 + 2, T0 + 3]})
  })

  it('admits exactly 5 of 12 simultaneous guesses for one user, across throttles on one store', async () => {
    // Given two throttles on one store, as two server processes have
    const backend = new MemoryBackend()
    const a = new LoginThrottle(backend, LIMITS)
    const b = new LoginThrottle(backend, LIMITS)
    // When 12 attempts for dave arrive at once, half at each
    const outcomes = await Promise.allSettled(Array.from({length: 12}, (_, i) => (i % 2 ? a : b).admit('dave', `10.0.1.${i}`, T0 + i)))
    // Then the check and the count were atomic: 5 were admitted, 7 refused
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(5)
    expect(outcomes.filter((o) => o.status === 'rejected')).toHaveLength(7)
    // And a throttle created later (after a restart) still refuses dave
    expect((await rejection(new LoginThrottle(backend, LIMITS).admit('dave', '10.0.2.1', T0 + 20))).code).toBe('access_denied')
  })

  it('counts an invite redemption against the address only, so a locked-out user can still redeem one', async () => {
    // Given erin, locked out by 5 guesses from elsewhere
    const backend = new MemoryBackend()
    const throttle = new LoginThrottle(backend, LIMITS)
    for (let i = 0; i < 5; i++) await throttle.admit('erin', '10.9.9.9', T0 + i)
    expect((await rejection(throttle.admit('erin', '10.0.0.1', T0 + 10))).code).toBe('access_denied')
    // When she redeems an invite (which does not count against her)
    await throttle.admit('erin', '10.0.0.1', T0 + 10, {countUser: false})
    // Then it is admitted, charged to her address, and her own count is unchanged
    expect(JSON.parse((await backend.get(`${LOGIN_FAILURES_PREFIX}user/erin`))!.value).failures).toHaveLength(5)
    expect(JSON.parse((await backend.get(`${LOGIN_FAILURES_PREFIX}address/10.0.0.1`))!.value).failures).toEqual([T0 + 10])
  })

  it('tells how many recent failures the address had before this attempt', async () => {
    const throttle = new LoginThrottle(new MemoryBackend(), LIMITS)
    expect(await throttle.admit('gus', '10.0.3.1', T0)).toEqual({addressFailures: 0})
    expect(await throttle.admit('hal', '10.0.3.1', T0 + 1)).toEqual({addressFailures: 1})
    expect(await throttle.admit('gus', '10.0.3.2', T0 + 2)).toEqual({addressFailures: 0})
  })

  it('takes back the advance count of an attempt that was never checked', async () => {
    const backend = new MemoryBackend()
    const throttle = new LoginThrottle(backend, LIMITS)
    await throttle.admit('ian', '10.0.4.1', T0)
    await throttle.admit('ian', '10.0.4.1', T0 + 1)
    // When the second is withdrawn (turned away before its password was checked)
    await throttle.withdraw('ian', '10.0.4.1', T0 + 1, T0 + 2)
    // Then only the first counts, for the user and for the address
    expect(JSON.parse((await backend.get(`${LOGIN_FAILURES_PREFIX}user/ian`))!.value).failures).toEqual([T0])
    expect(JSON.parse((await backend.get(`${LOGIN_FAILURES_PREFIX}address/10.0.4.1`))!.value).failures).toEqual([T0])
    // And an invite redemption (not counted for the user) is taken back from the address only
    await throttle.admit('ian', '10.0.4.1', T0 + 3, {countUser: false})
    await throttle.withdraw('ian', '10.0.4.1', T0 + 3, T0 + 4, {countUser: false})
    expect(JSON.parse((await backend.get(`${LOGIN_FAILURES_PREFIX}user/ian`))!.value).failures).toEqual([T0])
    expect(JSON.parse((await backend.get(`${LOGIN_FAILURES_PREFIX}address/10.0.4.1`))!.value).failures).toEqual([T0])
  })

  it('removes entries whose failures have all left the window, in the background', async () => {
    const backend = new MemoryBackend()
    const throttle = new LoginThrottle(backend, LIMITS)
    await throttle.admit('erin', '10.0.0.8', T0)
    // When an attempt is admitted more than a window later (which starts a sweep)
    await throttle.admit('frank', '10.0.0.9', T0 + WINDOW + 1)
    // Then only the recent entries remain
    await vi.waitFor(async () =>
      expect((await backend.list(LOGIN_FAILURES_PREFIX)).map((item) => item.key).sort()).toEqual([
        `${LOGIN_FAILURES_PREFIX}address/10.0.0.9`,
        `${LOGIN_FAILURES_PREFIX}user/frank`,
      ]),
    )
  })
})

describe('authenticateUser at the gate', () => {
  const attempt = {user: 'jo', password: 'not the password', address: '10.0.5.1'}

  it("refuses a locked-out address by its own limit, before it would wait for a shared slot", async () => {
    // Given an address at its 20 failures, and a gate with every slot taken and no room to wait
    const throttle = new LoginThrottle(new MemoryBackend(), LIMITS)
    for (let i = 0; i < 20; i++) await throttle.admit(`user${i}`, '10.0.5.1', T0 + i)
    const gate = new LoginGate({slots: 0, maxWaiting: 0, waitMs: 10_000})
    // Then its next attempt is refused for its failures, not for the others' load
    const refused = await rejection(authenticateUser(new MemoryBackend(), throttle, gate, attempt, new Date(T0 + 30)))
    expect([refused.code, refused.message]).toEqual(['access_denied', 'auth: too many failed logins; try again in 15 min'])
  })

  it('does not count a login turned away by the gate as a failure, and frees its address', async () => {
    const backend = new MemoryBackend()
    const throttle = new LoginThrottle(backend, LIMITS)
    const full = new LoginGate({slots: 0, maxWaiting: 0, waitMs: 10_000})
    // When a login is turned away for want of a slot
    const refused = await rejection(authenticateUser(backend, throttle, full, attempt, new Date(T0)))
    expect([refused.code, refused.message]).toEqual(['unavailable', 'auth: too many logins at once; try again in a moment'])
    // Then neither the user nor the address is charged for it
    expect(await backend.list(LOGIN_FAILURES_PREFIX)).toEqual([])
    // And the address may try again at once (here, as a wrong password, which does count)
    const open = new LoginGate({slots: 1, maxWaiting: 0, waitMs: 10_000})
    expect((await rejection(authenticateUser(backend, throttle, open, attempt, new Date(T0 + 1)))).message).toBe('auth: invalid user name or password')
    expect((await rejection(authenticateUser(backend, throttle, open, attempt, new Date(T0 + 2)))).message).toBe('auth: invalid user name or password')
    expect(JSON.parse((await backend.get(`${LOGIN_FAILURES_PREFIX}address/10.0.5.1`))!.value).failures).toEqual([T0 + 1, T0 + 2])
  })
})

describe('addressGroup', () => {
  it('counts IPv4 addresses as they are and IPv6 addresses by their /64', () => {
    expect(addressGroup('192.0.2.7')).toBe('192.0.2.7')
    expect(addressGroup('::ffff:192.0.2.7')).toBe('192.0.2.7')
    expect(addressGroup('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64')
    expect(addressGroup('2001:db8:1:2::9')).toBe('2001:db8:1:2::/64')
    expect(addressGroup('2001:0DB8:0001:0002:aaaa::1')).toBe('2001:db8:1:2::/64')
    expect(addressGroup('2001:db8::1')).toBe('2001:db8:0:0::/64')
    expect(addressGroup('::1')).toBe('0:0:0:0::/64')
    expect(addressGroup('unknown')).toBe('unknown')
  })
})
