/** Regular expressions that can backtrack catastrophically (src/lib/resources/regex-safety.ts). */
import {describe, expect, it} from 'vitest'
import {backtrackingHazard} from '../../../src/lib/resources/regex-safety.js'

describe('backtrackingHazard', () => {
  it.each([
    // the review's pattern: each extra character doubled the time of one issuance
    ['^/svc/([a-z0-9-]+)*$', 'a repeated group contains a quantifier: ([a-z0-9-]+)*'],
    ['^(a+)+$', 'a repeated group contains a quantifier: (a+)+'],
    ['^(a*)*$', 'a repeated group contains a quantifier: (a*)*'],
    ['^(?:a?){25}a{25}$', 'a repeated group contains a quantifier: (?:a?){25}'],
    ['^(a+){2,}$', 'a repeated group contains a quantifier: (a+){2,}'],
    ['^(a+)+?$', 'a repeated group contains a quantifier: (a+)+?'],
    ['^((ab)*c)+$', 'a repeated group contains a quantifier: ((ab)*c)+'],
    ['^(\\d+\\.)+$', 'a repeated group contains a quantifier: (\\d+\\.)+'],
    ['^(?=a+)*b$', 'a repeated group contains a quantifier: (?=a+)*'],
    ['^(a|a)*$', 'a repeated group has alternatives that do not each start with a different character: (a|a)*'],
    ['^(a|aa)+$', 'a repeated group has alternatives that do not each start with a different character: (a|aa)+'],
    ['^(?i:(a|b|A)*)$', 'a repeated group has alternatives that do not each start with a different character: (a|b|A)*'],
    ['^([a-z]|x)*$', 'a repeated group has alternatives that do not each start with a different character: ([a-z]|x)*'],
    ['^(|a)*$', 'a repeated group has alternatives that do not each start with a different character: (|a)*'],
    ['^(x(a|ab)(c|bc))*$', 'a repeated group has alternatives that do not each start with a different character: (x(a|ab)(c|bc))*'],
    ['^(\\x61|a)*$', 'a repeated group has alternatives that do not each start with a different character: (\\x61|a)*'],
  ])('refuses %j: %s', (pattern, hazard) => {
    // Given a pattern whose repeated group can match the same text in many ways
    // When it is analysed
    // Then the hazard names the construct
    expect(backtrackingHazard(pattern)).toBe(hazard)
  })

  it.each([
    '^/svc/[a-z0-9-]+$',
    '^prod-.*$',
    '^(eu|us)-[0-9]+$',
    '^/svc/(foo|bar)$',
    '^(ab)*$',
    '^(a|b)*$',
    '^(a|b|A)*$',
    '^(foo|bar|\\.baz)+$',
    '^/svc/[a-z]+(/[a-z]+)?$',
    '^(a+)?$',
    '^(?:a+){1}$',
    '^[(]+[)]*$',
    '^\\(a+\\)*$',
    '^a{2,5}b*$',
    '^x{$',
    '^(?<team>[a-z]+)-\\k<team>$',
    '^[^/]+/(?:[a-z]|\\])?$',
  ])('accepts %j', (pattern) => {
    // Given a pattern that matches in linear time (no repeated group holds a quantifier or ambiguous alternatives)
    // When it is analysed, Then there is no hazard
    expect(backtrackingHazard(pattern)).toBeUndefined()
  })
})
