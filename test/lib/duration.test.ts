/** Go-style durations (src/lib/duration.ts). */
import {describe, expect, it} from 'vitest'
import {describeTimeLeft, formatDuration, parseDuration} from '../../src/lib/duration.js'
import {refusal} from '../helpers/errors.js'

describe('parseDuration', () => {
  it.each([
    ['8h', 8 * 3600],
    ['90m', 90 * 60],
    ['1h30m', 5400],
    ['45s', 45],
    ['1h30m15s', 5415],
    ['1s', 1],
    ['720h', 720 * 3600],
  ])('parses %j as %d seconds', (text, seconds) => {
    // Given a well-formed duration
    // When it is parsed
    // Then it is the expected number of whole seconds
    expect(parseDuration(text)).toBe(seconds)
  })

  it.each(['banana', '', '0h', '-1h', '1.5h', '1d', 'h', '1h 30m'])('refuses %j with bad_input, quoting it and giving an example', (text) => {
    // Given a malformed or non-positive duration
    // When it is parsed
    const error = refusal(() => parseDuration(text))
    // Then it is bad_input, the message quotes the input and shows what a valid duration looks like
    expect(error.code).toBe('bad_input')
    expect(error.message).toContain(`"${text}"`)
    expect(error.message).toMatch(/8h|90m|1h30m/)
  })

  it('names what was being parsed in the message', () => {
    // Given a caller that parses a --ttl flag
    // When the value is malformed
    const error = refusal(() => parseDuration('soon', 'ttl'))
    // Then the message says which value was wrong
    expect(error.message).toContain('invalid ttl "soon"')
  })

  it('refuses a total that is not a safe integer', () => {
    // Given a duration whose seconds overflow a double's integer range
    const huge = `${'9'.repeat(20)}h`
    // When it is parsed
    const error = refusal(() => parseDuration(huge))
    // Then it is refused as too large rather than rounded
    expect(error.code).toBe('bad_input')
    expect(error.message).toContain('too large')
  })
})

describe('formatDuration', () => {
  it.each([
    [3600, '1h'],
    [5400, '1h30m'],
    [45, '45s'],
    [90 * 60, '1h30m'],
    [5415, '1h30m15s'],
    [3601, '1h1s'],
    [86400, '24h'],
    [0, '0s'],
  ])('formats %d seconds as %j', (seconds, text) => {
    // Given a whole number of seconds
    // When it is formatted
    // Then it is the shortest Go-style spelling
    expect(formatDuration(seconds)).toBe(text)
  })

  it('round-trips through parseDuration', () => {
    // Given positive durations across all unit combinations
    for (const seconds of [1, 59, 60, 61, 3599, 3600, 3601, 3660, 5415, 86399, 86400, 31_536_000, 123_456_789]) {
      // When formatted and parsed back
      // Then the same number of seconds comes back
      expect(parseDuration(formatDuration(seconds))).toBe(seconds)
    }
    // And strings in the canonical form survive the opposite round trip
    for (const text of ['8h', '90m', '1h30m', '45s', '1h30m15s']) expect(formatDuration(parseDuration(text))).toBe(text === '90m' ? '1h30m' : text)
  })

  it.each([
    [3599, '59m59s left'],
    [86400, '24h left'],
    [2 * 86400 + 3 * 3600 + 59, '2d3h left'],
    [0, 'expired 0s ago'],
    [-300, 'expired 5m ago'],
    [-3 * 86400, 'expired 3d0h ago'],
  ])('describeTimeLeft(%i) is "%s"', (seconds, text) => {
    expect(describeTimeLeft(seconds)).toBe(text)
  })
})
