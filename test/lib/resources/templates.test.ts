import {describe, expect, it} from 'vitest'
import {unknownAttribute} from '../../../src/lib/resources/attribute-names.js'
import {checkTemplate, isTemplated, templateGlob} from '../../../src/lib/resources/templates.js'
import {refusal} from '../../helpers/errors.js'

const FIELD = 'spec.spiffe.id'
const template = (value: string) => templateGlob(value, FIELD)

describe('checkTemplate', () => {
  it.each(['/svc/foo', '/user/{{ user.name }}', '{{user.traits["team-name"]}}-{{ join.github.repository }}', '/a}}'])('accepts %j', (template) => {
    // Given a well-formed template
    // When it is checked
    // Then nothing is thrown
    expect(() => checkTemplate(template, FIELD)).not.toThrow()
  })

  it.each([
    ['/user/{{ user.name', 'auth: spec.spiffe.id: unterminated "{{"'],
    ['/user/{{', 'auth: spec.spiffe.id: unterminated "{{"'],
    ['/{{ {{ user.name }}', 'auth: spec.spiffe.id: unterminated "{{"'],
    ['/{{ user.name }}/{{ user.name }', 'auth: spec.spiffe.id: unterminated "{{"'],
    ['/user/{{}}', 'auth: spec.spiffe.id: empty expression "{{}}"'],
    ['/user/{{  }}', 'auth: spec.spiffe.id: empty expression "{{  }}"'],
  ])('refuses the syntax error in %j', (template, message) => {
    // Given a "{{" that does not start a well-formed expression
    // When the template is checked
    const error = refusal(() => checkTemplate(template, FIELD))
    // Then it is bad_input naming the field and the problem
    expect(error.code).toBe('bad_input')
    expect(error.message).toBe(message)
  })

  it.each(['user.nmae', 'user.name | lower', 'user.traits.team-name'])('refuses the unknown attribute %j', (attribute) => {
    // Given a template referring to something that is not an attribute
    // When it is checked
    const error = refusal(() => checkTemplate(`/x/{{ ${attribute} }}`, FIELD))
    // Then it is bad_input naming the field and the attribute
    expect(error.code).toBe('bad_input')
    expect(error.message).toBe(`auth: spec.spiffe.id: ${unknownAttribute(attribute)}`)
    expect(error.message).toContain(`unknown attribute "${attribute}" (known: user.name, user.is_bot,`)
  })
})

describe('isTemplated', () => {
  it.each([
    ['/svc/foo', false],
    ['/user/{{ user.name }}', true],
    ['/a}}', false],
  ])('says whether %j holds an expression: %s', (template, templated) => {
    // Given a field value
    // When it is inspected
    // Then only text with "{{" counts as templated
    expect(isTemplated(template)).toBe(templated)
  })
})

describe('templateGlob', () => {
  it.each([
    ['/svc/team-a/{{ user.name }}', ['/svc/team-a/', '']],
    ['/svc/team-a{{user.name}}', ['/svc/team-a', '']],
    ['/{{ user.name }}/{{ workload.unix.uid }}/x', ['/', '/', '/x']],
    ['/svc/static', ['/svc/static']],
    ['/a*b', ['/a*b']],
  ])('%j is the glob %j', (value, parts) => {
    // Given a template, When it is seen as a glob
    // Then each expression is a wildcard and the text around it, even a literal *, is literal
    expect(template(value)).toEqual(parts)
  })
})
