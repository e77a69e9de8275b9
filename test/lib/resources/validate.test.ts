import {generateKeyPairSync} from 'node:crypto'
import {describe, expect, it} from 'vitest'
import {AuthServer, type Caller} from '../../../src/lib/auth/auth-server.js'
import {initializeCluster} from '../../../src/lib/auth/init.js'
import {MemoryBackend} from '../../../src/lib/backend/memory.js'
import {checkResource, MAX_NESTING, readResources} from '../../../src/lib/resources/validate.js'
import type {Resource} from '../../../src/lib/resources/types.js'
import {rejection} from '../../helpers/errors.js'

const admin: Caller = {kind: 'admin', name: 'root'}

/** The seed document's rule as written: a YAML number where the value is compared as a string. */
const UID_RULE = `kind: workload_identity
version: v1
metadata:
  name: uid-1000
  labels: {tier: 2, canary: true}
spec:
  rules:
    allow:
      - conditions:
          - attribute: user.traits.uid
            eq: {value: 1000}
          - attribute: user.traits.shell
            not_in: {values: [false, 0]}
  spiffe:
    id: /svc/uid-1000
`

function nested(depth: number): unknown {
  let value: unknown = 'leaf'
  for (let i = 0; i < depth; i++) value = {a: value}
  return value
}

const publicKey = () => generateKeyPairSync('ec', {namedCurve: 'P-256'}).publicKey.export({type: 'spki', format: 'pem'}) as string

describe('values compared as strings may be YAML numbers and booleans (issue 10 item 16)', () => {
  it('accepts eq/in values, labels, label selectors and traits written as numbers or booleans, as their text', async () => {
    // Given the documents' rule values, labels, a role selector and traits as YAML scalars
    const role = `kind: role\nversion: v7\nmetadata: {name: r}\nspec:\n  allow:\n    workload_identity_labels: {tier: 2, canary: [true, 1]}\n`
    const user = `kind: user\nversion: v2\nmetadata: {name: u}\nspec:\n  roles: []\n  traits: {uid: [1000]}\n`
    const bot = `kind: bot\nversion: v1\nmetadata: {name: b}\nspec:\n  roles: []\n  traits: [{name: uid, values: [1000, true]}]\n`
    // When they are read
    // (plain JSON from here: the fields differ by kind)
    const [wi, r, u, b] = JSON.parse(JSON.stringify((await readResources([UID_RULE, role, user, bot].join('---\n'), 'seed.yaml')).map((c) => c.resource)))
    // Then each value is its text
    expect(wi!.metadata.labels).toEqual({tier: '2', canary: 'true'})
    expect(wi!.spec.rules.allow[0].conditions).toEqual([
      {attribute: 'user.traits.uid', eq: {value: '1000'}},
      {attribute: 'user.traits.shell', not_in: {values: ['false', '0']}},
    ])
    expect(r!.spec.allow.workload_identity_labels).toEqual({tier: '2', canary: ['true', '1']})
    expect(u!.spec.traits).toEqual({uid: ['1000']})
    expect(b!.spec.traits).toEqual([{name: 'uid', values: ['1000', 'true']}])
  })

  it('still refuses other types there, naming the field', async () => {
    const bad = UID_RULE.replace('eq: {value: 1000}', 'eq: {value: [1000]}')
    const error = await rejection(readResources(bad, 'seed.yaml'))
    expect(error.message).toBe('seed.yaml:11:25: spec.rules.allow[0].conditions[0].eq.value: must be a string, a number or true/false')
  })

  it('a remote client that sends numbers gets them stored as strings, and the rule compares them as strings', async () => {
    // Given a cluster, and a workload identity sent as JSON with numbers (not through the CLI's reader)
    const backend = new MemoryBackend()
    await initializeCluster(backend, {clusterName: 'example.org', defaultClusterName: 'unused', now: new Date()})
    const auth = await AuthServer.open(backend)
    const [document] = await readResources(UID_RULE, 'seed.yaml')
    const raw = JSON.parse(JSON.stringify(document!.resource).replace('"1000"', '1000')) as Resource
    expect(JSON.stringify(raw)).toContain('"value":1000')
    // When it is applied, and users with uid trait 1000 and 1001 ask for it
    await auth.applyResource(admin, raw, 'create')
    const stored = (await auth.getResource(admin, 'workload_identity', 'uid-1000')) as Resource & {spec: {rules: {allow: {conditions: {eq?: {value: unknown}}[]}[]}}}
    expect(stored.spec.rules.allow[0]!.conditions[0]!.eq!.value).toBe('1000')
    await auth.applyResource(admin, {kind: 'role', version: 'v7', metadata: {name: 'use'}, spec: {allow: {workload_identity_labels: {'*': '*'}, rules: [{resources: ['workload_identity'], verbs: ['read']}]}}}, 'create')
    for (const [name, uid] of [['one', 1000], ['other', 1001]] as const) {
      await auth.applyResource(admin, {kind: 'user', version: 'v2', metadata: {name}, spec: {roles: ['use'], traits: {uid: [uid as never]}}}, 'create')
    }
    // Then 1000 is allowed and 1001 refused
    const svid = await auth.issueX509Svid({kind: 'user', name: 'one'}, {name: 'uid-1000', publicKey: publicKey()})
    expect(svid.spiffeId).toBe('spiffe://example.org/svc/uid-1000')
    const refused = await rejection(auth.issueX509Svid({kind: 'user', name: 'other'}, {name: 'uid-1000', publicKey: publicKey()}))
    expect(refused.message).toMatch(/no matching rule found \(allow\[0\]: user\.traits\.uid is "1001", not "1000"\)/)
  })
})

describe('resource shape limits (issue 10 item 6)', () => {
  const deepIdentity = (depth: number): Resource =>
    ({kind: 'workload_identity', version: 'v1', metadata: {name: 'deep'}, spec: {spiffe: {id: '/svc/deep', jwt: {extra_claims: {deep: nested(depth)}}}}}) as Resource

  it(`refuses nesting deeper than ${MAX_NESTING} levels in any field, at apply time`, async () => {
    // Given extra_claims nested 2,000 deep, sent as a remote client would (no YAML reader on the way)
    const backend = new MemoryBackend()
    await initializeCluster(backend, {clusterName: 'example.org', defaultClusterName: 'unused', now: new Date()})
    const auth = await AuthServer.open(backend)
    // When it is applied
    const error = await rejection(auth.applyResource(admin, deepIdentity(2000), 'create'))
    // Then it is refused before anything is stored, and JWT issuance and reads keep working for everyone
    expect(error.code).toBe('bad_input')
    expect(error.message).toBe(`spec.spiffe.jwt.extra_claims.deep.a.a.a…: nested deeper than ${MAX_NESTING} levels`)
    expect(await auth.listResources(admin, 'workload_identity')).toEqual([])
    // And a sane depth is fine
    await auth.applyResource(admin, deepIdentity(10), 'create')
    const jwt = await auth.issueJwtSvid(admin, {name: 'deep', audiences: ['a']})
    expect(JSON.parse(Buffer.from(jwt.token.split('.')[1]!, 'base64url').toString()).deep.a.a).toBeDefined()
  })

  it('refuses a status block on kinds that have none, and ignores one on users and tokens', async () => {
    const role = {kind: 'role', version: 'v7', metadata: {name: 'r'}, spec: {}, status: {anything: true}} as unknown as Resource
    expect((await rejection(checkResource(role))).message).toBe('status: unknown field (allowed: kind, version, metadata, spec)')
    const wi = {kind: 'workload_identity', version: 'v1', metadata: {name: 'w'}, spec: {spiffe: {id: '/w'}}, status: {}} as unknown as Resource
    expect((await rejection(checkResource(wi))).message).toMatch(/^status: unknown field/)
    const user = {kind: 'user', version: 'v2', metadata: {name: 'u'}, spec: {roles: []}, status: {password_hash: 'scrypt$…'}} as unknown as Resource
    expect(await checkResource(user)).toEqual({kind: 'user', version: 'v2', metadata: {name: 'u'}, spec: {roles: []}})
  })
})

describe('role regular expressions (review item: ReDoS)', () => {
  it('refuses an invalid or catastrophically backtracking ^regex$ at file:line:col, in allow and deny, labels and spiffe paths', async () => {
    // Given roles whose label values and spiffe paths are regular expressions that can backtrack catastrophically
    const role = (conditions: string) => `kind: role\nversion: v7\nmetadata: {name: r}\nspec:\n${conditions}`
    // When each is read, Then it is refused at the pattern, naming the field and the construct
    expect((await rejection(readResources(role('  allow:\n    workload_identity_labels: {env: "^(a+)+$"}\n'), 'r.yaml'))).message).toBe(
      'r.yaml:6:37: spec.allow.workload_identity_labels.env: regular expression "^(a+)+$" can backtrack catastrophically (a repeated group contains a quantifier: (a+)+)',
    )
    expect((await rejection(readResources(role('  deny:\n    spiffe: [{path: "^/svc/(a|a)*$"}]\n'), 'r.yaml'))).message).toBe(
      'r.yaml:6:21: spec.deny.spiffe[0].path: regular expression "^/svc/(a|a)*$" can backtrack catastrophically (a repeated group has alternatives that do not each start with a different character: (a|a)*)',
    )
    expect((await rejection(readResources(role('  allow:\n    workload_identity_labels: {env: [prod, "^prod-($"]}\n'), 'r.yaml'))).message).toBe(
      'r.yaml:6:44: spec.allow.workload_identity_labels.env[1]: invalid regular expression "^prod-($"',
    )
    // And safe ones are accepted
    expect(await readResources(role('  allow:\n    workload_identity_labels: {env: "^prod-[a-z]+$"}\n    spiffe: [{path: "^/svc/(foo|bar)/[a-z0-9-]+$"}]\n'), 'r.yaml')).toHaveLength(1)
  })

  it('refuses the same for a role a remote client sends (checkResource)', async () => {
    const role = {kind: 'role', version: 'v7', metadata: {name: 'r'}, spec: {allow: {spiffe: [{path: '^/svc/([a-z0-9-]+)*$'}]}}} as Resource
    const error = await rejection(checkResource(role))
    expect([error.code, error.message]).toEqual([
      'bad_input',
      'spec.allow.spiffe[0].path: regular expression "^/svc/([a-z0-9-]+)*$" can backtrack catastrophically (a repeated group contains a quantifier: ([a-z0-9-]+)*)',
    ])
  })
})

describe('control characters (review item: terminal escapes in stored resources)', () => {
  const identity = (field: string) => `kind: workload_identity\nversion: v1\nmetadata:\n  name: w\n${field}spec:\n  spiffe:\n    id: /svc/w\n    x509:\n      subject_template:\n        common_name: "{{ user.name }}"\n`

  it.each([
    ['an OSC escape in a subject template', 'kind: workload_identity\nversion: v1\nmetadata: {name: w}\nspec:\n  spiffe:\n    id: /svc/w\n    x509: {subject_template: {common_name: "\\e]0;CN\\ax"}}\n', 'x.yaml:7:44: spec.spiffe.x509.subject_template.common_name: contains a control character (U+001B)'],
    ['a C1 control (CSI) in a label value', identity('  labels: {team: "a\\u009b2J"}\n'), 'x.yaml:5:18: metadata.labels.team: contains a control character (U+009B)'],
    ['a control character in a label key', identity('  labels: {"te\\u0007am": a}\n'), 'x.yaml:5:12: metadata.labels: a key contains a control character (U+0007)'],
    ['DEL in a description', identity('  description: "a\\x7fb"\n'), 'x.yaml:5:16: metadata.description: contains a control character (U+007F)'],
    ['a carriage return in a description', identity('  description: "a\\rb"\n'), 'x.yaml:5:16: metadata.description: contains a control character (U+000D)'],
    ['a newline outside the description', identity('  labels: {team: "a\\nb"}\n'), 'x.yaml:5:18: metadata.labels.team: contains a control character (U+000A)'],
    ['a kind that is an escape sequence', 'kind: "\\e[2J"\nversion: v1\n', 'x.yaml:1:7: kind: contains a control character (U+001B)'],
  ])('refuses %s at file:line:col, without echoing it', async (_, text, message) => {
    // Given a document with a control character in a string (value or key)
    // When it is read
    const error = await rejection(readResources(text, 'x.yaml'))
    // Then it is bad input naming the field and the character's code point
    expect([error.code, error.message]).toEqual(['bad_input', message])
  })

  it('accepts tabs anywhere, and newlines in metadata.description', async () => {
    const [checked] = await readResources(identity('  description: "first line\\nsecond\\tline"\n  labels: {team: "a\\tb"}\n'), 'x.yaml')
    expect(checked!.resource.metadata).toMatchObject({description: 'first line\nsecond\tline', labels: {team: 'a\tb'}})
  })

  it('refuses them over the API too: a client sending a resource to AuthServer', async () => {
    // Given a cluster and a role whose description carries a C1 control, as a remote client would send it
    const backend = new MemoryBackend()
    await initializeCluster(backend, {clusterName: 'example.org', defaultClusterName: 'unused', now: new Date()})
    const auth = await AuthServer.open(backend)
    const role = {kind: 'role', version: 'v7', metadata: {name: 'r', description: 'x\u009b31mred'}, spec: {}} as Resource
    // When it is applied, Then it is refused and nothing is stored
    const error = await rejection(auth.applyResource(admin, role, 'create'))
    expect([error.code, error.message]).toEqual(['bad_input', 'metadata.description: contains a control character (U+009B)'])
    expect((await rejection(auth.getResource(admin, 'role', 'r'))).code).toBe('not_found')
  })
})
