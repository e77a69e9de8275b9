/** `KIND[/NAME]` references (src/lib/resources/refs.ts): the CLI's and the server API's kinds. */
import {describe, expect, it} from 'vitest'
import {parseKind, parseKindRef, parseLabelSelector} from '../../../src/lib/resources/refs.js'
import {refusal} from '../../helpers/errors.js'

const KNOWN = 'known: workload_identity, role, bot, user, token, integration'

describe('parseKind', () => {
  it.each([
    ['workload_identity', 'workload_identity'],
    ['wi', 'workload_identity'],
    ['tokens', 'token'],
  ])('takes %j as %j', (value, kind) => {
    // Given a kind or one of its aliases, When it is parsed, Then it is the kind
    expect(parseKind(value)).toBe(kind)
  })

  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'])('refuses %j, a name every object inherits', (value) => {
    // Given a name that Object.prototype has (the server API passes a request's kind here)
    // When it is parsed
    const error = refusal(() => parseKind(value))
    // Then it is an unknown kind, not a function found on the prototype
    expect([error.code, error.message]).toEqual(['bad_input', `unknown kind "${value}" (${KNOWN})`])
  })

  it('refuses them in KIND/NAME too', () => {
    const error = refusal(() => parseKindRef('constructor/x', true))
    expect([error.code, error.message]).toEqual(['bad_input', `unknown kind "constructor" (${KNOWN})`])
  })
})

describe('parseLabelSelector', () => {
  it('takes a label key that every object inherits as a key like any other', () => {
    // Given --labels constructor=x,toString=y, When it is parsed, Then both are labels (not "given twice")
    expect(parseLabelSelector('constructor=x,toString=y')).toEqual({constructor: 'x', toString: 'y'})
  })
})
