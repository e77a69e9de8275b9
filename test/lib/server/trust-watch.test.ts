import {describe, expect, it} from 'vitest'
import type {TrustState} from '../../../src/lib/auth/trust.js'
import {TrustWatch} from '../../../src/lib/server/trust-watch.js'

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
    expect(await watch.wait(undefined)).toEqual(state(4))
    expect(await watch.wait(3)).toEqual(state(4))
  })

  it('holds a caller that has the state until it changes, and every caller then', async () => {
    const watch = new TrustWatch()
    watch.publish(state(4))
    const waiting = [watch.wait(4), watch.wait(4)]
    expect(await settled(waiting[0]!)).toBe(false)
    watch.publish(state(4))
    expect(await settled(waiting[0]!)).toBe(false)
    watch.publish(state(6, 'b'))
    expect(await Promise.all(waiting)).toEqual([state(6, 'b'), state(6, 'b')])
  })

  it('ignores an older state (a refresh overtaken by a newer one)', async () => {
    const watch = new TrustWatch()
    watch.publish(state(6))
    const waiting = watch.wait(6)
    watch.publish(state(5))
    expect(await settled(waiting)).toBe(false)
    watch.close()
    expect(await waiting).toEqual(state(6))
  })

  it('answers the unchanged state after the wait', async () => {
    const watch = new TrustWatch()
    watch.publish(state(4))
    expect(await watch.wait(4, 50)).toEqual(state(4))
  })

  it('answers every caller at once when the server closes, and later ones without waiting', async () => {
    const watch = new TrustWatch()
    watch.publish(state(4))
    const waiting = watch.wait(4)
    watch.close()
    expect(await settled(waiting)).toBe(true)
    expect(await settled(watch.wait(4))).toBe(true)
  })

  it('refuses as unavailable before the first state is read', async () => {
    await expect(new TrustWatch().wait(undefined)).rejects.toMatchObject({code: 'unavailable'})
  })
})
