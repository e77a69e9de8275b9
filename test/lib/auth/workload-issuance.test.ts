/**
 * Issuance with what the bot agent attested of a workload (src/lib/auth/workload-issuance.ts,
 * AuthServer.issueSvids): rules and templates over workload.unix.*, who may present it,
 * `all`, dependsOn and the audit.
 */
import {generateKeyPairSync} from 'node:crypto'
import {beforeEach, describe, expect, it} from 'vitest'
import type {WorkloadAttributes} from '../../../src/lib/auth/attributes.js'
import {AuthServer, type Caller} from '../../../src/lib/auth/auth-server.js'
import type {SvidItemResult} from '../../../src/lib/auth/bot-join.js'
import {initializeCluster} from '../../../src/lib/auth/init.js'
import {workloadDependencies} from '../../../src/lib/auth/workload-issuance.js'
import {MemoryBackend} from '../../../src/lib/backend/memory.js'
import type {Role, WorkloadIdentity} from '../../../src/lib/resources/types.js'
import {listAuditEvents} from '../../../src/lib/services/audit.js'
import {putResource} from '../../../src/lib/services/resources.js'
import {rejection} from '../../helpers/errors.js'

const admin: Caller = {kind: 'admin', name: 'root'}
const bot: Caller = {kind: 'bot', name: 'agent'}
const ann: Caller = {kind: 'user', name: 'ann'}
const NOW = new Date('2026-11-23T10:00:00Z')
const publicKey = generateKeyPairSync('ec', {namedCurve: 'P-256'}).publicKey.export({type: 'spki', format: 'pem'}) as string
const HASH = 'a'.repeat(64)

function identity(name: string, spec: Partial<WorkloadIdentity['spec']> & {id?: string}): WorkloadIdentity {
  const {id = `/svc/${name}`, ...rest} = spec
  return {kind: 'workload_identity', version: 'v1', metadata: {name, labels: {team: 'a'}}, spec: {...rest, spiffe: {id, ...rest.spiffe}}}
}

const uidIs = (value: string) => ({allow: [{conditions: [{attribute: 'workload.unix.uid', eq: {value}}]}]})
const IDENTITIES = [
  identity('per-uid', {id: '/svc/{{ workload.unix.uid }}'}),
  identity('uid-1000', {rules: uidIs('1000')}),
  identity('gid-50', {rules: {allow: [{conditions: [{attribute: 'workload.unix.gid', eq: {value: '50'}}, {attribute: 'user.bot_name', eq: {value: 'agent'}}]}]}}),
]
const ISSUER: Role = {
  kind: 'role',
  version: 'v7',
  metadata: {name: 'issuer'},
  spec: {allow: {workload_identity_labels: {team: 'a'}, rules: [{resources: ['workload_identity'], verbs: ['read', 'list']}]}},
}

const unix = (fields: Omit<NonNullable<WorkloadAttributes['unix']>, 'attested'>): WorkloadAttributes => ({unix: {attested: true, ...fields}})
const spiffeIds = (result: SvidItemResult | undefined): string[] => {
  if (!result || 'error' in result) throw new Error(`expected SVIDs, got ${JSON.stringify(result)}`)
  if ('x509s' in result) return result.x509s.map((svid) => svid.spiffeId)
  if ('jwts' in result) return result.jwts.map((svid) => svid.spiffeId)
  return ['x509' in result ? result.x509.spiffeId : result.jwt.spiffeId]
}

describe('issuing for an attested workload', () => {
  let backend: MemoryBackend
  let auth: AuthServer

  beforeEach(async () => {
    backend = new MemoryBackend()
    await initializeCluster(backend, {clusterName: 'example.org', defaultClusterName: 'unused', now: NOW})
    await backend.atomicWrite([], [...IDENTITIES.map(putResource), putResource(ISSUER)])
    auth = await AuthServer.open(backend, () => NOW)
    await auth.addBot(admin, {name: 'agent', roles: ['issuer'], tokenTtlSeconds: 3600})
    await auth.addUser(admin, {name: 'ann', roles: ['issuer'], inviteTtlSeconds: 3600})
  })

  it('evaluates each item\'s rules and templates with its own workload\'s attributes', async () => {
    // When the agent asks for the same identities for workloads of different uids and gids
    const results = await auth.issueSvids(bot, [
      {type: 'x509', name: 'uid-1000', publicKey, workload: unix({uid: 1000})},
      {type: 'x509', name: 'uid-1000', publicKey, workload: unix({uid: 1001})},
      {type: 'x509', name: 'uid-1000', publicKey},
      {type: 'jwt', name: 'per-uid', audiences: ['a'], workload: unix({uid: 33})},
      {type: 'jwt', name: 'per-uid', audiences: ['a'], workload: {unix: {attested: false}}},
      {type: 'jwt', name: 'gid-50', audiences: ['a'], workload: unix({uid: 7, gid: 50})},
    ])
    // Then uid 1000 matches its rule, uid 1001 and no workload at all do not
    expect(spiffeIds(results[0])).toEqual(['spiffe://example.org/svc/uid-1000'])
    const refusal = (failure: string) => ({error: {code: 'access_denied', message: `auth: workload identity "uid-1000": no matching rule found (allow[0]: ${failure})`}})
    expect(results[1]).toEqual(refusal('workload.unix.uid is "1001", not "1000"'))
    expect(results[2]).toEqual(refusal('workload.unix.uid is not set (the caller was not attested)'))
    // And the uid is rendered into the SPIFFE ID, or its absence refuses the identity
    expect(spiffeIds(results[3])).toEqual(['spiffe://example.org/svc/33'])
    expect(results[4]).toEqual({error: {code: 'access_denied', message: 'auth: cannot render spec.spiffe.id: attribute "workload.unix.uid" is not set'}})
    expect(spiffeIds(results[5])).toEqual(['spiffe://example.org/svc/gid-50'])
    // And each answer says which workload attributes it depends on
    expect(results.map((result) => ('dependsOn' in result ? result.dependsOn : undefined))).toEqual([
      ['workload.unix.uid'],
      undefined,
      undefined,
      ['workload.unix.uid'],
      undefined,
      ['workload.unix.gid'],
    ])
  })

  it('accepts workload attributes from a bot or the local admin only', async () => {
    const workload = unix({uid: 1000})
    // When a user presents them, alone or in a batch, by name or by path
    const message = "svid: workload attributes are accepted only from a bot agent's attestation"
    const alone = await rejection(auth.issueX509Svid(ann, {name: 'uid-1000', publicKey, workload}))
    expect([alone.code, alone.message]).toEqual(['access_denied', message])
    const batch = await auth.issueSvids(ann, [
      {type: 'jwt', name: 'per-uid', audiences: ['a'], workload},
      {type: 'x509', path: '/svc/x', publicKey, workload},
    ])
    expect(batch).toEqual([{error: {code: 'access_denied', message}}, {error: {code: 'access_denied', message}}])
    // Nor does the local admin rehearsing as the user (--as) get to
    const rehearsed = await auth.issueSvids({...ann, rehearsedBy: 'root'}, [{type: 'jwt', name: 'per-uid', audiences: ['a'], workload}])
    expect(rehearsed).toEqual([{error: {code: 'access_denied', message}}])
    // But the bot, the admin rehearsing as the bot, and the local admin may
    for (const caller of [bot, {...bot, rehearsedBy: 'root'}, admin]) {
      const [result] = await auth.issueSvids(caller, [{type: 'jwt', name: 'per-uid', audiences: ['a'], workload}])
      expect(spiffeIds(result)).toEqual(['spiffe://example.org/svc/1000'])
    }
    expect(spiffeIds({jwt: await auth.issueJwtSvid(admin, {name: 'per-uid', audiences: ['a'], workload}), dependsOn: []})).toEqual(['spiffe://example.org/svc/1000'])
  })

  it('issues every matching identity whose rules pass with all, by name', async () => {
    // When the agent asks for all identities labelled team=a, for uid 1000 in group 50
    const [x509s, jwts, uid5, none] = await auth.issueSvids(bot, [
      {type: 'x509', labels: {team: 'a'}, all: true, publicKey, workload: unix({uid: 1000, gid: 50})},
      {type: 'jwt', labels: {team: 'a'}, all: true, audiences: ['a'], workload: unix({uid: 1000, gid: 1})},
      {type: 'jwt', labels: {team: 'a'}, all: true, audiences: ['a'], workload: unix({uid: 5})},
      {type: 'jwt', labels: {team: 'a'}, all: true, audiences: ['a']},
    ])
    // Then each identity it passes is issued, sorted by name, with the attributes all three depend on
    expect(x509s).toMatchObject({x509s: [{workloadIdentity: 'gid-50'}, {workloadIdentity: 'per-uid'}, {workloadIdentity: 'uid-1000'}]})
    expect(spiffeIds(x509s)).toEqual(['spiffe://example.org/svc/gid-50', 'spiffe://example.org/svc/1000', 'spiffe://example.org/svc/uid-1000'])
    expect(spiffeIds(jwts)).toEqual(['spiffe://example.org/svc/1000', 'spiffe://example.org/svc/uid-1000'])
    expect(spiffeIds(uid5)).toEqual(['spiffe://example.org/svc/5'])
    for (const result of [x509s, jwts, uid5]) expect(result).toMatchObject({dependsOn: ['workload.unix.gid', 'workload.unix.uid']})
    // And when none can be issued, the item is refused saying why for each
    expect(none).toEqual({
      error: {
        code: 'access_denied',
        message:
          'auth: none of the workload identities labelled team=a can be issued: workload identity "gid-50": no matching rule found (allow[0]: workload.unix.gid is not set (the caller was not attested)); cannot render spec.spiffe.id: attribute "workload.unix.uid" is not set; workload identity "uid-1000": no matching rule found (allow[0]: workload.unix.uid is not set (the caller was not attested))',
      },
    })
    // Without all, the first that can be issued by name
    const [first] = await auth.issueSvids(bot, [{type: 'jwt', labels: {team: 'a'}, audiences: ['a'], workload: unix({uid: 1000})}])
    expect(first).toMatchObject({jwt: {workloadIdentity: 'per-uid'}, dependsOn: ['workload.unix.gid', 'workload.unix.uid']})
  })

  it('refuses all without labels as bad input', async () => {
    const message = 'svid: "all" applies to a labels selector only'
    expect(await auth.issueSvids(bot, [{type: 'x509', name: 'per-uid', all: true, publicKey}, {type: 'jwt', path: '/svc/a', all: true, audiences: ['a']}])).toEqual([
      {error: {code: 'bad_input', message}},
      {error: {code: 'bad_input', message}},
    ])
  })

  it('answers dependsOn [] by path and for identities that refer to no workload attribute', async () => {
    await backend.atomicWrite([], [putResource({...identity('static', {}), metadata: {name: 'static', labels: {team: 'b'}}})])
    const [byPath, byName] = await auth.issueSvids(admin, [
      {type: 'x509', path: '/svc/p', publicKey, workload: unix({uid: 1})},
      {type: 'jwt', name: 'static', audiences: ['a'], workload: unix({uid: 1})},
    ])
    expect(byPath).toMatchObject({x509: {spiffeId: 'spiffe://example.org/svc/p'}, dependsOn: []})
    expect(byName).toMatchObject({jwt: {spiffeId: 'spiffe://example.org/svc/static'}, dependsOn: []})
  })

  it('audits the workload attributes with each SVID issued for them', async () => {
    const workload: WorkloadAttributes = {unix: {attested: true, pid: 4242, uid: 1000, gid: 50, binary_path: '/usr/bin/app', binary_hash: HASH}}
    await auth.issueSvids(bot, [{type: 'x509', labels: {team: 'a'}, all: true, publicKey, workload}])
    await auth.issueJwtSvid(admin, {path: '/svc/uid-1000', audiences: ['a']})
    const events = (await listAuditEvents(backend, {type: 'svid.issued'})).sort((a, b) => `${a.svid_type}${a.workload_identity}`.localeCompare(`${b.svid_type}${b.workload_identity}`))
    expect(events.map((event) => [event.svid_type, event.workload_identity, event.workload])).toEqual([
      ['jwt', undefined, undefined],
      ['x509', 'gid-50', workload],
      ['x509', 'per-uid', workload],
      ['x509', 'uid-1000', workload],
    ])
  })
})

describe('workloadDependencies', () => {
  it('names the workload attributes of the rules and of the templates an SVID of the type renders, sorted, each once', () => {
    const wi = identity('mixed', {
      id: '/svc/{{ user.name }}/{{ workload.unix.uid }}',
      rules: {allow: [{conditions: [{attribute: 'workload.unix.uid', not_eq: {value: '0'}}, {attribute: 'user.traits["team-name"]', eq: {value: 'x'}}]}, {conditions: [{attribute: 'workload.unix.attested', eq: {value: 'true'}}]}]},
      spiffe: {
        id: '/svc/{{ user.name }}/{{ workload.unix.uid }}',
        hint: '{{ workload.unix.pid }}',
        x509: {dns_sans: ['{{ workload.unix.gid }}.example.com'], subject_template: {common_name: '{{ workload.unix.binary_path }}'}},
        jwt: {extra_claims: {binary: {hash: ['{{ workload.unix.binary_hash }}']}, n: 1}},
      },
    })
    expect(workloadDependencies([wi], 'x509')).toEqual(['workload.unix.attested', 'workload.unix.binary_path', 'workload.unix.gid', 'workload.unix.pid', 'workload.unix.uid'])
    expect(workloadDependencies([wi], 'jwt')).toEqual(['workload.unix.attested', 'workload.unix.binary_hash', 'workload.unix.pid', 'workload.unix.uid'])
    expect(workloadDependencies([identity('plain', {}), identity('gid', {rules: {allow: [{conditions: [{attribute: 'workload.unix.gid', in: {values: ['1']}}]}]}}), wi], 'jwt')).toEqual([
      'workload.unix.attested',
      'workload.unix.binary_hash',
      'workload.unix.gid',
      'workload.unix.pid',
      'workload.unix.uid',
    ])
    expect(workloadDependencies([identity('plain', {})], 'x509')).toEqual([])
  })
})
