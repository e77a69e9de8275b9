import {afterEach, beforeEach, describe, expect, it, vi} from 'vitest'
import {retryWhileUnavailable} from '../../../src/lib/backend/retry.js'
import {WidError} from '../../../src/lib/errors.js'

const down = () => new WidError('unavailable', 'backend: PostgreSQL at db:5432 is unavailable (connection refused); try again')

describe('retryWhileUnavailable', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  it('retries while the store is unavailable, each wait twice the last up to 5–10 s, and returns what the attempt that succeeds returns', async () => {
    // Given a store that is unavailable for seven attempts
    let attempts = 0
    const attempt = async () => {
      if (++attempts <= 7) throw down()
      return 'opened'
    }
    const retries: [number, number][] = []
    // When it is retried (the jitter drawing its lowest)
    const result = retryWhileUnavailable(attempt, {onRetry: (_error, n, delayMs) => retries.push([n, delayMs]), random: () => 0})
    await vi.runAllTimersAsync()
    // Then each failure was told with the wait before the next, and the eighth attempt's value is returned
    expect(await result).toBe('opened')
    expect(retries).toEqual([
      [1, 500],
      [2, 1000],
      [3, 2000],
      [4, 4000],
      [5, 5000],
      [6, 5000],
      [7, 5000],
    ])
  })

  it('gives up at once on any other failure', async () => {
    for (const failure of [new WidError('bad_input', 'backend: PostgreSQL at db:5432 refused the login'), new WidError('state', 'backend: the database was written by a newer wid'), new Error('bug')]) {
      const onRetry = vi.fn()
      let attempts = 0
      const error: unknown = await retryWhileUnavailable(async () => {
        attempts++
        throw failure
      }, {onRetry}).catch((thrown: unknown) => thrown)
      expect([error, attempts, onRetry.mock.calls.length]).toEqual([failure, 1, 0])
    }
  })

  it('ends the wait when the signal aborts, without another attempt', async () => {
    const stop = new AbortController()
    let attempts = 0
    const result = retryWhileUnavailable(
      async () => {
        attempts++
        throw down()
      },
      {onRetry: () => stop.abort('SIGTERM'), signal: stop.signal},
    )
    expect(await result).toBeUndefined()
    expect(attempts).toBe(1)
  })
})
