/** The login gate (src/lib/auth/login-gate.ts): who gets a password-check slot, and when. */
import {afterEach, describe, expect, it, vi} from 'vitest'
import {LoginGate, type GatePass} from '../../../src/lib/auth/login-gate.js'
import {refusal, rejection} from '../../helpers/errors.js'

const LIMITS = {slots: 2, maxWaiting: 3, waitMs: 10_000}

/** Lets every settled promise run its callbacks. */
const settle = () => new Promise((resolve) => setImmediate(resolve))

/** A login at the gate whose password check (the fake work) lasts until `leave()`. */
function arrive(gate: LoginGate, group: string, clean: boolean, served: string[]) {
  const pass: GatePass = gate.enter(group)
  const outcome = pass.slot(clean).then(
    () => {
      served.push(group)
      return 'served'
    },
    (error: Error) => error.message,
  )
  return {group, pass, outcome}
}

describe('LoginGate', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('runs at most `slots` checks at once, and passes a freed slot to a waiter', async () => {
    const gate = new LoginGate(LIMITS)
    const served: string[] = []
    // Given two logins holding both slots, and a third waiting
    const a = arrive(gate, '10.0.0.1', true, served)
    const b = arrive(gate, '10.0.0.2', true, served)
    const c = arrive(gate, '10.0.0.3', true, served)
    await settle()
    expect(served).toEqual(['10.0.0.1', '10.0.0.2'])
    // When one finishes, the waiter gets its slot
    a.pass.leave()
    await settle()
    expect(served).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3'])
    // And when all have finished, a newcomer is served at once
    b.pass.leave()
    c.pass.leave()
    const d = arrive(gate, '10.0.0.4', false, served)
    expect(await d.outcome).toBe('served')
  })

  it('serves waiting addresses without failures before those with failures, each in arrival order', async () => {
    const gate = new LoginGate({...LIMITS, maxWaiting: 10})
    const served: string[] = []
    const running = [arrive(gate, 'busy-1', true, served), arrive(gate, 'busy-2', true, served)]
    await settle()
    // Given flooders waiting first, then two clean addresses
    const waiting = [
      arrive(gate, 'flooder-1', false, served),
      arrive(gate, 'flooder-2', false, served),
      arrive(gate, 'clean-1', true, served),
      arrive(gate, 'flooder-3', false, served),
      arrive(gate, 'clean-2', true, served),
    ]
    // When each login, once served, finishes and frees its slot
    const logins = new Map([...running, ...waiting].map((login) => [login.group, login]))
    for (let i = 0; i < logins.size; i++) {
      logins.get(served[i]!)!.pass.leave()
      await settle()
    }
    // Then the clean ones went first, and the flooders after, oldest first
    expect(served.slice(2)).toEqual(['clean-1', 'clean-2', 'flooder-1', 'flooder-2', 'flooder-3'])
  })

  it('refuses a second login from an address that has one in flight or waiting, until that one leaves', async () => {
    const gate = new LoginGate({...LIMITS, slots: 1})
    const served: string[] = []
    const first = arrive(gate, '2001:db8:1:2::/64', true, served)
    const waiting = arrive(gate, '10.0.0.9', true, served)
    // Then a second login from either address is refused at once
    for (const group of ['2001:db8:1:2::/64', '10.0.0.9']) {
      const refused = refusal(() => gate.enter(group))
      expect([refused.code, refused.message]).toEqual(['unavailable', 'auth: a login from this address is already in progress; try again in a moment'])
    }
    // And once the first has left, its address may log in again
    first.pass.leave()
    await settle()
    expect(served).toEqual(['2001:db8:1:2::/64', '10.0.0.9'])
    waiting.pass.leave()
    expect(await arrive(gate, '2001:db8:1:2::/64', true, served).outcome).toBe('served')
  })

  it('when the queue is full, a clean arrival evicts the newest waiting flooder; anyone else is turned away', async () => {
    const gate = new LoginGate(LIMITS)
    const served: string[] = []
    const running = [arrive(gate, 'busy-1', true, served), arrive(gate, 'busy-2', true, served)]
    // Given a full queue: one clean login and two flooders
    const clean1 = arrive(gate, 'clean-1', true, served)
    const flooder1 = arrive(gate, 'flooder-1', false, served)
    const flooder2 = arrive(gate, 'flooder-2', false, served)
    // When another flooder arrives, it is turned away
    const TURNED_AWAY = 'auth: too many logins at once; try again in a moment'
    expect(await arrive(gate, 'flooder-3', false, served).outcome).toBe(TURNED_AWAY)
    // When a clean login arrives, the newest flooder gives up its place to it
    const clean2 = arrive(gate, 'clean-2', true, served)
    expect(await flooder2.outcome).toBe(TURNED_AWAY)
    // And so does the next newest for the next clean one
    const clean3 = arrive(gate, 'clean-3', true, served)
    expect(await flooder1.outcome).toBe(TURNED_AWAY)
    // And with only clean logins waiting, another clean one is turned away
    expect((await rejection(gate.enter('clean-4').slot(true))).code).toBe('unavailable')
    // While those that kept their place are served in order as slots free up
    for (const login of [...running, clean1, clean2]) {
      login.pass.leave()
      await settle()
    }
    expect(served).toEqual(['busy-1', 'busy-2', 'clean-1', 'clean-2', 'clean-3'])
    clean3.pass.leave()
  })

  it('turns a login away once it has waited waitMs, and frees its place', async () => {
    vi.useFakeTimers({toFake: ['setTimeout', 'clearTimeout']})
    const gate = new LoginGate({...LIMITS, slots: 1})
    const served: string[] = []
    const running = arrive(gate, 'busy', true, served)
    const waiting = arrive(gate, 'patient', false, served)
    // When the deadline passes with the slot still taken
    vi.advanceTimersByTime(LIMITS.waitMs)
    // Then the waiter is turned away, and leaving frees its address for a new login
    expect(await waiting.outcome).toBe('auth: too many logins at once; try again in a moment')
    waiting.pass.leave()
    const again = arrive(gate, 'patient', true, served)
    // And the slot, once freed, goes to the new login, not to the one turned away
    running.pass.leave()
    expect(await again.outcome).toBe('served')
    expect(served).toEqual(['busy', 'patient'])
  })
})
