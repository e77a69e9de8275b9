/** Bots join by a delegated method and renew by proving a fresh ID token (src/lib/auth/bot-join.ts, AuthServer). */
import {generateKeyPairSync, X509Certificate} from 'node:crypto'
import {beforeAll, describe, expect, it} from 'vitest'
import {AuthServer, type Caller} from '../../../src/lib/auth/auth-server.js'
import type {BotIdentity} from '../../../src/lib/auth/bot-join.js'
import {initializeCluster} from '../../../src/lib/auth/init.js'
import {resolvePrincipal} from '../../../src/lib/auth/principal.js'
import {MemoryBackend} from '../../../src/lib/backend/memory.js'
import {hashSecret} from '../../../src/lib/crypto/secrets.js'
import type {Token} from '../../../src/lib/resources/types.js'
import {listAuditEvents} from '../../../src/lib/services/audit.js'
import {getBotInstance, putBotInstance} from '../../../src/lib/services/bot-instances.js'
import {rejection} from '../../helpers/errors.js'
import {jwksOf, signingKey, signToken, type SigningKey} from '../../helpers/oidc-issuer.js'

const admin: Caller = {kind: 'admin', name: 'root'}
const T0 = new Date('2026-11-23T10:00:00Z')
const publicKey = () => generateKeyPairSync('ec', {namedCurve: 'P-256'}).publicKey.export({type: 'spki', format: 'pem'}) as string

function callerOf(identity: BotIdentity): Caller {
  const subject = new X509Certificate(identity.certificate).subject
  const field = (name: string) => /^(\w+)=(.*)$/m.exec(subject.split('\n').find((line) => line.startsWith(`${name}=`)) ?? '')?.[2]
  return {kind: 'bot', name: field('CN')!, instanceId: field('serialNumber'), generation: Number(field('pseudonym'))}
}

describe('a bot that joined by github', () => {
  let key: SigningKey
  beforeAll(async () => {
    key = await signingKey('gh-1')
  })

  async function cluster() {
    const backend = new MemoryBackend()
    await initializeCluster(backend, {clusterName: 'example.org', defaultClusterName: 'unused', now: T0})
    const auth = await AuthServer.open(backend, () => T0)
    const {join} = await auth.addBot(admin, {name: 'ci', roles: [], tokenTtlSeconds: 3600})
    const token: Token = {
      kind: 'token',
      version: 'v2',
      metadata: {name: 'github-ci'},
      spec: {roles: ['Bot'], bot_name: 'ci', join_method: 'github', github: {static_jwks: jwksOf([key]), allow: [{repository: 'acme/app'}]}},
    }
    await auth.applyResource(admin, token, 'create')
    return {backend, auth, oneTime: join.token}
  }

  const idToken = (extra: Record<string, unknown> = {}) =>
    signToken(key, {
      iss: 'https://token.actions.githubusercontent.com',
      aud: 'example.org',
      sub: 'repo:acme/app:ref:refs/heads/main',
      repository: 'acme/app',
      run_id: '1',
      iat: T0.getTime() / 1000 - 60,
      exp: T0.getTime() / 1000 + 300,
      ...extra,
    })

  it('presents join.meta.* and join.github.* to rules and templates, and renews with a fresh token, the attributes of which replace the old', async () => {
    const {backend, auth} = await cluster()
    const joined = await auth.joinBot({method: 'github', token: 'github-ci', idToken: await idToken(), publicKey: publicKey(), address: '10.0.0.7'})
    expect((await resolvePrincipal(backend, callerOf(joined))).attributes.join).toEqual({
      meta: {join_method: 'github', join_token_name: 'github-ci'},
      github: {iss: 'https://token.actions.githubusercontent.com', aud: 'example.org', sub: 'repo:acme/app:ref:refs/heads/main', repository: 'acme/app', run_id: '1'},
    })
    const renewed = await auth.renewBot(callerOf(joined), {publicKey: publicKey(), idToken: await idToken({run_id: '2'}), address: '10.0.0.7'})
    expect(renewed).toMatchObject({instanceId: joined.instanceId, generation: 2})
    expect((await resolvePrincipal(backend, callerOf(renewed))).attributes.join?.github).toMatchObject({run_id: '2'})
    expect(await listAuditEvents(backend, {type: 'bot.renewed'})).toMatchObject([{instance: joined.instanceId, generation: 2, method: 'github', token_id: 'github-ci', rule: 0, claims: {repository: 'acme/app'}}])
  })

  it('renews only with a token for the subject it joined as, and not older than the last one proven', async () => {
    const {backend, auth} = await cluster()
    const joined = await auth.joinBot({method: 'github', token: 'github-ci', idToken: await idToken(), publicKey: publicKey(), address: '10.0.0.7'})
    // Another job of the same repository passes the token's allow rule, but is not this instance
    const otherJob = await rejection(auth.renewBot(callerOf(joined), {publicKey: publicKey(), idToken: await idToken({sub: 'repo:acme/app:environment:prod'}), address: '10.0.0.8'}))
    expect([otherJob.code, otherJob.message]).toEqual([
      'access_denied',
      `renew: the ID token is for "repo:acme/app:environment:prod", but bot instance ${joined.instanceId} joined as "repo:acme/app:ref:refs/heads/main"; join again`,
    ])
    expect(await listAuditEvents(backend, {type: 'bot.renew_failed'})).toMatchObject([{method: 'github', token_id: 'github-ci', claims: {sub: 'repo:acme/app:environment:prod'}}])
    // The same token again is fine (a Kubernetes projected token is the same for most of its life); an older one is not
    const again = await auth.renewBot(callerOf(joined), {publicKey: publicKey(), idToken: await idToken(), address: '10.0.0.7'})
    expect(again.generation).toBe(2)
    const older = await rejection(auth.renewBot(callerOf(again), {publicKey: publicKey(), idToken: await idToken({iat: T0.getTime() / 1000 - 120}), address: '10.0.0.7'}))
    expect(older.message).toBe(
      `renew: the ID token was issued at 2026-11-23T09:58:00.000Z, before the one bot instance ${joined.instanceId} last proved (2026-11-23T09:59:00.000Z); use the platform's current token`,
    )
    const noIat = await rejection(auth.renewBot(callerOf(again), {publicKey: publicKey(), idToken: await idToken({iat: undefined}), address: '10.0.0.7'}))
    expect(noIat.message).toMatch(/^renew: the ID token has no issue time \(iat\), before the one bot instance/)
    const newer = await auth.renewBot(callerOf(again), {publicKey: publicKey(), idToken: await idToken({iat: T0.getTime() / 1000}), address: '10.0.0.7'})
    expect(newer).toMatchObject({instanceId: joined.instanceId, generation: 3})
  })

  it('holds an instance that joined before subjects were kept to the subject of its join attributes', async () => {
    const {backend, auth} = await cluster()
    const joined = await auth.joinBot({method: 'github', token: 'github-ci', idToken: await idToken(), publicKey: publicKey(), address: '10.0.0.7'})
    const stored = (await getBotInstance(backend, 'ci', joined.instanceId))!
    const {joinSubject: _subject, proofIssuedAt: _iat, ...legacy} = stored.instance
    await backend.atomicWrite([], [putBotInstance(legacy)])
    const other = await rejection(auth.renewBot(callerOf(joined), {publicKey: publicKey(), idToken: await idToken({sub: 'repo:acme/app:environment:prod'}), address: '10.0.0.7'}))
    expect(other.message).toBe(`renew: the ID token is for "repo:acme/app:environment:prod", but bot instance ${joined.instanceId} joined as "repo:acme/app:ref:refs/heads/main"; join again`)
    expect((await auth.renewBot(callerOf(joined), {publicKey: publicKey(), idToken: await idToken(), address: '10.0.0.7'})).generation).toBe(2)
  })

  it('lets many jobs behind one address join at once, and bad tokens from it lock nobody out; their refusals are recorded at a bounded rate', async () => {
    const {backend, auth} = await cluster()
    const joins = await Promise.all(Array.from({length: 10}, async () => auth.joinBot({method: 'github', token: 'github-ci', idToken: await idToken(), publicKey: publicKey(), address: '10.0.0.9'})))
    expect(new Set(joins.map((j) => j.instanceId)).size).toBe(10)
    for (let i = 0; i < 40; i++) {
      const refused = await rejection(auth.joinBot({method: 'github', token: 'github-ci', idToken: 'garbage', publicKey: publicKey(), address: '10.0.0.9'}))
      expect(refused.code).toBe('access_denied')
    }
    await expect(auth.joinBot({method: 'github', token: 'github-ci', idToken: await idToken(), publicKey: publicKey(), address: '10.0.0.9'})).resolves.toMatchObject({botName: 'ci'})
    expect(await listAuditEvents(backend, {type: 'bot.join_failed'})).toHaveLength(30)
  })

  it('refuses a join with a token that names no subject', async () => {
    const {auth} = await cluster()
    const error = await rejection(auth.joinBot({method: 'github', token: 'github-ci', idToken: await idToken({sub: undefined}), publicKey: publicKey(), address: '10.0.0.7'}))
    expect([error.code, error.message]).toEqual(['access_denied', 'join: the ID token names no subject (sub); use the token as the platform issued it'])
  })

  it('is refused a renewal once its token resource is removed, and audited', async () => {
    const {backend, auth} = await cluster()
    const joined = await auth.joinBot({method: 'github', token: 'github-ci', idToken: await idToken(), publicKey: publicKey(), address: '10.0.0.7'})
    await auth.deleteResource(admin, 'token', 'github-ci')
    const error = await rejection(auth.renewBot(callerOf(joined), {publicKey: publicKey(), idToken: await idToken(), address: '10.0.0.7'}))
    expect([error.code, error.message]).toEqual(['access_denied', 'join: the cluster has no token "github-ci" (wid get token lists them)'])
    expect(await listAuditEvents(backend, {type: 'bot.renew_failed'})).toMatchObject([{actor: 'bot:ci', method: 'github', token_id: 'github-ci'}])
    expect((await auth.listBotInstances(admin, 'ci'))[0]).toMatchObject({generation: 1})
  })

  it('leaves a one-time token instance renewing as before, and refuses it an ID token', async () => {
    const {auth, oneTime} = await cluster()
    const joined = await auth.joinBot({token: oneTime, publicKey: publicKey(), address: '10.0.0.7'})
    const error = await rejection(auth.renewBot(callerOf(joined), {publicKey: publicKey(), idToken: await idToken(), address: '10.0.0.7'}))
    expect([error.code, error.message]).toEqual(['bad_input', `renew: bot instance ${joined.instanceId} joined with a one-time token; renew without an ID token`])
    expect((await auth.renewBot(callerOf(joined), {publicKey: publicKey(), address: '10.0.0.7'})).generation).toBe(2)
  })

  it('refuses a delegated join with the name of a one-time token’s stored hash', async () => {
    const {auth, oneTime} = await cluster()
    const stored = hashSecret(oneTime)
    const error = await rejection(auth.joinBot({method: 'github', token: stored, idToken: await idToken(), publicKey: publicKey(), address: '10.0.0.7'}))
    expect(error.message).toBe(`join: the cluster has no token "${stored}" (wid get token lists them)`)
  })
})
