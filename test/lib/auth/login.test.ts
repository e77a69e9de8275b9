/** The login throttle (src/lib/auth/login.ts): failed logins counted in the store, per user and per address. */
import {describe, expect, it} from 'vitest'
import {MemoryBackend} from '../../../src/lib/backend/memory.js'
import {LOGIN_FAILURES_PREFIX, LoginThrottle} from '../../../src/lib/auth/login.js'

const WINDOW = 15 * 60_000
const LIMITS = {perUser: 5, perAddress: 20, windowMs: WINDOW}
const T0 = Date.UTC(2026, 10, 23, 12, 0, 0)

describe('LoginThrottle', () => {
  it('blocks a user after 5 failures within the window, until the oldest leaves it', async () => {
    // Given 5 failed attempts for alice, a minute apart
    const throttle = new LoginThrottle(new MemoryBackend(), LIMITS)
    for (let i = 0; i < 5; i++) await throttle.countAttempt('alice', '10.0.0.1', T0 + i * 60_000)
    const now = T0 + 5 * 60_000
    // Then alice is blocked from any address until the first failure is 15 minutes old
    expect(await throttle.blockedFor('alice', '10.0.0.9', now)).toBe(WINDOW - 5 * 60_000)
    expect(await throttle.blockedFor('alice', '10.0.0.9', T0 + WINDOW - 60_000)).toBe(60_000)
    expect(await throttle.blockedFor('alice', '10.0.0.9', T0 + WINDOW)).toBe(0)
    // And another user on the same address is not (the address has 5 of its 20)
    expect(await throttle.blockedFor('bob', '10.0.0.1', now)).toBe(0)
  })

  it('blocks an address after 20 failures, whichever users they named', async () => {
    const throttle = new LoginThrottle(new MemoryBackend(), LIMITS)
    for (let i = 0; i < 20; i++) await throttle.countAttempt(`user${i}`, '10.0.0.2', T0 + i)
    expect(await throttle.blockedFor('someone-new', '10.0.0.2', T0 + 20)).toBeGreaterThan(0)
    expect(await throttle.blockedFor('someone-new', '10.0.0.3', T0 + 20)).toBe(0)
  })

  it('forgets the user\'s failures on success and does not charge the address for the successful attempt', async () => {
    const backend = new MemoryBackend()
    const throttle = new LoginThrottle(backend, LIMITS)
    for (let i = 0; i < 4; i++) await throttle.countAttempt('carol', '10.0.0.4', T0 + i)
    // When the fifth attempt (counted in advance) succeeds
    await throttle.countAttempt('carol', '10.0.0.4', T0 + 10)
    await throttle.succeeded('carol', '10.0.0.4', T0 + 10, T0 + 11)
    // Then carol has no failures left, and the address keeps only the 4 real ones
    expect(await backend.get(`${LOGIN_FAILURES_PREFIX}user/carol`)).toBeUndefined()
    expect(JSON.parse((await backend.get(`${LOGIN_FAILURES_PREFIX}address/10.0.0.4`))!.value)).toEqual({failures: [T0, T0 + 1, T0 + 2, T0 + 3]})
  })

  it('shares the count between throttles on one store (several server processes, or a restart)', async () => {
    // Given two throttles on one store, as two server processes have
    const backend = new MemoryBackend()
    const a = new LoginThrottle(backend, LIMITS)
    const b = new LoginThrottle(backend, LIMITS)
    // When they count 10 attempts for one address at the same moment
    await Promise.all(Array.from({length: 10}, (_, i) => (i % 2 ? a : b).countAttempt(`u${i}`, '10.0.0.5', T0 + i)))
    // Then none was lost to the other's concurrent write
    const stored = JSON.parse((await backend.get(`${LOGIN_FAILURES_PREFIX}address/10.0.0.5`))!.value) as {failures: number[]}
    expect(stored.failures.sort((x, y) => x - y)).toEqual(Array.from({length: 10}, (_, i) => T0 + i))
    // And a throttle created later (after a restart) sees them
    for (let i = 0; i < 5; i++) await a.countAttempt('dave', '10.0.0.6', T0 + i)
    expect(await new LoginThrottle(backend, LIMITS).blockedFor('dave', '10.0.0.7', T0 + 10)).toBeGreaterThan(0)
  })

  it('removes entries whose failures have all left the window', async () => {
    const backend = new MemoryBackend()
    const throttle = new LoginThrottle(backend, LIMITS)
    await throttle.countAttempt('erin', '10.0.0.8', T0)
    // When a failure is counted more than a window later (which sweeps)
    await throttle.countAttempt('frank', '10.0.0.9', T0 + WINDOW + 1)
    // Then only the recent entries remain
    expect((await backend.list(LOGIN_FAILURES_PREFIX)).map((item) => item.key).sort()).toEqual([
      `${LOGIN_FAILURES_PREFIX}address/10.0.0.9`,
      `${LOGIN_FAILURES_PREFIX}user/frank`,
    ])
  })
})
