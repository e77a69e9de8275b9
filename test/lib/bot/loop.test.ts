import {afterEach, beforeEach, describe, expect, it, vi} from 'vitest'
import {Loop} from '../../../src/lib/bot/loop.js'
import {SvidBatcher, BATCH_LIMIT} from '../../../src/lib/bot/batch.js'

describe('Loop', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  it('runs at once, then every interval', async () => {
    const run = vi.fn(async () => {})
    const loop = new Loop({name: 't', intervalMs: 10_000, tries: 5, run})
    loop.start()
    await vi.advanceTimersByTimeAsync(0)
    expect(run).toHaveBeenCalledTimes(1)
    await vi.advanceTimersByTimeAsync(9_999)
    expect(run).toHaveBeenCalledTimes(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(run).toHaveBeenCalledTimes(2)
    await loop.stop()
  })

  it('waits an interval longer than a timer can (24.8 days), instead of running again at once', async () => {
    const run = vi.fn(async () => {})
    const day = 24 * 3600 * 1000
    const loop = new Loop({name: 't', intervalMs: 30 * day, tries: 5, run})
    loop.start()
    await vi.advanceTimersByTimeAsync(1000)
    expect(run).toHaveBeenCalledTimes(1)
    await vi.advanceTimersByTimeAsync(30 * day - 1001)
    expect(run).toHaveBeenCalledTimes(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(run).toHaveBeenCalledTimes(2)
    await loop.stop()
  })

  it('retries a failure with backoff the given number of times, then waits for the next interval', async () => {
    const failures: Array<[number, boolean]> = []
    const run = vi.fn(async () => {
      throw new Error('down')
    })
    const loop = new Loop({name: 't', intervalMs: 60_000, tries: 5, run, random: () => 0, onFailure: (_e, attempt, willRetry) => failures.push([attempt, willRetry])})
    loop.start()
    // retries after 0.5 s, 1 s, 2 s and 4 s (half of 1, 2, 4, 8 s with no jitter drawn)
    await vi.advanceTimersByTimeAsync(500 + 1000 + 2000 + 4000)
    expect(run).toHaveBeenCalledTimes(5)
    expect(failures).toEqual([[1, true], [2, true], [3, true], [4, true], [5, false]])
    await vi.advanceTimersByTimeAsync(59_999)
    expect(run).toHaveBeenCalledTimes(5)
    await vi.advanceTimersByTimeAsync(1)
    expect(run).toHaveBeenCalledTimes(6)
    await loop.stop()
  })

  it('succeeds on a retry and reports it', async () => {
    let calls = 0
    const onSuccess = vi.fn()
    const loop = new Loop({name: 't', intervalMs: 60_000, tries: 7, random: () => 0, onSuccess, run: async () => {
      if (++calls < 3) throw new Error('not yet')
    }})
    loop.start()
    await vi.advanceTimersByTimeAsync(500 + 1000)
    expect(calls).toBe(3)
    expect(onSuccess).toHaveBeenCalledTimes(1)
    await loop.stop()
  })

  it('runs now when triggered (SIGUSR1), also during a backoff', async () => {
    const run = vi.fn(async () => {})
    const loop = new Loop({name: 't', intervalMs: 60_000, tries: 5, run})
    loop.start()
    await vi.advanceTimersByTimeAsync(0)
    loop.trigger()
    await vi.advanceTimersByTimeAsync(0)
    expect(run).toHaveBeenCalledTimes(2)
    await loop.stop()
  })

  it('stops without another run', async () => {
    const run = vi.fn(async () => {})
    const loop = new Loop({name: 't', intervalMs: 1000, tries: 5, run})
    loop.start()
    await vi.advanceTimersByTimeAsync(0)
    await loop.stop()
    await vi.advanceTimersByTimeAsync(10_000)
    expect(run).toHaveBeenCalledTimes(1)
  })
})

describe('SvidBatcher', () => {
  const item = (path: string) => ({type: 'jwt' as const, path, audiences: ['a']})
  const answer = (items: Array<{path?: string}>) => items.map((i) => ({error: {code: 'bad_input', message: i.path ?? ''}}))

  it('sends what is asked in one turn as one request, and hands each asker its own results', async () => {
    const send = vi.fn(async (items: Array<{path?: string}>) => answer(items))
    const batcher = new SvidBatcher(send as never)
    const [a, b] = await Promise.all([batcher.issue([item('/a'), item('/b')]), batcher.issue([item('/c')])])
    expect(send).toHaveBeenCalledTimes(1)
    expect(a.map((r) => ('error' in r ? r.error.message : ''))).toEqual(['/a', '/b'])
    expect(b.map((r) => ('error' in r ? r.error.message : ''))).toEqual(['/c'])
  })

  it('splits more than the limit into several requests, keeping each asker whole', async () => {
    const send = vi.fn(async (items: Array<{path?: string}>) => answer(items))
    const batcher = new SvidBatcher(send as never)
    const askers = Array.from({length: 30}, (_, i) => batcher.issue(Array.from({length: 7}, (_, j) => item(`/s${i}/${j}`))))
    const results = await Promise.all(askers)
    expect(send.mock.calls.length).toBe(Math.ceil(30 / Math.floor(BATCH_LIMIT / 7)))
    for (const call of send.mock.calls) expect(call[0].length).toBeLessThanOrEqual(BATCH_LIMIT)
    expect(results[29]!.map((r) => ('error' in r ? r.error.message : ''))[6]).toBe('/s29/6')
  })

  it('fails every asker of a request that fails', async () => {
    const batcher = new SvidBatcher(async () => {
      throw new Error('unreachable')
    })
    await expect(Promise.all([batcher.issue([item('/a')]), batcher.issue([item('/b')])])).rejects.toThrow('unreachable')
  })
})
