import {describe, expect, it} from 'vitest'
import type {TrustState} from '../../../src/lib/auth/trust.js'
import {TrustWatch} from '../../../src/lib/server/trust-watch.js'

const A = '192.0.2.1'
const state = (sequence: number, spiffe = 'a'): TrustState => ({sequence, signing: {spiffe, jwt: 'j'}})
/** Whether `promise` has settled by the next turn of the event loop. */
const settled = async (promise: Promise<unknown>) => {
  let done = false
  void promise.then(() => (done = true))
  await new Promise((resolve) => setImmediate(resolve))
  return done
}

describe('TrustWatch', () => {
  it('answers at once without since, or with a since that is not the state', async () => {
    const watch = new TrustWatch()
    watch.publish(state(4))
    expect(await watch.wait(undefined, A)).toEqual(state(4))
    expect(await watch.wait(3, A)).toEqual(state(4))
  })

  it('holds a caller that has the state until it changes, and every caller then', async () => {
    const watch = new TrustWatch()
    watch.publish(state(4))
    const waiting = [watch.wait(4, A), watch.wait(4, A)]
    expect(await settled(waiting[0]!)).toBe(false)
    watch.publish(state(4))
    expect(await settled(waiting[0]!)).toBe(false)
    watch.publish(state(6, 'b'))
    expect(await Promise.all(waiting)).toEqual([state(6, 'b'), state(6, 'b')])
  })

  it('answers a lower sequence too (a store restored, or a database failed over to a replica), and not the same one again', async () => {
    const watch = new TrustWatch()
    watch.publish(state(6))
    const waiting = watch.wait(6, A)
    watch.publish(state(6))
    expect(await settled(waiting)).toBe(false)
    watch.publish(state(5))
    expect(await waiting).toEqual(state(5))
  })

  it('frees the place of a caller that went away', async () => {
    const watch = new TrustWatch()
    watch.publish(state(1))
    const gone = new AbortController()
    const waiting = watch.wait(1, A, 60_000, gone.signal)
    gone.abort()
    expect(await waiting).toEqual(state(1))
  })

  it('answers the unchanged state after the wait', async () => {
    const watch = new TrustWatch()
    watch.publish(state(4))
    expect(await watch.wait(4, A, 50)).toEqual(state(4))
  })

  it('answers every caller at once when the server closes, and later ones without waiting', async () => {
    const watch = new TrustWatch()
    watch.publish(state(4))
    const waiting = watch.wait(4, A)
    watch.close()
    expect(await settled(waiting)).toBe(true)
    expect(await settled(watch.wait(4, A))).toBe(true)
  })

  it('holds at most 128 watches of one address (half its connections), so that its agents can still renew', async () => {
    const watch = new TrustWatch()
    watch.publish(state(4))
    const held = Array.from({length: 128}, () => watch.wait(4, A))
    await expect(watch.wait(4, A)).rejects.toMatchObject({code: 'unavailable', message: 'api: watchTrust: 128 watches from this address wait already; poll the trust instead (exportTrust)'})
    // another address is not held back
    expect(await settled(watch.wait(4, '192.0.2.2'))).toBe(false)
    watch.publish(state(5))
    await Promise.all(held)
    expect(await settled(watch.wait(5, A))).toBe(false)
    watch.close()
  })

  it('refuses as unavailable before the first state is read', async () => {
    await expect(new TrustWatch().wait(undefined, A)).rejects.toMatchObject({code: 'unavailable'})
  })
})
