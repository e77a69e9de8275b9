/** `{{ attribute }}` templates (src/lib/auth/templates.ts). */
import {describe, expect, it} from 'vitest'
import type {Attributes} from '../../../src/lib/auth/attributes.js'
import {renderTemplate, templateAttributes} from '../../../src/lib/auth/templates.js'
import {refusal} from '../../helpers/errors.js'

const FIELD = 'spec.spiffe.id'

const alice: Attributes = {
  user: {name: 'alice', is_bot: false, labels: {env: 'prod'}, traits: {logins: ['root', 'ubuntu'], 'team-name': ['payments'], empty: []}},
  workload: {unix: {attested: true, uid: 1000}},
}

describe('renderTemplate', () => {
  it('renders /user/{{ user.name }} for alice', () => {
    // Given the template from a per-user workload identity
    // When it is rendered for alice
    // Then her name is substituted
    expect(renderTemplate('/user/{{ user.name }}', alice, FIELD)).toBe('/user/alice')
  })

  it.each([
    ['/user/{{user.name}}', '/user/alice'],
    ['/user/{{   user.name\t}}', '/user/alice'],
    ['{{ user.name }}', 'alice'],
    ['/{{ user.labels.env }}/{{ user.name }}/uid-{{ workload.unix.uid }}', '/prod/alice/uid-1000'],
    ['/team/{{user.traits["team-name"]}}', '/team/payments'],
    ['/svc/static', '/svc/static'],
    ['', ''],
    ['/a}}b', '/a}}b'],
  ])('renders %j as %j', (template, rendered) => {
    // Given a template mixing literal text and any number of expressions
    // When it is rendered
    // Then each expression becomes its attribute's value and the text stays as written
    expect(renderTemplate(template, alice, FIELD)).toBe(rendered)
  })

  it('keeps a wildcard to the template\'s own text where asked (a DNS SAN): a value holding "*" is refused', () => {
    const wild = {...alice, join: {meta: {join_method: 'github'}, github: {workflow: '*'}}}
    expect(renderTemplate('*.{{ user.name }}.example.org', alice, FIELD, {wildcardFree: true})).toBe('*.alice.example.org')
    expect(() => renderTemplate('{{ join.github.workflow }}.ci.example.org', wild, FIELD, {wildcardFree: true})).toThrow(
      `auth: cannot render ${FIELD}: attribute "join.github.workflow" holds "*": a wildcard may come only from the template itself`,
    )
    expect(renderTemplate('/ci/{{ join.github.workflow }}', wild, FIELD)).toBe('/ci/*')
  })

  it.each([
    ['/bot/{{ user.bot_name }}', 'user.bot_name'],
    ['/{{ user.traits.empty }}', 'user.traits.empty'],
    ['/{{ user.labels["region"] }}', 'user.labels["region"]'], // quoted as user.labels[\"region\"]
    ['/pid/{{ workload.unix.pid }}', 'workload.unix.pid'],
    ['/join/{{ join.meta.join_method }}', 'join.meta.join_method'],
  ])('refuses %j with access_denied because %s is not set', (template, attribute) => {
    // Given a template referring to an attribute alice does not have
    // When it is rendered
    const error = refusal(() => renderTemplate(template, alice, FIELD))
    // Then issuance is refused, naming the field and the attribute
    expect(error.code).toBe('access_denied')
    expect(error.message).toBe(`auth: cannot render spec.spiffe.id: attribute ${JSON.stringify(attribute)} is not set`)
  })

  it('refuses a multi-valued trait with access_denied', () => {
    // Given a template over a trait with two values
    // When it is rendered
    const error = refusal(() => renderTemplate('/login/{{ user.traits.logins }}', alice, FIELD))
    // Then it is refused, saying how many values there are
    expect(error.code).toBe('access_denied')
    expect(error.message).toBe('auth: cannot render spec.spiffe.id: attribute "user.traits.logins" has 2 values; a template needs exactly one')
  })

  it('refuses a malformed template with bad_input before resolving anything', () => {
    // Given a template with an unterminated expression after an unset attribute
    // When it is rendered
    const error = refusal(() => renderTemplate('/{{ user.bot_name }}/{{ user.name', alice, 'spec.spiffe.hint'))
    // Then the syntax error wins, naming the field
    expect(error.code).toBe('bad_input')
    expect(error.message).toBe('auth: spec.spiffe.hint: unterminated "{{"')
  })
})

describe('templates over what the bot agent attested', () => {
  it('renders /svc/{{ workload.unix.uid }} from the attested uid, and refuses a workload without one', () => {
    const uid = (unix: NonNullable<Attributes['workload']>['unix']): Attributes => ({user: {name: 'bot-agent', is_bot: true, bot_name: 'agent', labels: {}, traits: {}}, workload: {unix}})
    // Given uid 1000, and uid 0 (a value, not unset)
    expect(renderTemplate('/svc/{{ workload.unix.uid }}', uid({attested: true, uid: 1000}), FIELD)).toBe('/svc/1000')
    expect(renderTemplate('/svc/{{ workload.unix.uid }}/{{ workload.unix.gid }}', uid({attested: true, uid: 0, gid: 0}), FIELD)).toBe('/svc/0/0')
    // When the uid was not attested
    const error = refusal(() => renderTemplate('/svc/{{ workload.unix.uid }}', uid({attested: false}), FIELD))
    // Then issuance is refused, naming it
    expect([error.code, error.message]).toEqual(['access_denied', 'auth: cannot render spec.spiffe.id: attribute "workload.unix.uid" is not set'])
  })
})

describe('templateAttributes', () => {
  it.each<[string, string[]]>([
    ['/svc/static', []],
    ['/svc/{{ workload.unix.uid }}', ['workload.unix.uid']],
    ['/{{user.name}}/{{ workload.unix.uid }}/{{workload.unix.uid}}/{{ user.traits["team-name"] }}', ['user.name', 'workload.unix.uid', 'user.traits["team-name"]']],
  ])('finds in %j: %j', (template, attributes) => {
    expect(templateAttributes(template, FIELD)).toEqual(attributes)
  })

  it('refuses a malformed template as rendering does', () => {
    const error = refusal(() => templateAttributes('/{{ workload.unix.uid', FIELD))
    expect([error.code, error.message]).toEqual(['bad_input', 'auth: spec.spiffe.id: unterminated "{{"'])
  })
})
