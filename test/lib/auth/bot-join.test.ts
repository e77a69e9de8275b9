/** Bots join with a one-time token, renew by generation, and issue SVIDs in batches (src/lib/auth/bot-join.ts, AuthServer). */
import {generateKeyPairSync, X509Certificate} from 'node:crypto'
import {describe, expect, it} from 'vitest'
import {AuthServer, type Caller} from '../../../src/lib/auth/auth-server.js'
import type {BotIdentity} from '../../../src/lib/auth/bot-join.js'
import {initializeCluster} from '../../../src/lib/auth/init.js'
import {resolvePrincipal} from '../../../src/lib/auth/principal.js'
import {MemoryBackend} from '../../../src/lib/backend/memory.js'
import {hashSecret} from '../../../src/lib/crypto/secrets.js'
import type {Role, WorkloadIdentity} from '../../../src/lib/resources/types.js'
import {listAuditEvents} from '../../../src/lib/services/audit.js'
import {putResource, resourceKey} from '../../../src/lib/services/resources.js'
import {rejection} from '../../helpers/errors.js'

const admin: Caller = {kind: 'admin', name: 'root'}
const T0 = new Date('2026-11-23T10:00:00Z')
const UNKNOWN = 'join: the token is not known to the cluster (it may have been used already, or removed)'
const publicKey = () => generateKeyPairSync('ec', {namedCurve: 'P-256'}).publicKey.export({type: 'spki', format: 'pem'}) as string

const IDENTITY: WorkloadIdentity = {kind: 'workload_identity', version: 'v1', metadata: {name: 'web', labels: {app: 'web'}}, spec: {spiffe: {id: '/svc/web'}}}
const ISSUER: Role = {
  kind: 'role',
  version: 'v7',
  metadata: {name: 'issuer'},
  spec: {allow: {workload_identity_labels: {app: 'web'}, rules: [{resources: ['workload_identity'], verbs: ['read', 'list']}]}},
}

/** A cluster with the bot my-bot (role issuer) and its join token, on a clock the test moves. */
async function cluster() {
  const backend = new MemoryBackend()
  await initializeCluster(backend, {clusterName: 'example.org', defaultClusterName: 'unused', now: T0})
  await backend.atomicWrite([], [putResource(IDENTITY), putResource(ISSUER)])
  const clock = {now: T0}
  const auth = await AuthServer.open(backend, () => clock.now)
  const {join} = await auth.addBot(admin, {name: 'my-bot', roles: ['issuer'], tokenTtlSeconds: 3600})
  return {backend, auth, clock, token: join.token}
}

/** The caller a bot's certificate names, as the server reads it. */
function callerOf(identity: BotIdentity): Caller {
  const subject = new X509Certificate(identity.certificate).subject
  const field = (name: string) => /^(\w+)=(.*)$/m.exec(subject.split('\n').find((line) => line.startsWith(`${name}=`)) ?? '')?.[2]
  return {kind: 'bot', name: field('CN')!, instanceId: field('serialNumber'), generation: Number(field('pseudonym'))}
}

describe('joining with a one-time token', () => {
  it('makes an instance of generation 1 with a certificate naming it, deletes the token in the same write, and audits it', async () => {
    // Given the bot's token
    const {backend, auth, token} = await cluster()
    const key = publicKey()
    // When the bot joins with it from 10.0.0.7
    const identity = await auth.joinBot({token, publicKey: key, address: '10.0.0.7'})
    // Then it is instance <id>, generation 1, with a client certificate for its key
    expect(identity).toMatchObject({botName: 'my-bot', generation: 1, clusterName: 'example.org', notAfter: '2026-11-23T11:00:00.000Z'})
    expect(identity.instanceId).toMatch(/^[0-9a-f]{32}$/)
    const certificate = new X509Certificate(identity.certificate)
    expect(certificate.subject).toBe(`OU=bot\nCN=my-bot\nserialNumber=${identity.instanceId}\npseudonym=1`)
    expect(certificate.publicKey.export({type: 'spki', format: 'pem'})).toBe(key)
    expect(certificate.verify(new X509Certificate((await auth.clientAuthorities())[0]!).publicKey)).toBe(true)
    expect(identity.hostAuthorities).toEqual(await auth.hostAuthorities())
    // And the instance is stored, the token gone, and the join audited with the token's id
    const tokenId = hashSecret(token).slice(0, 16)
    expect(await auth.listBotInstances(admin)).toEqual([
      {bot: 'my-bot', id: identity.instanceId, joinMethod: 'token', tokenId, created: T0.toISOString(), lastSeen: T0.toISOString(), generation: 1, address: '10.0.0.7'},
    ])
    expect(await auth.listResources(admin, 'token')).toEqual([])
    const [joined] = await listAuditEvents(backend, {type: 'bot.joined'})
    expect(joined).toEqual({time: T0.toISOString(), type: 'bot.joined', actor: 'bot:my-bot', kind: 'bot', name: 'my-bot', instance: identity.instanceId, token_id: tokenId, address: '10.0.0.7'})
    // And the instance's calls see how it joined
    expect((await resolvePrincipal(backend, callerOf(identity))).attributes.join).toEqual({meta: {join_method: 'token', join_token_name: tokenId}})
  })

  it('refuses the token a second time, as one the cluster does not know', async () => {
    const {auth, token} = await cluster()
    await auth.joinBot({token, publicKey: publicKey(), address: '10.0.0.7'})
    const again = await rejection(auth.joinBot({token, publicKey: publicKey(), address: '10.0.0.8'}))
    expect([again.code, again.message]).toEqual(['access_denied', UNKNOWN])
  })

  it('gives exactly one instance when joins race with one token', async () => {
    // Given five joins at once with one token, from five addresses
    const {auth, token} = await cluster()
    const results = await Promise.allSettled([1, 2, 3, 4, 5].map((n) => auth.joinBot({token, publicKey: publicKey(), address: `10.0.0.${n}`})))
    // Then one succeeds, the others are told the token is not known, and there is one instance
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
    expect(results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []))).toEqual(Array(4).fill(UNKNOWN))
    expect(await auth.listBotInstances(admin)).toHaveLength(1)
  })

  it('refuses an unknown token, an expired one (naming its id and expiry) and one whose bot was removed', async () => {
    const {backend, auth, clock, token} = await cluster()
    const unknown = await rejection(auth.joinBot({token: 'f'.repeat(32), publicKey: publicKey(), address: '10.0.0.1'}))
    expect([unknown.code, unknown.message]).toEqual(['access_denied', UNKNOWN])
    // When the clock passes the token's expiry
    clock.now = new Date(T0.getTime() + 3600_000)
    const expired = await rejection(auth.joinBot({token, publicKey: publicKey(), address: '10.0.0.1'}))
    expect([expired.code, expired.message]).toEqual(['access_denied', `join: the token ${hashSecret(token).slice(0, 16)} expired at 2026-11-23T11:00:00.000Z`])
    // And a token whose bot is gone (removed behind the token's back)
    clock.now = T0
    await backend.atomicWrite([], [{key: resourceKey('bot', 'my-bot'), type: 'delete'}])
    const removed = await rejection(auth.joinBot({token, publicKey: publicKey(), address: '10.0.0.1'}))
    expect([removed.code, removed.message]).toEqual(['access_denied', `join: the bot "my-bot" of the token ${hashSecret(token).slice(0, 16)} was removed`])
    expect(await auth.listBotInstances(admin)).toEqual([])
    // And each refusal is in the audit log, with the address it came from
    const failed = (await listAuditEvents(backend, {type: 'bot.join_failed'})).map((e) => `${e.actor} ${e.reason}`)
    expect(failed.sort()).toEqual([UNKNOWN, expired.message, removed.message].map((reason) => `address:10.0.0.1 ${reason}`).sort())
  })

  it('refuses a bad public key before it looks at the token, which stays usable', async () => {
    const {auth, token} = await cluster()
    const bad = await rejection(auth.joinBot({token, publicKey: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n', address: '10.0.0.1'}))
    expect([bad.code, bad.message]).toEqual(['bad_input', 'crypto: invalid public key: not a DER SubjectPublicKeyInfo'])
    const tooLong = await rejection(auth.joinBot({token, publicKey: publicKey(), ttlSeconds: 25 * 3600, address: '10.0.0.1'}))
    expect([tooLong.code, tooLong.message]).toEqual(['bad_input', 'svid: requested TTL 25h exceeds the maximum of 24h'])
    expect((await auth.joinBot({token, publicKey: publicKey(), address: '10.0.0.1'})).generation).toBe(1)
  })

  it('throttles a flood of guessed tokens per address, with the logins: the 21st attempt is refused even with the right token', async () => {
    const {auth, token} = await cluster()
    for (let i = 0; i < 20; i++) await rejection(auth.joinBot({token: `guess-${i}`, publicKey: publicKey(), address: '192.0.2.9'}))
    const refused = await rejection(auth.joinBot({token, publicKey: publicKey(), address: '192.0.2.9'}))
    expect([refused.code, refused.message]).toEqual(['access_denied', 'auth: too many failed logins and joins from this address; try again in 15 min'])
    // And another address joins with it
    expect((await auth.joinBot({token, publicKey: publicKey(), address: '192.0.2.10'})).generation).toBe(1)
  })
})

describe('renewing a bot identity', () => {
  it('moves the generation on by one, with a new certificate, lastSeen and an audit event', async () => {
    const {backend, auth, clock, token} = await cluster()
    const joined = await auth.joinBot({token, publicKey: publicKey(), address: '10.0.0.7'})
    // When the bot renews 20 minutes later for 2h
    clock.now = new Date(T0.getTime() + 20 * 60_000)
    const key = publicKey()
    const renewed = await auth.renewBot(callerOf(joined), {publicKey: key, ttlSeconds: 7200, address: '10.0.0.7'})
    // Then it is generation 2, in the certificate too
    expect(renewed).toMatchObject({botName: 'my-bot', instanceId: joined.instanceId, generation: 2, notAfter: '2026-11-23T12:20:00.000Z'})
    expect(callerOf(renewed)).toEqual({kind: 'bot', name: 'my-bot', instanceId: joined.instanceId, generation: 2})
    expect(new X509Certificate(renewed.certificate).publicKey.export({type: 'spki', format: 'pem'})).toBe(key)
    expect(await auth.listBotInstances(admin, 'my-bot')).toMatchObject([{generation: 2, lastSeen: clock.now.toISOString(), created: T0.toISOString()}])
    expect(await listAuditEvents(backend, {type: 'bot.renewed'})).toEqual([
      {time: clock.now.toISOString(), type: 'bot.renewed', actor: 'bot:my-bot', kind: 'bot', name: 'my-bot', instance: joined.instanceId, generation: 2, address: '10.0.0.7'},
    ])
    // And it renews again from there
    expect((await auth.renewBot(callerOf(renewed), {publicKey: publicKey(), address: '10.0.0.7'})).generation).toBe(3)
  })

  it('locks the instance when a copy presents an older generation: both copies are refused from then on, and it is audited', async () => {
    // Given an identity copied at generation 1, and the original renewed to generation 2
    const {backend, auth, token} = await cluster()
    const copied = await auth.joinBot({token, publicKey: publicKey(), address: '10.0.0.7'})
    const original = await auth.renewBot(callerOf(copied), {publicKey: publicKey(), address: '10.0.0.7'})
    // When the copy renews from another place
    const locked = await rejection(auth.renewBot(callerOf(copied), {publicKey: publicKey(), address: '198.51.100.3'}))
    // Then it is refused as locked, saying why and what to do
    const id = copied.instanceId
    const message = `auth: bot instance ${id} of bot "my-bot" is locked: its identity was used from two places (generation 1 presented, 2 expected); remove it (wid bots instances rm my-bot/${id}) and join again`
    expect([locked.code, locked.message]).toEqual(['access_denied', message])
    // And the original is refused too, for renewals and every other call
    const originalRenewal = await rejection(auth.renewBot(callerOf(original), {publicKey: publicKey(), address: '10.0.0.7'}))
    expect([originalRenewal.code, originalRenewal.message]).toEqual(['access_denied', message])
    expect((await rejection(resolvePrincipal(backend, callerOf(original)))).message).toBe(message)
    expect((await rejection(auth.issueX509Svid(callerOf(copied), {name: 'web', publicKey: publicKey()}))).message).toBe(message)
    // And the lock is stored and audited
    expect(await auth.listBotInstances(admin)).toMatchObject([{generation: 2, locked: {at: T0.toISOString(), reason: 'its identity was used from two places (generation 1 presented, 2 expected)'}}])
    expect(await listAuditEvents(backend, {type: 'bot.instance_locked'})).toEqual([
      {time: T0.toISOString(), type: 'bot.instance_locked', actor: 'bot:my-bot', kind: 'bot', name: 'my-bot', instance: id, presented: 1, expected: 2, address: '198.51.100.3'},
    ])
  })

  it('answers a renewal again when its answer was lost, for the same key only: a retry is no copy', async () => {
    // Given a renewal to generation 2 whose answer never reached the bot (a dropped connection, a server killed after its write)
    const {backend, auth, token} = await cluster()
    const joined = await auth.joinBot({token, publicKey: publicKey(), address: '10.0.0.7'})
    const key = publicKey()
    const lost = await auth.renewBot(callerOf(joined), {publicKey: key, address: '10.0.0.7'})
    // When the bot asks again, still with its generation 1 certificate, for the same key
    const again = await auth.renewBot(callerOf(joined), {publicKey: key, address: '10.0.0.7'})
    // Then it gets generation 2 for that key, and the instance is not locked
    expect(again).toMatchObject({instanceId: joined.instanceId, generation: 2})
    expect(new X509Certificate(again.certificate).publicKey.export({type: 'spki', format: 'pem'})).toBe(key)
    expect(await auth.listBotInstances(admin)).toMatchObject([{generation: 2}])
    expect((await auth.listBotInstances(admin))[0]!.locked).toBeUndefined()
    expect((await listAuditEvents(backend, {type: 'bot.renewed'})).map((e) => `generation ${e.generation}${(e as {repeated?: boolean}).repeated ? ', repeated' : ''}`).sort()).toEqual(['generation 2', 'generation 2, repeated'])
    // And it goes on from generation 2 (either certificate of it)
    expect((await auth.renewBot(callerOf(lost), {publicKey: publicKey(), address: '10.0.0.7'})).generation).toBe(3)
    // But generation 1 with another key is a copy: the instance is locked
    const copy = await rejection(auth.renewBot(callerOf(joined), {publicKey: publicKey(), address: '198.51.100.3'}))
    expect(copy.message).toContain('is locked: its identity was used from two places (generation 1 presented, 3 expected)')
  })

  it('locks the instance when a copy asks again for the key of the last renewal (a retry is for the generation just before only)', async () => {
    const {auth, token} = await cluster()
    const joined = await auth.joinBot({token, publicKey: publicKey(), address: '10.0.0.7'})
    const key = publicKey()
    const second = await auth.renewBot(callerOf(joined), {publicKey: key, address: '10.0.0.7'})
    await auth.renewBot(callerOf(second), {publicKey: key, address: '10.0.0.7'})
    // generation 1 presented, 3 expected: not the renewal just made, whatever the key
    const copy = await rejection(auth.renewBot(callerOf(joined), {publicKey: key, address: '198.51.100.3'}))
    expect(copy.message).toContain('is locked: its identity was used from two places (generation 1 presented, 3 expected)')
  })

  it('locks the instance when two copies renew the same generation at once', async () => {
    const {auth, token} = await cluster()
    const joined = await auth.joinBot({token, publicKey: publicKey(), address: '10.0.0.7'})
    const results = await Promise.allSettled([auth.renewBot(callerOf(joined), {publicKey: publicKey(), address: '10.0.0.7'}), auth.renewBot(callerOf(joined), {publicKey: publicKey(), address: '10.0.0.8'})])
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected'])
    expect(await auth.listBotInstances(admin)).toMatchObject([{generation: 2, locked: {reason: 'its identity was used from two places (generation 1 presented, 2 expected)'}}])
  })

  it('is for bot instances only', async () => {
    const {auth} = await cluster()
    await auth.addUser(admin, {name: 'alice', roles: ['access'], inviteTtlSeconds: 3600})
    const callers: Caller[] = [admin, {kind: 'user', name: 'alice'}, {kind: 'bot', name: 'my-bot'}, {kind: 'bot', name: 'my-bot', rehearsedBy: 'root'}]
    for (const caller of callers) {
      const refused = await rejection(auth.renewBot(caller, {publicKey: publicKey(), address: '10.0.0.7'}))
      expect([refused.code, refused.message]).toEqual(['access_denied', 'renew: only a bot renews its identity'])
    }
  })
})

describe('removing bot instances', () => {
  it('refuses a removed instance, with how to go on', async () => {
    const {backend, auth, token} = await cluster()
    const joined = await auth.joinBot({token, publicKey: publicKey(), address: '10.0.0.7'})
    await auth.deleteBotInstance(admin, 'my-bot', joined.instanceId)
    const message = `auth: bot instance ${joined.instanceId} of bot "my-bot" was removed; join again (with a new token; a bot that joins by a delegated method proves a fresh ID token)`
    expect((await rejection(resolvePrincipal(backend, callerOf(joined)))).message).toBe(message)
    expect((await rejection(auth.renewBot(callerOf(joined), {publicKey: publicKey(), address: '10.0.0.7'}))).message).toBe(message)
    expect(await listAuditEvents(backend, {type: 'bot.instance_removed'})).toEqual([
      {time: T0.toISOString(), type: 'bot.instance_removed', actor: 'admin:root', kind: 'bot', name: 'my-bot', instance: joined.instanceId},
    ])
    // And removing it again, or an id that is not one, says so
    const again = await rejection(auth.deleteBotInstance(admin, 'my-bot', joined.instanceId))
    expect([again.code, again.message]).toEqual(['not_found', `bot instance ${joined.instanceId} of bot "my-bot" not found`])
    const bad = await rejection(auth.deleteBotInstance(admin, 'my-bot', '../x'))
    expect([bad.code, bad.message]).toEqual(['bad_input', 'bots: "../x" is not a bot instance id: ids are 32 lowercase hex digits (wid bots instances ls shows them)'])
  })

  it('removes a bot with its instances', async () => {
    const {backend, auth, token} = await cluster()
    const joined = await auth.joinBot({token, publicKey: publicKey(), address: '10.0.0.7'})
    await auth.deleteResource(admin, 'bot', 'my-bot')
    expect(await auth.listBotInstances(admin)).toEqual([])
    expect((await listAuditEvents(backend, {type: 'bot.instance_removed'})).map((e) => e.instance)).toEqual([joined.instanceId])
    // And a bot added again under the name does not revive the old instance
    await auth.addBot(admin, {name: 'my-bot', roles: ['issuer'], tokenTtlSeconds: 3600})
    expect((await rejection(resolvePrincipal(backend, callerOf(joined)))).message).toMatch(/was removed; join again/)
    const missing = await rejection(auth.listBotInstances(admin, 'other-bot'))
    expect([missing.code, missing.message]).toEqual(['not_found', 'bot "other-bot" not found'])
  })

  it('lists and removes instances under the rule resource bot_instance', async () => {
    const {backend, auth, token} = await cluster()
    const joined = await auth.joinBot({token, publicKey: publicKey(), address: '10.0.0.7'})
    await auth.addUser(admin, {name: 'ed', roles: ['editor'], inviteTtlSeconds: 3600})
    await auth.addUser(admin, {name: 'ann', roles: ['access'], inviteTtlSeconds: 3600})
    const ann = await resolvePrincipal(backend, {kind: 'user', name: 'ann'})
    const listing = await rejection(auth.listBotInstances(ann))
    expect([listing.code, listing.message]).toEqual(['access_denied', 'auth: user "ann" is not allowed to list bot_instance (no role allows it)'])
    const removal = await rejection(auth.deleteBotInstance(ann, 'my-bot', joined.instanceId))
    expect(removal.message).toBe('auth: user "ann" is not allowed to delete bot_instance (no role allows it)')
    // The preset editor may
    const ed = await resolvePrincipal(backend, {kind: 'user', name: 'ed'})
    expect(await auth.listBotInstances(ed)).toHaveLength(1)
    await auth.deleteBotInstance(ed, 'my-bot', joined.instanceId)
    expect(await auth.listBotInstances(ed)).toEqual([])
  })
})

describe('issuing SVIDs in batches', () => {
  it('answers each item in order, a refused item as its error only, and audits each issuance as alone', async () => {
    const {backend, auth, token} = await cluster()
    const bot = callerOf(await auth.joinBot({token, publicKey: publicKey(), address: '10.0.0.7'}))
    const refusedAlone = await rejection(auth.issueX509Svid(bot, {path: '/svc/other', publicKey: publicKey()}))
    // When the bot asks for an X.509-SVID, one by a path it may not use, and a JWT-SVID
    const results = await auth.issueSvids(bot, [
      {type: 'x509', name: 'web', publicKey: publicKey(), ttlSeconds: 600},
      {type: 'x509', path: '/svc/other', publicKey: publicKey()},
      {type: 'jwt', name: 'web', audiences: ['sts.amazonaws.com']},
    ])
    // Then the first and last are issued, and the second refused exactly as alone
    expect(results).toHaveLength(3)
    const [x509, refused, jwt] = results
    expect(x509).toMatchObject({x509: {spiffeId: 'spiffe://example.org/svc/web', workloadIdentity: 'web'}})
    expect(refused).toEqual({error: {code: refusedAlone.code, message: refusedAlone.message}})
    expect(jwt).toMatchObject({jwt: {spiffeId: 'spiffe://example.org/svc/web', audiences: ['sts.amazonaws.com']}})
    // And each issuance is audited as the single methods audit it
    const issued = (await listAuditEvents(backend, {type: 'svid.issued'})).sort((a, b) => a.svid_type!.localeCompare(b.svid_type!))
    expect(issued.map((e) => [e.actor, e.svid_type, e.spiffe_id, e.workload_identity])).toEqual([
      ['bot:my-bot', 'jwt', 'spiffe://example.org/svc/web', 'web'],
      ['bot:my-bot', 'x509', 'spiffe://example.org/svc/web', 'web'],
    ])
    expect(issued[1]!.serial).toBe((x509 as {x509: {serial: string}}).x509.serial)
  })

  it('refuses the whole batch when the caller itself is refused', async () => {
    const {auth} = await cluster()
    const refused = await rejection(auth.issueSvids({kind: 'bot', name: 'gone'}, [{type: 'jwt', name: 'web', audiences: ['a']}]))
    expect([refused.code, refused.message]).toEqual(['access_denied', 'auth: bot "gone" does not exist'])
  })
})
