/**
 * `wid auth rotate --automatic` as users run it: the policy is stored in the cluster (through a
 * server too: test/e2e/server-api-bodies.test.ts), bad policies get one line. The schedule
 * itself runs on a clock passed in, in test/lib/auth/rotation-policy.test.ts and
 * test/lib/cluster/local-automatic-rotation.test.ts.
 */
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {expectOneLineError, tempDir, widIn} from '../helpers/cli.js'

interface Rotation {
  type: string
  phase: string
  automatic?: {caTtl: string; caTtlSeconds: number; since: string; prepares: string; activates: string}
}

describe('wid auth rotate --automatic', () => {
  const tmp = tempDir()
  afterAll(() => tmp.cleanup())

  const rotations = async (wid: ReturnType<typeof widIn>): Promise<Rotation[]> => JSON.parse((await wid(['status', '--json'])).stdout).rotations as Rotation[]

  it('turns automatic rotation of a CA on and off in the embedded cluster, shown by status and audited', async () => {
    const wid = widIn(join(tmp.path, 'embedded'))
    expect((await wid(['init', '--cluster-name', 'example.org'])).code).toBe(0)
    expect(expectOneLineError(await wid(['auth', 'rotate', '--type', 'spiffe', '--automatic', '--ca-ttl', '24h']))).toBe(
      'auth rotate: --ca-ttl 24h is too short for the spiffe CA: a key stops signing with a sixth of its life left, which must cover the longest SVID it signs (24h, the cap of issuance by SPIFFE path); use --ca-ttl 144h or more',
    )
    expect(expectOneLineError(await wid(['auth', 'rotate', '--type', 'client', '--automatic']))).toMatch(/^auth rotate: automatic rotation is for the spiffe and jwt CAs/)
    expect(expectOneLineError(await wid(['auth', 'rotate', '--type', 'jwt', '--ca-ttl', '720h']))).toBe('auth rotate: --ca-ttl is for --automatic; --no-automatic turns automatic rotation off')
    expect(expectOneLineError(await wid(['auth', 'rotate', '--type', 'jwt', '--automatic', '--grace-period', '1h']))).toBe('--automatic and --grace-period cannot be used together')

    const on = await wid(['auth', 'rotate', '--type', 'spiffe', '--automatic', '--ca-ttl', '720h'])
    expect(on.code, on.stderr).toBe(0)
    expect(on.stderr).toMatch(/^✔ spiffe CA: rotated automatically, each key living 720h: its next key is prepared at \S+ and signs from \S+\n$/)
    const spiffe = (await rotations(wid)).find((r) => r.type === 'spiffe')!
    expect(spiffe).toMatchObject({phase: 'standby', automatic: {caTtl: '720h', caTtlSeconds: 720 * 3600}})
    // prepared at half of 720h from now, signing from five sixths
    expect(Date.parse(spiffe.automatic!.prepares) - Date.parse(spiffe.automatic!.since)).toBe(360 * 3600_000)
    expect(Date.parse(spiffe.automatic!.activates) - Date.parse(spiffe.automatic!.since)).toBe(600 * 3600_000)
    expect((await wid(['status'])).stdout).toMatch(/^Rotation: +spiffe CA rotated automatically, each key living 720h \(next key prepared at /m)
    expect((await wid(['audit', 'ls', '--type', 'ca.rotation_policy'])).stdout).toContain('spiffe CA: rotated automatically, each key living 720h')

    expect((await wid(['auth', 'rotate', '--type', 'spiffe', '--no-automatic'])).stderr).toBe('✔ spiffe CA: rotated by hand (wid auth rotate) only\n')
    expect((await rotations(wid)).some((r) => r.automatic)).toBe(false)
  })
})
