/** Globs whose only wildcard is `*`, and templates seen as globs (src/lib/auth/globs.ts, templateGlob). */
import {describe, expect, it} from 'vitest'
import {globContains, globMatches, globsOverlap, parseGlob} from '../../../src/lib/auth/globs.js'
import {templateGlob} from '../../../src/lib/resources/templates.js'

/** A role pattern is a glob; a workload identity's field is a template, each {{ }} standing for any text. */
const template = (value: string) => templateGlob(value, 'spec.spiffe.id')

describe('globMatches', () => {
  it.each([
    ['/svc/*', '/svc/foo', true],
    ['/svc/*', '/svc/foo/bar', true],
    ['/svc/*', '/svc/', true],
    ['/svc/*', '/svc', false],
    ['/svc/*/db', '/svc/team-a/db', true],
    ['/svc/*/db', '/svc/team-a/cache', false],
    ['/svc/a.b', '/svc/aXb', false],
    ['a*a', 'a', false],
    ['a*a', 'aa', true],
    ['*b*b*', 'xbyb', true],
    ['*b*b*', 'xby', false],
    ['*', '', true],
    ['', '', true],
    ['', 'x', false],
  ])('%j matches %j: %s', (pattern, value, matched) => {
    // Given a glob, When it is matched against a value, Then * stands for any text, the rest is literal
    expect(globMatches(parseGlob(pattern), value)).toBe(matched)
  })
})

describe('globContains: every value the inner template or glob can take, the outer glob matches', () => {
  it.each<[string, string, boolean]>([
    ['/svc/team-a/*', '/svc/team-a/{{ user.name }}', true],
    // no slash after the prefix: renders /svc/team-a-evil, outside /svc/team-a/
    ['/svc/team-a/*', '/svc/team-a{{ user.name }}', false],
    ['/svc/team-a/*', '/svc/team-a/api', true],
    ['/svc/team-a/*', '/svc/team-a', false],
    ['/svc/team-a/*', '/svc/team-b/api', false],
    ['/svc/team-a/*', '/svc/prod-db', false],
    ['/svc/team-a/*', '/svc/{{ user.name }}/x', false],
    ['/svc/team-a/*', '/{{ user.name }}', false],
    ['/svc/*/db', '/svc/{{ user.name }}/db', true],
    ['/svc/*/db', '/svc/{{ user.name }}/{{ workload.unix.uid }}/db', true],
    ['/svc/*/db', '/svc/{{ user.name }}/db/{{ workload.unix.uid }}', false],
    ['/svc/*/api', '/svc/team-a/{{ user.name }}', false],
    ['/svc/*-a/*', '/svc/team-a/{{ user.name }}', true],
    ['/svc/*-a/*', '/svc/{{ user.name }}/y', false],
    ['/a*b*c', '/a{{ user.name }}b{{ workload.unix.uid }}c', true],
    ['/a*c', '/a{{ user.name }}b{{ workload.unix.uid }}c', true],
    ['/a*b*c', '/a{{ user.name }}c', false],
    ['/svc/*', '/svc/{{ user.name }}{{ workload.unix.uid }}', true],
    ['/*', '/{{ user.name }}', true],
    ['/*', '/svc/team-a/{{ user.name }}', true],
    ['*', '{{ user.name }}', true],
    ['/svc/x', '/svc/{{ user.name }}', false],
    // a literal * in the template is a character, which a glob's * covers and a literal does not
    ['/svc/*', '/svc/a*b', true],
    ['/svc/ab', '/svc/a*b', false],
  ])('%j contains %j: %s', (outer, inner, contained) => {
    // Given an allow pattern and a workload identity's template
    // When containment is decided
    // Then it holds exactly when no rendering of the template can fall outside the pattern
    expect(globContains(parseGlob(outer), template(inner))).toBe(contained)
  })

  it('decides containment between two globs', () => {
    // Given globs on both sides, When one is asked to contain the other
    // Then a narrower glob is contained, a wider one or one with a different literal is not
    expect(globContains(parseGlob('*.example.com'), parseGlob('*.api.example.com'))).toBe(true)
    expect(globContains(parseGlob('*.api.example.com'), parseGlob('*.example.com'))).toBe(false)
    expect(globContains(parseGlob('a*'), parseGlob('b*'))).toBe(false)
  })
})

describe('globsOverlap: some value matches both', () => {
  it.each<[string, string, boolean]>([
    ['/svc/*/admin', '/svc/team-a/{{ user.name }}', true],
    ['/svc/prod-*', '/svc/team-a/{{ user.name }}', false],
    ['/svc/prod-db', '/svc/{{ user.name }}', true],
    ['/svc/prod-db', '/svc/team-a/{{ user.name }}', false],
    ['/svc/*-db', '/svc/team-a/{{ user.name }}', true],
    ['/svc/*', '/svc', false],
    ['/svc/team-a/break-glass', '/svc/team-a/break-glass', true],
    ['/svc/team-a/break-glass', '/svc/team-a/api', false],
    ['/x/*', '/y/{{ user.name }}', false],
    ['*', '', true],
    ['a', '', false],
  ])('%j and %j overlap: %s', (deny, inner, overlapping) => {
    // Given a deny pattern and a workload identity's template
    // When their overlap is decided
    // Then it is found exactly when some rendering matches the pattern
    expect(globsOverlap(parseGlob(deny), template(inner))).toBe(overlapping)
  })

  it.each<[string, string, boolean]>([
    ['/a*', '*b', true],
    ['a*', 'b*', false],
    ['*a', '*b', false],
    ['a*b*c', '*x*', true],
    ['ab', 'a*b', true],
    ['abc', 'a*d', false],
  ])('globs %j and %j overlap: %s', (a, b, overlapping) => {
    // Given two globs, When their overlap is decided, Then it is symmetric and exact
    expect(globsOverlap(parseGlob(a), parseGlob(b))).toBe(overlapping)
    expect(globsOverlap(parseGlob(b), parseGlob(a))).toBe(overlapping)
  })
})
