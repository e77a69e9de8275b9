import {generateKeyPairSync, X509Certificate} from 'node:crypto'
import {beforeEach, describe, expect, it} from 'vitest'
import {AuthServer, type Caller} from '../../../src/lib/auth/auth-server.js'
import {AccessChecker} from '../../../src/lib/auth/access.js'
import {initializeCluster, ensureRemoteMode, PRESET_ROLES} from '../../../src/lib/auth/init.js'
import {advanceRotations, type RotationPhase} from '../../../src/lib/auth/rotation.js'
import type {Principal} from '../../../src/lib/auth/principal.js'
import {MemoryBackend} from '../../../src/lib/backend/memory.js'
import {listAuditEvents} from '../../../src/lib/services/audit.js'
import {getClusterConfig} from '../../../src/lib/services/cluster-config.js'
import {rejection} from '../../helpers/errors.js'

const admin: Caller = {kind: 'admin', name: 'root'}
const START = new Date('2026-11-23T10:00:00Z')
const publicKey = () => generateKeyPairSync('ec', {namedCurve: 'P-256'}).publicKey.export({type: 'spki', format: 'pem'}) as string
const certificates = (pem: string) => (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((c) => new X509Certificate(c))

describe('CA rotation (frozen clock, in-memory backend)', () => {
  let backend: MemoryBackend
  let now: Date
  let auth: AuthServer
  const at = (seconds: number) => (now = new Date(START.getTime() + seconds * 1000))

  beforeEach(async () => {
    backend = new MemoryBackend()
    now = START
    await initializeCluster(backend, {clusterName: 'example.org', defaultClusterName: 'unused', now: START})
    await ensureRemoteMode(backend, (await getClusterConfig(backend))!, START)
    auth = await AuthServer.open(backend, () => now)
  })

  const rotate = (type: 'spiffe' | 'jwt' | 'host' | 'client', phase: RotationPhase, force = true) => auth.rotateAuthority(admin, {type, phase, force})

  /** An X.509-SVID issued now, and whether it verifies against the CAs exported now. */
  async function issueAndVerify(): Promise<{issuer: string; verifies: boolean}> {
    const svid = await auth.issueX509Svid(admin, {path: '/svc/foo', publicKey: publicKey()})
    const leaf = new X509Certificate(svid.certificates[0]!)
    const cas = certificates(await auth.exportTrust('tls-spiffe'))
    return {issuer: leaf.issuer, verifies: cas.some((ca) => leaf.checkIssued(ca) && leaf.verify(ca.publicKey))}
  }

  it('moves the spiffe CA through every phase: trusted at init, signing from update_clients, alone at standby', async () => {
    const before = (await auth.status()).rotations.find((r) => r.type === 'spiffe')!
    expect(before).toMatchObject({phase: 'standby', trusted: [before.signing]})
    const oldSvid = await auth.issueX509Svid(admin, {path: '/svc/foo', publicKey: publicKey()})

    const init = await rotate('spiffe', 'init')
    expect(init).toMatchObject({phase: 'init', mode: 'manual', signing: before.signing})
    expect(init.trusted).toHaveLength(2)
    const next = init.trusted.find((k) => k !== before.signing)!
    expect((await auth.status()).caPins).toEqual([before.signing, next])
    // the new CA is published but does not sign
    expect(certificates(await auth.exportTrust('tls-spiffe'))).toHaveLength(2)
    const duringInit = await issueAndVerify()
    expect(duringInit.verifies).toBe(true)

    const clients = await rotate('spiffe', 'update_clients')
    expect(clients.signing).toBe(next)
    expect(clients.trusted).toEqual([next, before.signing])
    const signedByNew = await issueAndVerify()
    expect(signedByNew.verifies).toBe(true)
    expect(signedByNew.issuer).not.toBe(duringInit.issuer)
    // the SVID's bundle (svid_bundle.pem) carries both CAs until standby
    expect((await auth.issueX509Svid(admin, {path: '/svc/foo', publicKey: publicKey()})).bundle).toHaveLength(2)

    expect((await rotate('spiffe', 'update_servers')).signing).toBe(next)
    const standby = await rotate('spiffe', 'standby')
    expect(standby).toMatchObject({phase: 'standby', signing: next, trusted: [next]})
    // the old CA verifies nothing any more
    const leaf = new X509Certificate(oldSvid.certificates[0]!)
    expect(certificates(await auth.exportTrust('tls-spiffe')).some((ca) => leaf.checkIssued(ca))).toBe(false)
    expect((await issueAndVerify()).verifies).toBe(true)
    expect((await auth.status()).rotations.find((r) => r.type === 'spiffe')!.lastRotated).toBe(now.toISOString())
  })

  it('audits each phase change with the CA, both phases and the signing key', async () => {
    await rotate('jwt', 'init')
    at(1)
    await rotate('jwt', 'update_clients')
    const events = await listAuditEvents(backend, {type: 'ca.rotation'})
    expect(events.map((e) => [e.authority, e.previous_phase, e.phase, e.actor])).toEqual([
      ['jwt', 'standby', 'init', 'admin:root'],
      ['jwt', 'init', 'update_clients', 'admin:root'],
    ])
    expect(events[1]!.signing_key).toBe((await auth.status()).rotations.find((r) => r.type === 'jwt')!.signing)
  })

  it('publishes the new JWT key in the JWKS and the bundle from init, and signs with it from update_clients', async () => {
    const oldKid = (await auth.status()).jwtKeyIds[0]!
    await rotate('jwt', 'init')
    const kids = (JSON.parse(await auth.exportTrust('jwks')) as {keys: {kid: string}[]}).keys.map((k) => k.kid)
    expect(kids).toHaveLength(2)
    const bundle = JSON.parse(await auth.exportTrust('spiffe-bundle')) as {keys: {use: string; kid?: string}[]}
    expect(bundle.keys.filter((k) => k.use === 'jwt-svid').map((k) => k.kid).sort()).toEqual([...kids].sort())
    const header = (token: string) => JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as {kid: string}
    expect(header((await auth.issueJwtSvid(admin, {path: '/svc/foo', audiences: ['a']})).token).kid).toBe(oldKid)
    await rotate('jwt', 'update_clients')
    expect(header((await auth.issueJwtSvid(admin, {path: '/svc/foo', audiences: ['a']})).token).kid).not.toBe(oldKid)
  })

  it('switches the host CA signing key only at update_servers, when servers present its certificates', async () => {
    const old = (await auth.status()).rotations.find((r) => r.type === 'host')!.signing
    await rotate('host', 'init')
    expect((await rotate('host', 'update_clients')).signing).toBe(old)
    expect((await rotate('host', 'update_servers')).signing).not.toBe(old)
    expect(await auth.hostAuthorities()).toHaveLength(2)
  })

  it('rolls back: the old key signs again, and standby drops the new one', async () => {
    const old = (await auth.status()).caPins[0]!
    await rotate('spiffe', 'init')
    await rotate('spiffe', 'update_clients')
    const rollback = await rotate('spiffe', 'rollback')
    expect(rollback).toMatchObject({phase: 'rollback', mode: 'manual', signing: old})
    expect(rollback.trusted).toHaveLength(2)
    expect((await issueAndVerify()).verifies).toBe(true)
    expect(await rotate('spiffe', 'standby')).toMatchObject({phase: 'standby', signing: old, trusted: [old]})
  })

  it('refuses steps out of order, naming the phases it could move to', async () => {
    expect(await rejection(rotate('spiffe', 'update_clients'))).toMatchObject({code: 'bad_input', message: expect.stringContaining('no rotation of the spiffe CA is under way; start one with --manual --phase init')})
    expect(await rejection(rotate('spiffe', 'rollback'))).toMatchObject({code: 'bad_input'})
    await rotate('spiffe', 'init')
    expect(await rejection(rotate('spiffe', 'standby'))).toMatchObject({message: 'auth rotate: the spiffe CA is in phase init; it can move to update_clients or rollback, not standby'})
    expect(await rejection(rotate('spiffe', 'init'))).toMatchObject({code: 'bad_input'})
    expect(await rejection(auth.rotateAuthority(admin, {type: 'spiffe'}))).toMatchObject({message: expect.stringContaining('a rotation of the spiffe CA is already under way (phase init)')})
  })

  it('waits three refresh hints before a manually rotated SPIFFE or JWT key signs, unless forced', async () => {
    await rotate('jwt', 'init')
    at(14 * 60)
    expect(await rejection(rotate('jwt', 'update_clients', false))).toMatchObject({
      code: 'bad_input',
      message: expect.stringMatching(/signs from 2026-11-23T10:15:00\.000Z \(in 1m\); --force moves on now$/),
    })
    at(15 * 60)
    expect((await rotate('jwt', 'update_clients', false)).phase).toBe('update_clients')
    // the host and client CAs are not fetched by relying parties: no wait
    await rotate('client', 'init', false)
    expect((await rotate('client', 'update_clients', false)).phase).toBe('update_clients')
  })

  it('drops a SPIFFE or JWT key that signed only once no SVID it signed can be valid, unless forced', async () => {
    await rotate('spiffe', 'init')
    at(60)
    await rotate('spiffe', 'update_clients')
    await rotate('spiffe', 'update_servers')
    expect(await rejection(rotate('spiffe', 'standby', false))).toMatchObject({
      code: 'bad_input',
      message: 'auth rotate: the old spiffe key signed SVIDs until 2026-11-23T10:01:00.000Z, which may be valid until 2026-11-24T10:01:00.000Z (the cap of issuance by SPIFFE path: 24h), in 24h; standby then, or --force drops the key now and they stop verifying',
    })
    at(60 + 24 * 3600)
    expect((await rotate('spiffe', 'standby', false)).phase).toBe('standby')
    // a rollback drops the new key: it waits only if the new key signed
    await rotate('jwt', 'init')
    await rotate('jwt', 'rollback')
    expect((await rotate('jwt', 'standby', false)).phase).toBe('standby')
    await rotate('jwt', 'init')
    await rotate('jwt', 'update_clients')
    await rotate('jwt', 'rollback')
    expect(await rejection(rotate('jwt', 'standby', false))).toMatchObject({message: expect.stringContaining('the new jwt key signed SVIDs until')})
  })

  it('runs a semi-automatic rotation by its schedule, one phase at a time, each phase entered late still lasting its third', async () => {
    const started = await auth.rotateAuthority(admin, {type: 'spiffe', gracePeriodSeconds: 3 * 3600})
    expect(started).toMatchObject({phase: 'init', mode: 'semi-automatic', schedule: {update_clients: '2026-11-23T11:00:00.000Z', update_servers: '2026-11-23T12:00:00.000Z', standby: '2026-11-23T13:00:00.000Z'}})
    // a manual step is refused while the schedule runs; a rollback is not
    expect(await rejection(rotate('spiffe', 'update_clients'))).toMatchObject({message: expect.stringContaining('rotating semi-automatically')})
    expect(await advanceRotations(backend, at(3599))).toEqual([])
    expect(await advanceRotations(backend, at(3600))).toEqual(['spiffe'])
    expect((await auth.status()).rotations.find((r) => r.type === 'spiffe')!.phase).toBe('update_clients')
    // When nothing ran for two days, only the next phase is taken, and standby moves to an hour later
    expect(await advanceRotations(backend, at(2 * 86400))).toEqual(['spiffe'])
    const late = (await auth.status()).rotations.find((r) => r.type === 'spiffe')!
    expect(late).toMatchObject({phase: 'update_servers', schedule: {standby: '2026-11-25T11:00:00.000Z'}})
    expect(await advanceRotations(backend, at(2 * 86400 + 3599))).toEqual([])
    expect(await advanceRotations(backend, at(2 * 86400 + 3600))).toEqual(['spiffe'])
    const status = (await auth.status()).rotations.find((r) => r.type === 'spiffe')!
    expect(status).toMatchObject({phase: 'standby', trusted: [status.signing]})
    const events = await listAuditEvents(backend, {type: 'ca.rotation'})
    expect(events.map((e) => `${e.previous_phase}>${e.phase}:${e.actor}`)).toEqual([
      'standby>init:admin:root',
      'init>update_clients:system:rotation',
      'update_clients>update_servers:system:rotation',
      'update_servers>standby:system:rotation',
    ])
  })

  it('refuses a semi-automatic SPIFFE or JWT grace period that lets the new key sign before three default refresh hints, unless forced', async () => {
    expect(await rejection(auth.rotateAuthority(admin, {type: 'jwt', gracePeriodSeconds: 2699}))).toMatchObject({
      code: 'bad_input',
      message: 'auth rotate: with a grace period of 44m59s the new jwt key would sign after 15m, before relying parties that refresh every 300 s have fetched it three times (45m or more is safe); --force accepts it',
    })
    expect((await auth.rotateAuthority(admin, {type: 'jwt', gracePeriodSeconds: 2700})).phase).toBe('init')
    expect((await auth.rotateAuthority(admin, {type: 'client', gracePeriodSeconds: 60})).phase).toBe('init')
    for (const grace of [-5, 1.5, 365 * 86400 + 1, Number.NaN]) {
      expect(await rejection(auth.rotateAuthority(admin, {type: 'spiffe', gracePeriodSeconds: grace}))).toMatchObject({code: 'bad_input', message: expect.stringContaining('the grace period must be a whole number of seconds from 0 to 31536000')})
    }
  })

  it('reports a damaged stored rotation in one line', async () => {
    const item = (await backend.get('/authorities/spiffe'))!
    await backend.atomicWrite([], [{key: item.key, type: 'put', value: JSON.stringify({...JSON.parse(item.value), rotation: {phase: 'bogus'}})}])
    expect(await rejection(rotate('spiffe', 'rollback'))).toMatchObject({code: 'state', message: 'backend: the stored rotation of the spiffe authority is damaged'})
  })

  it('publishes a refresh hint short enough for three refreshes before a semi-automatic key signs', async () => {
    const hint = async () => (JSON.parse(await auth.exportTrust('spiffe-bundle')) as {spiffe_refresh_hint: number}).spiffe_refresh_hint
    expect(await hint()).toBe(300)
    await auth.rotateAuthority(admin, {type: 'jwt', gracePeriodSeconds: 90, force: true})
    expect(await hint()).toBe(10)
    for (const seconds of [30, 60, 90]) await advanceRotations(backend, at(seconds))
    expect(await hint()).toBe(300)
    await auth.rotateAuthority(admin, {type: 'spiffe', gracePeriodSeconds: 48 * 3600})
    expect(await hint()).toBe(300)
  })

  it('ends a semi-automatic rotation by rollback, after which standby is a manual step', async () => {
    await auth.rotateAuthority(admin, {type: 'spiffe', gracePeriodSeconds: 3600})
    expect((await rotate('spiffe', 'rollback')).mode).toBe('manual')
    expect(await advanceRotations(backend, at(7200))).toEqual([])
    expect((await rotate('spiffe', 'standby')).trusted).toHaveLength(1)
  })

  it('rotates at once with a grace period of zero: the old key is gone in the same write', async () => {
    const old = (await auth.status()).caPins[0]!
    const done = await auth.rotateAuthority(admin, {type: 'spiffe', gracePeriodSeconds: 0})
    expect(done.phase).toBe('standby')
    expect(done.trusted).toEqual([done.signing])
    expect(done.signing).not.toBe(old)
    expect((await listAuditEvents(backend, {type: 'ca.rotation'})).map((e) => e.phase)).toEqual(['init', 'update_clients', 'update_servers', 'standby'])
  })

  it('lets one of two racing schedulers make a step; the other sees it made', async () => {
    await auth.rotateAuthority(admin, {type: 'jwt', gracePeriodSeconds: 30, force: true})
    const [a, b] = await Promise.all([advanceRotations(backend, at(10)), advanceRotations(backend, at(10))])
    expect([...a, ...b]).toEqual(['jwt'])
    expect((await listAuditEvents(backend, {type: 'ca.rotation'})).map((e) => e.phase)).toEqual(['init', 'update_clients'])
  })

  it('needs update on cert_authority', async () => {
    const principal = (roles = PRESET_ROLES.filter((r) => r.metadata.name === 'access')): Principal => ({
      caller: {kind: 'user', name: 'alice'},
      description: 'user "alice"',
      actor: 'user:alice',
      attributes: {} as Principal['attributes'],
      access: new AccessChecker('user "alice"', roles),
      roles: roles.map((r) => r.metadata.name),
    })
    expect(await rejection(auth.rotateAuthority(principal(), {type: 'spiffe', phase: 'init'}))).toMatchObject({code: 'access_denied'})
    const editor = principal(PRESET_ROLES.filter((r) => r.metadata.name === 'editor'))
    expect((await auth.rotateAuthority(editor, {type: 'spiffe', phase: 'init'})).phase).toBe('init')
    expect((await listAuditEvents(backend, {type: 'ca.rotation'}))[0]!.actor).toBe('user:alice')
  })
})
