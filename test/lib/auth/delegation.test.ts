/** Delegated writes (src/lib/auth/access.ts, spiffe-fence.ts): label scope, SPIFFE ID fence, TTL cap, deny at issuance. */
import {describe, expect, it} from 'vitest'
import {AccessChecker} from '../../../src/lib/auth/access.js'
import {PRESET_ROLES} from '../../../src/lib/auth/init.js'
import type {Role, RoleConditions, WorkloadIdentity, WorkloadIdentitySpec} from '../../../src/lib/resources/types.js'
import {refusal} from '../../helpers/errors.js'

const role = (name: string, allow?: RoleConditions, deny?: RoleConditions): Role => ({
  kind: 'role',
  version: 'v7',
  metadata: {name},
  spec: {...(allow && {allow}), ...(deny && {deny})},
})

const identity = (name: string, labels: Record<string, string>, spiffe: WorkloadIdentitySpec['spiffe']): WorkloadIdentity => ({
  kind: 'workload_identity',
  version: 'v1',
  metadata: {name, labels},
  spec: {spiffe},
})

/** The README's example: team a writes the workload identities labelled team: a, under /svc/team-a/. */
const teamAdmin = role('team-a-admin', {
  workload_identity_labels: {team: ['a']},
  rules: [{resources: ['workload_identity'], verbs: ['list', 'read', 'create', 'update', 'delete']}],
  spiffe: [{path: '/svc/team-a/*', dns_sans: ['*.team-a.internal']}],
})
const tara = new AccessChecker('user "tara"', [teamAdmin])
/** A role that lets its holder create identities labelled team: a, with these allow.spiffe entries. */
const writer = (name: string, ...spiffe: NonNullable<RoleConditions['spiffe']>) =>
  role(name, {workload_identity_labels: {team: 'a'}, rules: [{resources: ['workload_identity'], verbs: ['create']}], spiffe})
const teamA = (spiffe: WorkloadIdentitySpec['spiffe'], name = 'x') => identity(name, {team: 'a'}, spiffe)

function expectDenied(action: () => unknown, message: string): void {
  const error = refusal(action)
  expect([error.code, error.message]).toEqual(['access_denied', message])
}

describe('AccessChecker: the label scope of reads and writes', () => {
  it('allows every action on an identity whose labels the scope matches', () => {
    // Given tara, scoped to team: a, When she acts on an identity labelled team: a, Then each action is allowed
    const own = teamA({id: '/svc/team-a/api'})
    for (const action of ['read', 'create', 'update', 'delete'] as const) expect(() => tara.checkWorkloadIdentityScope(own, action)).not.toThrow()
    expect(tara.inWorkloadIdentityScope(own)).toBe(true)
  })

  it('refuses an identity labelled team: b, naming the action and which labels', () => {
    // Given an identity of team b
    const other = identity('team-b-api', {team: 'b'}, {id: '/svc/team-b/api'})
    // When tara reads, creates, overwrites or deletes it, Then each is refused
    expect(tara.inWorkloadIdentityScope(other)).toBe(false)
    expectDenied(() => tara.checkWorkloadIdentityScope(other, 'read'), 'auth: user "tara" may not read workload_identity "team-b-api": no role\'s workload_identity_labels match its labels {team: b}')
    expectDenied(() => tara.checkWorkloadIdentityScope(other, 'create'), 'auth: user "tara" may not create workload_identity "team-b-api": no role\'s workload_identity_labels match its labels {team: b}')
    expectDenied(
      () => tara.checkWorkloadIdentityScope(other, 'update', 'current'),
      'auth: user "tara" may not update workload_identity "team-b-api": no role\'s workload_identity_labels match its current labels {team: b}',
    )
    expectDenied(
      () => tara.checkWorkloadIdentityScope(other, 'update', 'new'),
      'auth: user "tara" may not update workload_identity "team-b-api": no role\'s workload_identity_labels match its new labels {team: b}',
    )
    expectDenied(() => tara.checkWorkloadIdentityScope(other, 'delete'), 'auth: user "tara" may not delete workload_identity "team-b-api": no role\'s workload_identity_labels match its labels {team: b}')
  })

  it('lets deny.workload_identity_labels carve out of the scope', () => {
    // Given a role that allows every identity and denies those labelled env: prod
    const checker = new AccessChecker('user "tara"', [role('all', {workload_identity_labels: {'*': '*'}}, {workload_identity_labels: {env: 'prod'}})])
    const prod = identity('db', {env: 'prod'}, {id: '/svc/db'})
    // When she writes the prod identity, Then the deny wins
    expect(checker.inWorkloadIdentityScope(prod)).toBe(false)
    expectDenied(() => checker.checkWorkloadIdentityScope(prod, 'update', 'new'), 'auth: user "tara" may not update workload_identity "db": role "all" denies it: its deny.workload_identity_labels match its new labels {env: prod}')
  })

  it('gives the preset editor role every identity', () => {
    // Given the preset editor role, When its holder acts on any identity, Then it is in scope
    const editor = new AccessChecker('user "root"', PRESET_ROLES.filter((r) => r.metadata.name === 'editor'))
    expect(editor.inWorkloadIdentityScope(identity('any', {}, {id: '/svc/any'}))).toBe(true)
  })
})

describe('AccessChecker.checkWorkloadIdentitySpec: the SPIFFE IDs and SANs a writer may define', () => {
  it.each([
    ['a static id under the entry', {id: '/svc/team-a/api'}],
    ['a templated id under the entry', {id: '/svc/team-a/{{ user.name }}'}],
    ['DNS SANs within the entry', {id: '/svc/team-a/api', x509: {dns_sans: ['api.team-a.internal', '{{ user.name }}.team-a.internal', 'API.Team-A.internal']}}],
    ['a maximum_ttl of 24h', {id: '/svc/team-a/api', x509: {maximum_ttl: '24h'}, jwt: {maximum_ttl: '24h'}}],
  ])('allows %s', (_, spiffe) => {
    // Given tara's entry /svc/team-a/* with *.team-a.internal, When she writes it, Then it is allowed
    expect(() => tara.checkWorkloadIdentitySpec(teamA(spiffe), 'create')).not.toThrow()
  })

  it.each([
    ['/svc/prod-db', 'no allow.spiffe entry of a role that lets it create this identity covers it (team-a-admin allows /svc/team-a/*)'],
    ['/svc/team-b/api', 'no allow.spiffe entry of a role that lets it create this identity covers it (team-a-admin allows /svc/team-a/*)'],
    ['/svc/team-a', 'no allow.spiffe entry of a role that lets it create this identity covers it (team-a-admin allows /svc/team-a/*)'],
    ['/svc/team-a{{ user.name }}', 'no allow.spiffe entry of a role that lets it create this identity covers every rendering of it (team-a-admin allows /svc/team-a/*)'],
    ['/svc/{{ user.name }}/api', 'no allow.spiffe entry of a role that lets it create this identity covers every rendering of it (team-a-admin allows /svc/team-a/*)'],
  ])('refuses the id %j', (id, why) => {
    // Given tara's entry /svc/team-a/*, When she sets an id outside it, Then it is refused naming the field and her entitlement
    expectDenied(() => tara.checkWorkloadIdentitySpec(teamA({id}), 'create'), `auth: user "tara" may not set spec.spiffe.id ${JSON.stringify(id)} on workload_identity "x": ${why}`)
  })

  it('refuses any id to a writer whose roles have no allow.spiffe entries', () => {
    // Given a role with the label scope and verbs but no spiffe entries
    const checker = new AccessChecker('user "tara"', [role('labels-only', {workload_identity_labels: {team: 'a'}, rules: [{resources: ['workload_identity'], verbs: ['create']}]})])
    // When she defines an id, Then it is refused, saying how to grant it
    expectDenied(
      () => checker.checkWorkloadIdentitySpec(teamA({id: '/svc/team-a/api'}), 'create'),
      'auth: user "tara" may not set spec.spiffe.id "/svc/team-a/api" on workload_identity "x": no allow.spiffe entry of a role that lets it create this identity covers it (labels-only allows no SPIFFE IDs: add allow.spiffe: [{path: ...}] to it)',
    )
  })

  it('refuses a DNS SAN the covering entry does not allow, also when templated', () => {
    // When tara sets SANs outside *.team-a.internal, Then the first is refused, naming it and the entry's patterns
    expectDenied(
      () => tara.checkWorkloadIdentitySpec(teamA({id: '/svc/team-a/api', x509: {dns_sans: ['api.team-a.internal', 'db.prod.internal']}}), 'create'),
      'auth: user "tara" may not set spec.spiffe.x509.dns_sans[1] "db.prod.internal" on workload_identity "x": no allow.spiffe entry covering its spec.spiffe.id allows it (team-a-admin allows dns_sans *.team-a.internal for /svc/team-a/*)',
    )
    expectDenied(
      () => tara.checkWorkloadIdentitySpec(teamA({id: '/svc/team-a/api', x509: {dns_sans: ['{{ user.name }}']}}), 'create'),
      'auth: user "tara" may not set spec.spiffe.x509.dns_sans[0] "{{ user.name }}" on workload_identity "x": no allow.spiffe entry covering its spec.spiffe.id allows it (team-a-admin allows dns_sans *.team-a.internal for /svc/team-a/*)',
    )
  })

  it('requires one entry to cover the id and every DNS SAN together', () => {
    // Given two entries for the same ids, each allowing one SAN
    const checker = new AccessChecker('user "tara"', [
      writer('one', {path: '/svc/team-a/*', dns_sans: ['a.team-a.internal']}),
      writer('two', {path: '/svc/team-a/*', dns_sans: ['b.team-a.internal']}),
    ])
    // When she sets either alone, Then it is allowed; both together, Then it is refused
    expect(() => checker.checkWorkloadIdentitySpec(teamA({id: '/svc/team-a/api', x509: {dns_sans: ['b.team-a.internal']}}), 'create')).not.toThrow()
    expectDenied(
      () => checker.checkWorkloadIdentitySpec(teamA({id: '/svc/team-a/api', x509: {dns_sans: ['a.team-a.internal', 'b.team-a.internal']}}), 'create'),
      'auth: user "tara" may not set spec.spiffe.x509.dns_sans on workload_identity "x": no single allow.spiffe entry covering its spec.spiffe.id allows all of them together',
    )
  })

  it('lets a deny.spiffe path beat the allow, for any rendering', () => {
    // Given tara's role and a role denying /svc/team-a/break-glass*
    const checker = new AccessChecker('user "tara"', [teamAdmin, role('no-break-glass', undefined, {spiffe: [{path: '/svc/team-a/break-glass*'}]})])
    // When she sets the denied id, or a template that can render to it, Then it is refused naming the deny
    expectDenied(
      () => checker.checkWorkloadIdentitySpec(teamA({id: '/svc/team-a/break-glass'}), 'create'),
      'auth: user "tara" may not set spec.spiffe.id "/svc/team-a/break-glass" on workload_identity "x": role "no-break-glass" denies it (deny.spiffe path /svc/team-a/break-glass*)',
    )
    expectDenied(
      () => checker.checkWorkloadIdentitySpec(teamA({id: '/svc/team-a/{{ user.name }}'}), 'create'),
      'auth: user "tara" may not set spec.spiffe.id "/svc/team-a/{{ user.name }}" on workload_identity "x": role "no-break-glass" denies some of its renderings (deny.spiffe path /svc/team-a/break-glass*)',
    )
    // And an id no rendering of which is denied stays allowed
    expect(() => checker.checkWorkloadIdentitySpec(teamA({id: '/svc/team-a/api/{{ user.name }}'}), 'create')).not.toThrow()
  })

  it('tests ^regex$ entries on static ids, and refuses templated ids they cannot decide', () => {
    // Given an allow entry and a deny entry written as regular expressions
    const allowRegex = new AccessChecker('user "tara"', [writer('regex', {path: '^/svc/team-a/[a-z]+$'})])
    // When she sets a static id, Then the regex is tested
    expect(() => allowRegex.checkWorkloadIdentitySpec(teamA({id: '/svc/team-a/api'}), 'create')).not.toThrow()
    // When she sets a templated id, Then the regex cannot vouch for it
    expectDenied(
      () => allowRegex.checkWorkloadIdentitySpec(teamA({id: '/svc/team-a/{{ user.name }}'}), 'create'),
      'auth: user "tara" may not set spec.spiffe.id "/svc/team-a/{{ user.name }}" on workload_identity "x": no allow.spiffe entry of a role that lets it create this identity covers every rendering of it (regex allows ^/svc/team-a/[a-z]+$; a ^regex$ path cannot cover a templated id: write the entry as a glob)',
    )
    const denyRegex = new AccessChecker('user "tara"', [teamAdmin, role('no-admin', undefined, {spiffe: [{path: '^/svc/.*/admin$'}]})])
    expect(() => denyRegex.checkWorkloadIdentitySpec(teamA({id: '/svc/team-a/api'}), 'create')).not.toThrow()
    expectDenied(
      () => denyRegex.checkWorkloadIdentitySpec(teamA({id: '/svc/team-a/admin'}), 'create'),
      'auth: user "tara" may not set spec.spiffe.id "/svc/team-a/admin" on workload_identity "x": role "no-admin" denies it (deny.spiffe path ^/svc/.*/admin$)',
    )
    expectDenied(
      () => denyRegex.checkWorkloadIdentitySpec(teamA({id: '/svc/team-a/{{ user.name }}'}), 'create'),
      'auth: user "tara" may not set spec.spiffe.id "/svc/team-a/{{ user.name }}" on workload_identity "x": role "no-admin" denies spiffe path ^/svc/.*/admin$, and no check can prove that a templated id never renders into a ^regex$ (use a static id, or write the deny entry as a glob)',
    )
  })

  it('caps maximum_ttl at 24h, saying who may set more', () => {
    // When tara sets an X.509 maximum_ttl of 336h, Then it is refused with the limit and who can raise it
    expectDenied(
      () => tara.checkWorkloadIdentitySpec(teamA({id: '/svc/team-a/api', x509: {maximum_ttl: '336h'}}), 'create'),
      'auth: user "tara" may not set spec.spiffe.x509.maximum_ttl "336h" on workload_identity "x": a role holder may set at most 24h (the cap of issuance by path); only the local admin (wid create on the cluster\'s host) may set more, up to 336h',
    )
  })

  it('lets the preset editor role define any id, SAN and TTL up to 24h', () => {
    // Given the preset editor role
    const editor = new AccessChecker('user "root"', PRESET_ROLES.filter((r) => r.metadata.name === 'editor'))
    // When its holder defines an identity anywhere, Then it is allowed
    expect(() => editor.checkWorkloadIdentitySpec(identity('any', {}, {id: '/{{ user.name }}', x509: {dns_sans: ['*.example.com', '{{ user.name }}']}}), 'create')).not.toThrow()
    // And it may issue any path with any SAN
    expect(() => editor.checkSpiffePath('/svc/prod-db', ['db.example.com'], ['10.0.0.1', '2001:db8::1'])).not.toThrow()
  })
})

describe('AccessChecker: a write is scoped by the roles that allow it', () => {
  /** Team b's issuer role: reads team b's identities, and issues team b's IDs by path. */
  const teamBIssuer = role('team-b-issuer', {
    workload_identity_labels: {team: ['b']},
    rules: [{resources: ['workload_identity'], verbs: ['list', 'read']}],
    spiffe: [{path: '/svc/team-b/*'}],
  })
  const teamBAdmin = role('team-b-admin', {...teamAdmin.spec.allow, workload_identity_labels: {team: ['b']}, spiffe: [{path: '/svc/team-b/*'}]})
  const access = PRESET_ROLES.find((r) => r.metadata.name === 'access')!
  const teamB = identity('team-b-db', {team: 'b'}, {id: '/svc/team-b/db'})

  it.each([
    ['team-b-issuer', teamBIssuer],
    ['access', access],
  ])('lets the read-only role %s widen what its holder reads, not what it writes', (name, readOnly) => {
    // Given ann, who holds team-a-admin and a role that only reads team b's identities (or every identity)
    const ann = new AccessChecker('user "ann"', [teamAdmin, readOnly])
    // When she reads team b's identity, Then the union of her roles' scopes lets her
    expect(ann.inWorkloadIdentityScope(teamB)).toBe(true)
    expect(() => ann.checkWorkloadIdentityScope(teamB, 'read')).not.toThrow()
    // When she overwrites, deletes or creates one, Then only a role that allows the verb counts
    const why = (verb: string, which: string) =>
      `only role "${name}" has workload_identity_labels matching its ${which}labels {team: b}, and it does not allow ${verb} on workload_identity`
    expectDenied(() => ann.checkWorkloadIdentityScope(teamB, 'update', 'current'), `auth: user "ann" may not update workload_identity "team-b-db": ${why('update', 'current ')}`)
    expectDenied(() => ann.checkWorkloadIdentityScope(teamB, 'update', 'new'), `auth: user "ann" may not update workload_identity "team-b-db": ${why('update', 'new ')}`)
    expectDenied(() => ann.checkWorkloadIdentityScope(teamB, 'delete'), `auth: user "ann" may not delete workload_identity "team-b-db": ${why('delete', '')}`)
    expectDenied(() => ann.checkWorkloadIdentityScope(teamB, 'create'), `auth: user "ann" may not create workload_identity "team-b-db": ${why('create', '')}`)
    // And her own team's identities stay hers to write
    expect(() => ann.checkWorkloadIdentityScope(teamA({id: '/svc/team-a/api'}), 'delete')).not.toThrow()
  })

  it('needs the verb from a role whose labels match: a role that writes elsewhere does not lend its verbs', () => {
    // Given ann holds team-b-admin (writes team b) and a role that reads team a
    const ann = new AccessChecker('user "ann"', [teamBAdmin, role('team-a-reader', {workload_identity_labels: {team: 'a'}, rules: [{resources: ['workload_identity'], verbs: ['read']}]})])
    // When she deletes team a's identity, Then it is refused: the role that matches it only reads
    expectDenied(
      () => ann.checkWorkloadIdentityScope(teamA({id: '/svc/team-a/api'}, 'team-a-api'), 'delete'),
      'auth: user "ann" may not delete workload_identity "team-a-api": only role "team-a-reader" has workload_identity_labels matching its labels {team: a}, and it does not allow delete on workload_identity',
    )
  })

  it('still lets a deny from any role refuse a write the granting role allows', () => {
    // Given ann holds team-a-admin and a role denying identities labelled env: prod
    const ann = new AccessChecker('user "ann"', [teamAdmin, role('no-prod', undefined, {workload_identity_labels: {env: 'prod'}})])
    // When she creates a team a identity labelled env: prod, Then the deny wins
    expectDenied(
      () => ann.checkWorkloadIdentityScope(identity('db', {team: 'a', env: 'prod'}, {id: '/svc/team-a/db'}), 'create'),
      'auth: user "ann" may not create workload_identity "db": role "no-prod" denies it: its deny.workload_identity_labels match {team: a, env: prod}',
    )
  })

  it('counts the allow.spiffe entries only of the roles that let it write the identity', () => {
    // Given ann holds team-a-admin and team-b-issuer, whose /svc/team-b/* is for issuance by path
    const ann = new AccessChecker('user "ann"', [teamAdmin, teamBIssuer])
    // When she defines team b's ID in an identity labelled team: a (which team a's bots may use), Then it is refused
    expectDenied(
      () => ann.checkWorkloadIdentitySpec(teamA({id: '/svc/team-b/db'}), 'create'),
      'auth: user "ann" may not set spec.spiffe.id "/svc/team-b/db" on workload_identity "x": no allow.spiffe entry of a role that lets it create this identity covers it (team-a-admin allows /svc/team-a/*; role "team-b-issuer" allows /svc/team-b/*, which does not count here: it does not let it create this identity)',
    )
    // And she still issues /svc/team-b/db by path herself
    expect(() => ann.checkSpiffePath('/svc/team-b/db', [], [])).not.toThrow()
  })

  it('counts them only from the roles whose labels match the identity: two teams\' admin cannot mix them', () => {
    // Given ann administers both teams
    const ann = new AccessChecker('user "ann"', [teamAdmin, teamBAdmin])
    // When she puts team b's ID into an identity labelled team: a, Then it is refused
    expectDenied(
      () => ann.checkWorkloadIdentitySpec(teamA({id: '/svc/team-b/db'}), 'update'),
      'auth: user "ann" may not set spec.spiffe.id "/svc/team-b/db" on workload_identity "x": no allow.spiffe entry of a role that lets it update this identity covers it (team-a-admin allows /svc/team-a/*; role "team-b-admin" allows /svc/team-b/*, which does not count here: it does not let it update this identity)',
    )
    // And team b's ID in team b's identity is fine
    expect(() => ann.checkWorkloadIdentitySpec(teamB, 'update')).not.toThrow()
  })
})

describe('AccessChecker.checkSpiffeDeny: issuance from a workload identity', () => {
  it('refuses an id a deny.spiffe path matches, and allows the rest', () => {
    // Given a caller whose role denies /svc/team-a/break-glass
    const checker = new AccessChecker('bot "ci"', [role('no-break-glass', undefined, {spiffe: [{path: '/svc/team-a/break-glass'}]})])
    // When an SVID from workload identity "bg" would carry it, Then it is refused naming the role
    expectDenied(
      () => checker.checkSpiffeDeny('/svc/team-a/break-glass', 'bg'),
      'auth: bot "ci" may not issue spiffe path /svc/team-a/break-glass from workload identity "bg": denied by role "no-break-glass"',
    )
    // When it would carry another id, Then nothing is refused (allow.spiffe is not needed for workload identities)
    expect(() => checker.checkSpiffeDeny('/svc/team-a/api', 'api')).not.toThrow()
  })
})
