import {describe, expect, it} from 'vitest'
import type {TrustState} from '../../../src/lib/auth/trust.js'
import {createLogger} from '../../../src/lib/bot/log.js'
import {TrustFollower, type TrustChange} from '../../../src/lib/bot/trust-follow.js'
import {WidError} from '../../../src/lib/errors.js'

const state = (sequence: number, spiffe: string, jwt: string): TrustState => ({sequence, signing: {spiffe, jwt}})
const OLD_SERVER = new WidError('not_found', 'api: no such method /v1/watchTrust')

/**
 * A follower whose watch answers `script` in order (an error is thrown), then waits until
 * stopped. Resolves once the script is used up, with what the follower did.
 */
async function follow(script: Array<TrustState | Error>): Promise<{since: Array<number | undefined>; changes: TrustChange[]; lines: string[]}> {
  const since: Array<number | undefined> = []
  const changes: TrustChange[] = []
  const lines: string[] = []
  let finished!: () => void
  const done = new Promise<void>((resolve) => (finished = resolve))
  const follower = new TrustFollower({
    watch: async (asked) => {
      since.push(asked)
      const next = script.shift()
      if (next === undefined) {
        finished()
        return new Promise<TrustState>(() => {})
      }
      if (next instanceof Error) throw next
      return next
    },
    changed: async (change) => void changes.push(change),
    logger: createLogger({format: 'text', debug: false, write: (line) => lines.push(line)}),
    random: () => 0,
  })
  follower.start()
  await done
  follower.stop()
  return {since, changes, lines}
}

describe('TrustFollower', () => {
  it('reports each change after the first state: which CA signs with a new key', async () => {
    const {since, changes} = await follow([state(5, 'a', 'j'), state(6, 'a', 'j'), state(7, 'b', 'j'), state(9, 'b', 'k')])
    expect(since).toEqual([undefined, 5, 6, 7, 9])
    expect(changes).toEqual([
      {x509Signer: false, jwtSigner: false},
      {x509Signer: true, jwtSigner: false},
      {x509Signer: false, jwtSigner: true},
    ])
  })

  it('retries a single failure without a word (a renewed identity replaced the connection)', async () => {
    const {since, lines} = await follow([state(5, 'a', 'j'), new WidError('unavailable', 'socket hang up'), state(5, 'a', 'j')])
    expect(since).toEqual([undefined, 5, 5, 5])
    expect(lines).toEqual([])
  })

  it('falls back to the timers with one line when the watch is unavailable (an older server: 404), and sees a change made meanwhile once it answers', async () => {
    const {since, changes, lines} = await follow([state(5, 'a', 'j'), OLD_SERVER, OLD_SERVER, OLD_SERVER, state(8, 'b', 'j')])
    expect(since).toEqual([undefined, 5, 5, 5, 5, 8])
    expect(lines.filter((line) => line.includes('WARN'))).toHaveLength(1)
    expect(lines.find((line) => line.includes('WARN'))).toContain('trust watch unavailable: the trust bundles are refreshed at the renewal interval until it answers error="api: no such method /v1/watchTrust"')
    expect(lines.some((line) => line.includes('trust watch answers again'))).toBe(true)
    expect(changes).toEqual([{x509Signer: true, jwtSigner: false}])
  })
})
