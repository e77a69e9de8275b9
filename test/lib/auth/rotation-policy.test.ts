/** Automatic CA rotation (src/lib/auth/rotation-policy.ts, rotation.ts): the policy, its schedule and the SVID caps, on a frozen clock and the memory backend. */
import {generateKeyPairSync, X509Certificate} from 'node:crypto'
import {beforeEach, describe, expect, it} from 'vitest'
import {AuthServer, type Caller} from '../../../src/lib/auth/auth-server.js'
import {initializeCluster} from '../../../src/lib/auth/init.js'
import {advanceRotations, type RotationStatus} from '../../../src/lib/auth/rotation.js'
import {MemoryBackend} from '../../../src/lib/backend/memory.js'
import type {WorkloadIdentity} from '../../../src/lib/resources/types.js'
import {listAuditEvents} from '../../../src/lib/services/audit.js'
import {getAuthority} from '../../../src/lib/services/authorities.js'
import {putResource} from '../../../src/lib/services/resources.js'
import {rejection} from '../../helpers/errors.js'

const admin: Caller = {kind: 'admin', name: 'root'}
const START = new Date('2026-11-23T10:00:00Z')
const HOUR = 3600
/** The shortest ca_ttl allowed: six times the 24h cap of issuance by path. */
const CA_TTL = 144 * HOUR
const iso = (hours: number, seconds = 0) => new Date(START.getTime() + (hours * HOUR + seconds) * 1000).toISOString()
const publicKey = () => generateKeyPairSync('ec', {namedCurve: 'P-256'}).publicKey.export({type: 'spki', format: 'pem'}) as string
const certificates = (pem: string) => (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((c) => new X509Certificate(c))

describe('automatic CA rotation (frozen clock, in-memory backend)', () => {
  let backend: MemoryBackend
  let now: Date
  let auth: AuthServer
  const at = (hours: number, seconds = 0) => (now = new Date(iso(hours, seconds)))
  const status = async (type: 'spiffe' | 'jwt'): Promise<RotationStatus> => (await auth.status()).rotations.find((r) => r.type === type)!
  const automatic = (type: 'spiffe' | 'jwt' | 'host', caTtlSeconds?: number) => auth.rotateAuthority(admin, {type, automatic: true, ...(caTtlSeconds ? {caTtlSeconds} : {})})
  const x509 = (ttlSeconds = 24 * HOUR) => auth.issueX509Svid(admin, {path: '/svc/foo', publicKey: publicKey(), ttlSeconds})

  beforeEach(async () => {
    backend = new MemoryBackend()
    now = START
    await initializeCluster(backend, {clusterName: 'example.org', defaultClusterName: 'unused', now: START})
    auth = await AuthServer.open(backend, () => now)
  })

  describe('the policy', () => {
    it('is stored with the CA, shown by status, audited, and turned off again', async () => {
      const on = await automatic('spiffe', 720 * HOUR)
      // the CA made without the policy counts its life from now: prepared at half of 720h, signing at five sixths
      expect(on.automatic).toEqual({caTtl: '720h', caTtlSeconds: 720 * HOUR, since: iso(0), prepares: iso(360), activates: iso(600)})
      expect((await status('spiffe')).automatic).toEqual(on.automatic)
      expect((await status('jwt')).automatic).toBeUndefined()
      at(1)
      const off = await auth.rotateAuthority(admin, {type: 'spiffe', automatic: false})
      expect(off.automatic).toBeUndefined()
      const events = await listAuditEvents(backend, {type: 'ca.rotation_policy'})
      expect(events.map((e) => [e.authority, e.automatic, e.ca_ttl, e.actor])).toEqual([
        ['spiffe', true, '720h', 'admin:root'],
        ['spiffe', false, undefined, 'admin:root'],
      ])
    })

    it('defaults to 720h, and keeps its start when only ca_ttl changes', async () => {
      expect((await automatic('jwt')).automatic?.caTtl).toBe('720h')
      at(1)
      expect((await automatic('jwt', CA_TTL)).automatic).toMatchObject({caTtl: '144h', since: iso(0), prepares: iso(72)})
    })

    it('refuses a ca_ttl shorter than six times the longest SVID TTL, or over ten years, and the host and client CAs', async () => {
      expect(await rejection(automatic('spiffe', 24 * HOUR))).toMatchObject({
        code: 'bad_input',
        message:
          'auth rotate: --ca-ttl 24h is too short for the spiffe CA: a key stops signing with a sixth of its life left, which must cover the longest SVID it signs (24h, the cap of issuance by SPIFFE path); use --ca-ttl 144h or more',
      })
      expect(await rejection(automatic('spiffe', CA_TTL - 1))).toMatchObject({code: 'bad_input'})
      expect(await rejection(automatic('spiffe', 87601 * HOUR))).toMatchObject({message: expect.stringContaining('longer than the 87600h (10 years) a CA may live')})
      expect(await rejection(automatic('host'))).toMatchObject({message: expect.stringMatching(/^auth rotate: automatic rotation is for the spiffe and jwt CAs/)})
      expect(await rejection(auth.rotateAuthority(admin, {type: 'spiffe', caTtlSeconds: CA_TTL}))).toMatchObject({message: expect.stringContaining('--ca-ttl is for --automatic')})
      expect(await rejection(auth.rotateAuthority(admin, {type: 'spiffe', automatic: true, phase: 'init'}))).toMatchObject({code: 'bad_input'})
    })

    it('counts the maximum_ttl of workload identities, for the SVID type the CA signs', async () => {
      const wi: WorkloadIdentity = {kind: 'workload_identity', version: 'v1', metadata: {name: 'batch'}, spec: {spiffe: {id: '/batch', x509: {maximum_ttl: '336h'}}}}
      await backend.atomicWrite([], [putResource(wi)])
      expect(await rejection(automatic('spiffe', 720 * HOUR))).toMatchObject({message: expect.stringContaining('(336h, the maximum_ttl of workload identity "batch"); use --ca-ttl 2016h or more')})
      expect((await automatic('jwt', CA_TTL)).automatic?.caTtl).toBe('144h')
    })
  })

  describe('the schedule', () => {
    it('prepares the next CA at half, signs with it at five sixths, and drops the old one when its SVIDs have expired', async () => {
      await automatic('spiffe', CA_TTL)
      const old = (await status('spiffe')).signing
      expect(await advanceRotations(backend, at(72, -1))).toEqual([])

      // half: the next CA is made (valid for ca_ttl), trusted and published, and does not sign
      expect(await advanceRotations(backend, at(72))).toEqual(['spiffe'])
      const init = await status('spiffe')
      expect(init).toMatchObject({phase: 'init', mode: 'automatic', signing: old, schedule: {update_clients: iso(120), update_servers: iso(120), standby: iso(144)}})
      const next = init.trusted.find((k) => k !== old)!
      const [, ca] = certificates(await auth.exportTrust('tls-spiffe'))
      expect(Date.parse(ca!.validTo) - Date.parse(ca!.validFrom)).toBe(CA_TTL * 1000)
      expect(Date.parse(ca!.validFrom)).toBe(Date.parse(iso(72)) - 60_000)
      // the refresh hint stays at 300 s: 48h (a third of the shortest ca_ttl) hold far more than three
      expect((JSON.parse(await auth.exportTrust('spiffe-bundle')) as {spiffe_refresh_hint: number}).spiffe_refresh_hint).toBe(300)
      at(119)
      const beforeSwitch = await x509()

      // five sixths: the new CA signs; the old one is kept until the last SVID it signed expires
      expect(await advanceRotations(backend, at(120))).toEqual(['spiffe'])
      expect(await status('spiffe')).toMatchObject({phase: 'update_servers', signing: next, trusted: [next, old]})
      expect(beforeSwitch.notAfter).toBe(iso(143))
      expect(await advanceRotations(backend, at(144, -1))).toEqual([])
      expect(await advanceRotations(backend, at(144))).toEqual(['spiffe'])
      const done = await status('spiffe')
      expect(done).toMatchObject({phase: 'standby', signing: next, trusted: [next], lastRotated: iso(144)})
      // the next CA's own half-life (its notBefore is backdated a minute) starts the next rotation on the next pass
      expect(done.automatic).toMatchObject({prepares: iso(144, -60), activates: iso(192, -60)})
      expect(await advanceRotations(backend, at(150))).toEqual(['spiffe'])

      const events = await listAuditEvents(backend, {type: 'ca.rotation'})
      expect(events.map((e) => `${e.previous_phase}>${e.phase}:${e.mode}:${e.actor}`)).toEqual([
        'standby>init:automatic:system:rotation',
        'init>update_clients:automatic:system:rotation',
        'update_clients>update_servers:automatic:system:rotation',
        'update_servers>standby:automatic:system:rotation',
        'standby>init:automatic:system:rotation',
      ])
    })

    it('rotates the JWT key on the same schedule, and no JWT-SVID outlives its key', async () => {
      await automatic('jwt', CA_TTL)
      await advanceRotations(backend, at(72))
      await advanceRotations(backend, at(120))
      const {authority} = await getAuthority(backend, 'jwt')
      expect(authority.activeKeys[0]).toMatchObject({notBefore: iso(72), notAfter: iso(216)})
      // a token asked for 24h just before the key's end stops at it
      at(215)
      const svid = await auth.issueJwtSvid(admin, {path: '/svc/foo', audiences: ['a'], ttlSeconds: 24 * HOUR})
      expect(svid.expiresAt).toBe(iso(216))
    })

    it('makes a late preparation wait three refresh hints before signing, and an expired CA signs nothing until replaced', async () => {
      await automatic('spiffe', CA_TTL)
      await advanceRotations(backend, at(72))
      await advanceRotations(backend, at(120))
      await advanceRotations(backend, at(144))
      const signing = (await status('spiffe')).signing
      // no scheduler ran past the next CA's five sixths: it is prepared now and signs after 15 minutes
      await advanceRotations(backend, at(200))
      expect((await status('spiffe')).schedule?.update_clients).toBe(iso(200, 900))
      // an SVID of the CA near its end is cut to the CA's notAfter (its 24h TTL would outlive it)
      at(215)
      expect((await x509()).notAfter).toBe(iso(216, -60))
      // past its end the CA signs nothing, and the next pass replaces it at once
      at(216)
      expect(await rejection(x509())).toMatchObject({code: 'state', message: expect.stringMatching(/^svid: the spiffe CA that signs expired at 2026-12-02T09:59:00.000Z; its rotation is overdue/)})
      expect(await advanceRotations(backend, now)).toEqual(['spiffe'])
      const replaced = await status('spiffe')
      expect(replaced.phase).toBe('standby')
      expect(replaced.trusted).toEqual([replaced.signing])
      expect(replaced.trusted).not.toContain(signing)
      expect((await x509()).notAfter).toBe(iso(240))
    })

    it('cuts SVIDs at the CA notAfter under a manual rotation too: a new CA lives for ca_ttl however it is started', async () => {
      await automatic('spiffe', CA_TTL)
      await auth.rotateAuthority(admin, {type: 'spiffe', gracePeriodSeconds: 0})
      at(143)
      expect((await x509()).notAfter).toBe(iso(144, -60))
    })

    it('refuses manual and semi-automatic rotations while it is on (their keys would outlive the schedule), not a rotation at once; turned off, a rotation under way finishes and no other starts', async () => {
      await automatic('spiffe', CA_TTL)
      const refused = 'auth rotate: the spiffe CA rotates automatically; turn that off first (--no-automatic) to rotate it by hand, or replace its key now with --grace-period 0s'
      expect(await rejection(auth.rotateAuthority(admin, {type: 'spiffe', phase: 'init'}))).toMatchObject({code: 'bad_input', message: refused})
      expect(await rejection(auth.rotateAuthority(admin, {type: 'spiffe', gracePeriodSeconds: 48 * 3600}))).toMatchObject({message: refused})
      await advanceRotations(backend, at(72))
      for (const phase of ['update_clients', 'rollback'] as const) {
        expect(await rejection(auth.rotateAuthority(admin, {type: 'spiffe', phase, force: true}))).toMatchObject({message: refused})
      }
      await auth.rotateAuthority(admin, {type: 'spiffe', automatic: false})
      await advanceRotations(backend, at(120))
      await advanceRotations(backend, at(144))
      expect((await status('spiffe')).phase).toBe('standby')
      expect(await advanceRotations(backend, at(1000))).toEqual([])
    })

    it('lets one of two racing schedulers start the rotation', async () => {
      await automatic('jwt', CA_TTL)
      const [a, b] = await Promise.all([advanceRotations(backend, at(72)), advanceRotations(backend, at(72))])
      expect([...a, ...b]).toEqual(['jwt'])
      expect((await status('jwt')).trusted).toHaveLength(2)
      expect(await listAuditEvents(backend, {type: 'ca.rotation'})).toHaveLength(1)
    })
  })
})
