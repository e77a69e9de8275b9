import {describe, expect, it} from 'vitest'
import {backoffDelay} from '../../src/lib/backoff.js'

describe('backoffDelay', () => {
  it('doubles from the base, jittered between half and all of it, never beyond the cap', () => {
    expect(backoffDelay(1, 1000, 60_000, () => 0)).toBe(500)
    expect(backoffDelay(1, 1000, 60_000, () => 0.999999)).toBe(1000)
    expect(backoffDelay(3, 1000, 60_000, () => 0)).toBe(2000)
    expect(backoffDelay(10, 1000, 60_000, () => 0.999999)).toBe(60_000)
    expect(backoffDelay(10, 1000, 3000, () => 0)).toBe(1500)
  })
})
