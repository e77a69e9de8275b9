/** Role-based access decisions (src/lib/auth/access.ts). */
import {describe, expect, it} from 'vitest'
import {AccessChecker, matchLabels, matchLabelValue} from '../../../src/lib/auth/access.js'
import type {LabelValues, Role, RoleConditions, WorkloadIdentity} from '../../../src/lib/resources/types.js'
import {refusal} from '../../helpers/errors.js'

const role = (name: string, allow?: RoleConditions, deny?: RoleConditions): Role => ({
  kind: 'role',
  version: 'v6',
  metadata: {name},
  spec: {...(allow && {allow}), ...(deny && {deny})},
})

const identity = (name: string, labels?: Record<string, string>): WorkloadIdentity => ({
  kind: 'workload_identity',
  version: 'v1',
  metadata: {name, ...(labels && {labels})},
  spec: {spiffe: {id: '/svc/example-service'}},
})

/** DESIGN §1 flow 1: the role that lets my-bot issue from example-workload-identity. */
const issuer = role('example-workload-identity-issuer', {
  workload_identity_labels: {example: ['getting-started']},
  rules: [{resources: ['workload_identity'], verbs: ['list', 'read']}],
})
const example = identity('example-workload-identity', {example: 'getting-started'})

function expectDenied(action: () => unknown, message: string): void {
  const error = refusal(action)
  expect(error.code).toBe('access_denied')
  expect(error.message).toBe(message)
}

describe('matchLabelValue', () => {
  it.each([
    ['*', 'anything', true],
    ['*', '', true],
    ['prod', 'prod', true],
    ['prod', 'prod-eu', false],
    ['prod-*', 'prod-eu', false],
    ['^prod-.*$', 'prod-eu', true],
    ['^prod-.*$', 'prod-', true],
    ['^prod-.*$', 'staging-prod-eu', false],
    ['^prod-.*$', 'prod', false],
    ['^(eu|us)-[0-9]+$', 'us-1', true],
    ['^(prod$', '(prod', false],
    ['^[$', '[', false],
  ])('matches pattern %j against %j: %s', (pattern, value, matched) => {
    // Given a label pattern: "*", a ^...$ regular expression (an invalid one matches nothing), or an exact value
    // When it is matched against a value
    // Then the outcome follows the pattern's kind
    expect(matchLabelValue(pattern, value)).toBe(matched)
  })
})

describe('matchLabels', () => {
  it.each<[string, Record<string, LabelValues> | undefined, Record<string, string> | undefined, boolean]>([
    ['an exact value', {example: ['getting-started']}, {example: 'getting-started'}, true],
    ['a single string value', {example: 'getting-started'}, {example: 'getting-started'}, true],
    ['a different value', {example: ['getting-started']}, {example: 'advanced'}, false],
    ['a missing key', {example: ['getting-started']}, {env: 'prod'}, false],
    ['no labels at all', {example: ['getting-started']}, undefined, false],
    ['any of several values (OR)', {env: ['staging', 'prod']}, {env: 'prod'}, true],
    ['every key (AND), all present', {env: 'prod', team: 'payments'}, {env: 'prod', team: 'payments', tier: 'web'}, true],
    ['every key (AND), one differs', {env: 'prod', team: 'payments'}, {env: 'prod', team: 'search'}, false],
    ['a value wildcard on a present key', {env: '*'}, {env: 'prod'}, true],
    ['a value wildcard on a missing key', {env: '*'}, {team: 'payments'}, false],
    ['a regex', {env: '^prod-.*$'}, {env: 'prod-eu'}, true],
    ['an invalid regex', {env: '^prod-(.*$'}, {env: 'prod-eu'}, false],
    ['the full wildcard on labels', {'*': '*'}, {env: 'prod'}, true],
    ['the full wildcard on no labels', {'*': ['*']}, undefined, true],
    ['the "*" key with another value', {'*': 'prod'}, {env: 'prod'}, false],
    ['an empty selector', {}, {env: 'prod'}, false],
    ['an undefined selector', undefined, {env: 'prod'}, false],
    ['an inherited key', {constructor: '*'}, {}, false],
  ])('%s', (_, selector, labels, matched) => {
    // Given a selector and a resource's labels
    // When they are matched
    // Then the selector matches only when each of its keys does
    expect(matchLabels(selector, labels)).toBe(matched)
  })
})

describe('AccessChecker.checkVerbs', () => {
  it('allows verbs granted by a rule on the kind or on "*"', () => {
    // Given one role granting read/list on workload_identity and another granting create on everything
    const checker = new AccessChecker('user "alice"', [issuer, role('creator', {rules: [{resources: ['*'], verbs: ['create']}]})])
    // When alice reads, lists, or creates any kind, Then it is allowed
    expect(() => checker.checkVerbs('workload_identity', ['read', 'list'])).not.toThrow()
    expect(() => checker.checkVerbs('bot', ['create'])).not.toThrow()
  })

  it('allows every verb through a "*" verb', () => {
    // Given an editor role with verbs ["*"] on roles
    const checker = new AccessChecker('user "alice"', [role('editor', {rules: [{resources: ['role'], verbs: ['*']}]})])
    // When alice deletes a role, Then it is allowed
    expect(() => checker.checkVerbs('role', ['delete'])).not.toThrow()
  })

  it('refuses a verb no role allows, naming the verb and the kind', () => {
    // Given only the issuer role
    const checker = new AccessChecker('user "alice"', [issuer])
    // When alice deletes a workload identity, Then it is refused
    expectDenied(() => checker.checkVerbs('workload_identity', ['read', 'delete']), 'auth: user "alice" is not allowed to delete workload_identity (no role allows it)')
  })

  it('refuses when the caller has no roles', () => {
    // Given no roles at all
    const checker = new AccessChecker('bot "my-bot"', [])
    // When the bot reads a workload identity, Then it is refused
    expectDenied(() => checker.checkVerbs('workload_identity', ['read']), 'auth: bot "my-bot" is not allowed to read workload_identity (no role allows it)')
  })

  it('lets a deny rule beat any allow, naming the denying role', () => {
    // Given a role allowing everything and another denying reads of workload identities
    const checker = new AccessChecker('user "alice"', [
      role('admin', {rules: [{resources: ['*'], verbs: ['*']}]}),
      role('no-wi', undefined, {rules: [{resources: ['workload_identity'], verbs: ['read']}]}),
    ])
    // When alice reads a workload identity, Then the deny wins
    expectDenied(() => checker.checkVerbs('workload_identity', ['read']), 'auth: user "alice" is not allowed to read workload_identity (denied by role "no-wi")')
    // And other kinds stay allowed
    expect(() => checker.checkVerbs('role', ['read'])).not.toThrow()
  })

  it('applies a deny rule on "*" resources and verbs', () => {
    // Given a role that allows reading roles but also denies everything
    const checker = new AccessChecker('user "alice"', [role('locked', {rules: [{resources: ['role'], verbs: ['read']}]}, {rules: [{resources: ['*'], verbs: ['*']}]})])
    // When alice reads a role, Then the deny wins
    expectDenied(() => checker.checkVerbs('role', ['read']), 'auth: user "alice" is not allowed to read role (denied by role "locked")')
  })
})

describe('AccessChecker workload identities', () => {
  it('allows the DESIGN §1 flow 1 issuer role to use example-workload-identity by name and by labels', () => {
    // Given my-bot holds example-workload-identity-issuer
    const checker = new AccessChecker('bot "my-bot"', [issuer])
    // When it uses the identity labelled example: getting-started by name or by labels
    // Then it is allowed
    expect(checker.canUseWorkloadIdentity(example, ['read'])).toEqual({allowed: true})
    expect(checker.canUseWorkloadIdentity(example, ['read', 'list'])).toEqual({allowed: true})
    expect(() => checker.checkWorkloadIdentity(example, ['read', 'list'])).not.toThrow()
  })

  it('refuses a role without the workload_identity rule, naming the missing permission', () => {
    // Given a role with matching labels but no rules
    const checker = new AccessChecker('bot "my-bot"', [role('labels-only', {workload_identity_labels: {example: ['getting-started']}})])
    // When the bot uses the identity by labels
    const decision = checker.canUseWorkloadIdentity(example, ['read', 'list'])
    // Then it is refused, naming the identity, the verb and how to grant it
    const reason =
      'auth: bot "my-bot" may not use workload identity "example-workload-identity": no role allows read on workload_identity ' +
      '(add a role with allow.rules: [{resources: [workload_identity], verbs: [read, list]}])'
    expect(decision).toEqual({allowed: false, reason})
    expectDenied(() => checker.checkWorkloadIdentity(example, ['read', 'list']), reason)
  })

  it('refuses by labels when the rule grants read but not list', () => {
    // Given a role granting read only
    const checker = new AccessChecker('bot "my-bot"', [
      role('read-only', {workload_identity_labels: {'*': '*'}, rules: [{resources: ['workload_identity'], verbs: ['read']}]}),
    ])
    // When the bot uses the identity by name, Then it is allowed
    expect(checker.canUseWorkloadIdentity(example, ['read'])).toEqual({allowed: true})
    // When it searches by labels, Then list is missing
    expectDenied(
      () => checker.checkWorkloadIdentity(example, ['read', 'list']),
      'auth: bot "my-bot" may not use workload identity "example-workload-identity": no role allows list on workload_identity ' +
        '(add a role with allow.rules: [{resources: [workload_identity], verbs: [read, list]}])',
    )
  })

  it('refuses a role without workload_identity_labels, naming the labels', () => {
    // Given a role with the rule but no label grant
    const checker = new AccessChecker('user "alice"', [role('rules-only', {rules: [{resources: ['workload_identity'], verbs: ['list', 'read']}]})])
    // When alice uses the identity
    // Then it is refused, showing the identity's labels
    expectDenied(
      () => checker.checkWorkloadIdentity(example, ['read']),
      'auth: user "alice" may not use workload identity "example-workload-identity": no role\'s workload_identity_labels match its labels {example: getting-started}',
    )
  })

  it('refuses an identity whose labels the role does not match', () => {
    // Given the issuer role and an identity labelled for another purpose
    const checker = new AccessChecker('user "alice"', [issuer])
    const other = identity('payments', {team: 'payments', env: 'prod'})
    // When alice uses it, Then it is refused
    expectDenied(
      () => checker.checkWorkloadIdentity(other, ['read']),
      'auth: user "alice" may not use workload identity "payments": no role\'s workload_identity_labels match its labels {team: payments, env: prod}',
    )
  })

  it('refuses an unlabelled identity unless a role grants {"*": "*"}', () => {
    // Given an identity without labels
    const bare = identity('bare')
    // When a holder of the issuer role uses it, Then it is refused
    expectDenied(
      () => new AccessChecker('user "alice"', [issuer]).checkWorkloadIdentity(bare, ['read']),
      'auth: user "alice" may not use workload identity "bare": no role\'s workload_identity_labels match its labels {}',
    )
    // When a holder of a wildcard role uses it, Then it is allowed
    const wildcard = role('all', {workload_identity_labels: {'*': '*'}, rules: [{resources: ['workload_identity'], verbs: ['read']}]})
    expect(new AccessChecker('user "alice"', [wildcard]).canUseWorkloadIdentity(bare, ['read'])).toEqual({allowed: true})
  })

  it('lets deny.workload_identity_labels beat an allow, naming the denying role', () => {
    // Given the issuer role and a role denying identities labelled example: *
    const checker = new AccessChecker('user "alice"', [issuer, role('no-examples', undefined, {workload_identity_labels: {example: '*'}})])
    // When alice uses the identity, Then the deny wins
    expectDenied(
      () => checker.checkWorkloadIdentity(example, ['read']),
      'auth: user "alice" may not use workload identity "example-workload-identity": role "no-examples" denies it: its deny.workload_identity_labels match {example: getting-started}',
    )
  })

  it('lets a deny rule on workload_identity beat an allow, naming the role and the verb', () => {
    // Given the issuer role and a role denying list on workload identities
    const checker = new AccessChecker('user "alice"', [issuer, role('no-list', undefined, {rules: [{resources: ['workload_identity'], verbs: ['list']}]})])
    // When alice uses the identity by name, Then it is allowed
    expect(checker.canUseWorkloadIdentity(example, ['read'])).toEqual({allowed: true})
    // When she searches by labels, Then the deny wins
    expectDenied(
      () => checker.checkWorkloadIdentity(example, ['read', 'list']),
      'auth: user "alice" may not use workload identity "example-workload-identity": role "no-list" denies list on workload_identity',
    )
  })

  it('matches workload_identity_labels by regex', () => {
    // Given a role granting identities whose env starts with prod-
    const checker = new AccessChecker('user "alice"', [
      role('prod', {workload_identity_labels: {env: '^prod-.*$'}, rules: [{resources: ['workload_identity'], verbs: ['read']}]}),
    ])
    // When alice uses prod-eu and staging identities
    // Then only prod-eu is allowed
    expect(checker.canUseWorkloadIdentity(identity('eu', {env: 'prod-eu'}), ['read'])).toEqual({allowed: true})
    expect(checker.canUseWorkloadIdentity(identity('stg', {env: 'staging'}), ['read'])).toEqual({
      allowed: false,
      reason: 'auth: user "alice" may not use workload identity "stg": no role\'s workload_identity_labels match its labels {env: staging}',
    })
  })
})

describe('AccessChecker.checkSpiffePath', () => {
  const legacy = (name: string, ...spiffe: NonNullable<RoleConditions['spiffe']>) => role(name, {spiffe})

  it('allows the DESIGN §1 flow 2 path with an exact entry, and refuses any other path', () => {
    // Given the legacy role from the Roles Anywhere guide
    const checker = new AccessChecker('user "alice"', [legacy('roles-anywhere', {path: '/svc/example-service'})])
    // When alice issues /svc/example-service, Then it is allowed
    expect(() => checker.checkSpiffePath('/svc/example-service', [], [])).not.toThrow()
    // When she issues /svc/x, Then it is refused with a hint on how to grant it
    expectDenied(
      () => checker.checkSpiffePath('/svc/x', [], []),
      'auth: user "alice" may not issue spiffe path /svc/x: no role allows it (add a role with allow.spiffe: [{path: /svc/x}])',
    )
  })

  const INVALID = '; role "globs" spec.allow.spiffe[0].path: invalid regular expression "^/svc/(foo$", so it matches nothing until the role is fixed'
  it.each([
    ['/svc/*', '/svc/foo', true, ''],
    ['/svc/*', '/svc/foo/bar', true, ''],
    ['/svc/*', '/svc', false, ''],
    ['/svc/*/db', '/svc/team-a/db', true, ''],
    ['/svc/*/db', '/svc/team-a/cache', false, ''],
    ['/svc/a.b', '/svc/aXb', false, ''],
    ['^/svc/(foo|bar)$', '/svc/bar', true, ''],
    ['^/svc/(foo|bar)$', '/svc/baz', false, ''],
    ['^/svc/(foo$', '/svc/(foo', false, INVALID],
  ])('with entry path %j, %j is allowed: %s', (pattern, path, allowed, note) => {
    // Given a role whose allow.spiffe path is a glob or a regex (an invalid one, stored before it was refused, matches nothing)
    const checker = new AccessChecker('user "alice"', [legacy('globs', {path: pattern})])
    // When alice issues the path
    const issue = () => checker.checkSpiffePath(path, [], [])
    // Then it is allowed only when the pattern matches, and a refusal names a pattern that was not run
    if (allowed) expect(issue).not.toThrow()
    else expectDenied(issue, `auth: user "alice" may not issue spiffe path ${path}: no role allows it (add a role with allow.spiffe: [{path: ${path}}])${note}`)
  })

  it('lets a deny.spiffe entry beat an allow', () => {
    // Given a role allowing /svc/* and another denying /svc/admin
    const checker = new AccessChecker('user "alice"', [legacy('svc', {path: '/svc/*'}), role('no-admin', undefined, {spiffe: [{path: '/svc/admin'}]})])
    // When alice issues /svc/admin, Then the deny wins
    expectDenied(() => checker.checkSpiffePath('/svc/admin', [], []), 'auth: user "alice" may not issue spiffe path /svc/admin: denied by role "no-admin"')
    // And /svc/web stays allowed
    expect(() => checker.checkSpiffePath('/svc/web', [], [])).not.toThrow()
  })

  it('allows DNS SANs matching the entry\'s patterns, case-insensitively', () => {
    // Given an entry allowing *.example.com and api.internal
    const checker = new AccessChecker('user "alice"', [legacy('web', {path: '/svc/web', dns_sans: ['*.example.com', 'api.internal']})])
    // When alice asks for matching SANs, Then it is allowed
    expect(() => checker.checkSpiffePath('/svc/web', ['www.example.com', 'API.Internal', 'a.b.example.com'], [])).not.toThrow()
    // When she asks for a SAN outside them, Then it is refused naming the SAN
    expectDenied(
      () => checker.checkSpiffePath('/svc/web', ['www.example.com', 'a.example'], []),
      'auth: user "alice" may not issue spiffe path /svc/web: DNS SAN "a.example" is not allowed for /svc/web',
    )
    expectDenied(
      () => checker.checkSpiffePath('/svc/web', ['example.com'], []),
      'auth: user "alice" may not issue spiffe path /svc/web: DNS SAN "example.com" is not allowed for /svc/web',
    )
  })

  it('allows no SAN of a kind the entry does not list', () => {
    // Given an entry with the path only
    const checker = new AccessChecker('user "alice"', [legacy('plain', {path: '/svc/plain'})])
    // When alice asks for a DNS or IP SAN, Then each is refused
    expectDenied(
      () => checker.checkSpiffePath('/svc/plain', ['plain.example'], []),
      'auth: user "alice" may not issue spiffe path /svc/plain: DNS SAN "plain.example" is not allowed for /svc/plain',
    )
    expectDenied(
      () => checker.checkSpiffePath('/svc/plain', [], ['10.0.0.1']),
      'auth: user "alice" may not issue spiffe path /svc/plain: IP SAN "10.0.0.1" is not allowed for /svc/plain',
    )
  })

  it.each([
    ['10.1.2.3', true],
    ['10.255.255.255', true],
    ['11.0.0.1', false],
    ['192.168.1.7', true],
    ['192.168.1.8', false],
    ['2001:db8::1', true],
    ['2001:db8:0:0:ffff::1', true],
    ['2001:db9::1', false],
    ['::1', true],
    ['::2', false],
    ['not-an-ip', false],
  ])('with IP SAN CIDRs 10.0.0.0/8, 192.168.1.7, 2001:db8::/32, ::1/128, %s is allowed: %s', (ip, allowed) => {
    // Given an entry allowing IPv4 and IPv6 ranges (and a bare address) plus one invalid CIDR
    const checker = new AccessChecker('user "alice"', [
      legacy('net', {path: '/svc/net', ip_sans: ['10.0.0.0/33', '10.0.0.0/8', '192.168.1.7', '2001:db8::/32', '::1/128', 'garbage/8']}),
    ])
    // When alice asks for the IP SAN
    const issue = () => checker.checkSpiffePath('/svc/net', [], [ip])
    // Then it is allowed only inside a range; an invalid CIDR allows nothing
    if (allowed) expect(issue).not.toThrow()
    else expectDenied(issue, `auth: user "alice" may not issue spiffe path /svc/net: IP SAN "${ip}" is not allowed for /svc/net`)
  })

  it('requires one entry to allow every requested SAN', () => {
    // Given two entries for the same path, one allowing a DNS SAN and the other an IP SAN
    const checker = new AccessChecker('user "alice"', [
      legacy('dns', {path: '/svc/db', dns_sans: ['db.internal']}),
      legacy('ip', {path: '/svc/*', ip_sans: ['10.0.0.0/8']}),
    ])
    // When alice asks for either alone, Then it is allowed
    expect(() => checker.checkSpiffePath('/svc/db', ['db.internal'], [])).not.toThrow()
    expect(() => checker.checkSpiffePath('/svc/db', [], ['10.0.0.5'])).not.toThrow()
    // When she asks for both together, Then it is refused
    expectDenied(
      () => checker.checkSpiffePath('/svc/db', ['db.internal'], ['10.0.0.5']),
      'auth: user "alice" may not issue spiffe path /svc/db: no single allow.spiffe entry for /svc/db allows all the requested SANs together',
    )
  })
})
