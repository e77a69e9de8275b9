import {describe, expect, it} from 'vitest'
import {checkLabelSelector} from '../../../src/lib/resources/role-patterns.js'
import type {LabelValues} from '../../../src/lib/resources/types.js'
import {refusal} from '../../helpers/errors.js'

describe('checkLabelSelector', () => {
  const FIELD = 'spec.allow.workload_identity_labels'

  it('accepts exact values, "*" and valid regexes', () => {
    // Given a selector using every kind of pattern
    // When it is checked, Then nothing is thrown
    expect(() => checkLabelSelector({example: ['getting-started'], env: '^prod-.*$', team: '*'}, FIELD)).not.toThrow()
    expect(() => checkLabelSelector({'*': '*'}, FIELD)).not.toThrow()
  })

  it.each<[string, Record<string, LabelValues>, string]>([
    ['an empty key', {'': 'prod'}, 'auth: spec.allow.workload_identity_labels: label key must not be empty'],
    ['a key without values', {env: []}, 'auth: spec.allow.workload_identity_labels.env: at least one value is required'],
    ['the "*" key with another value', {'*': 'prod'}, 'auth: spec.allow.workload_identity_labels: the "*" key only takes the value "*"'],
  ])('refuses %s with bad_input', (_, selector, message) => {
    // Given a malformed selector
    // When it is checked
    const error = refusal(() => checkLabelSelector(selector, FIELD))
    // Then it is bad_input naming the field (and key) and the problem
    expect(error.code).toBe('bad_input')
    expect(error.message).toBe(message)
  })
})
