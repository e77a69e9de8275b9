import {describe, expect, it} from 'vitest'
import {isoString, parseInstant, parseTimeOrAgo} from '../../src/lib/time.js'
import {WidError} from '../../src/lib/errors.js'

describe('isoString', () => {
  it('matches Date.prototype.toISOString', () => {
    // Given edge instants (epoch, leap day, year and millisecond boundaries, the limits of
    // the fast path) and many random ones
    const edges = [0, 1, 9, 10, 99, 100, 999, Date.UTC(2024, 1, 29, 23, 59, 59, 999), Date.UTC(2049, 11, 31, 23, 59, 59, 5)]
    const limits = [Date.UTC(1000, 0, 1), Date.UTC(999, 11, 31, 23, 59, 59, 999), Date.UTC(9999, 11, 31, 23, 59, 59, 999), Date.UTC(10000, 0, 1), -1]
    const random = Array.from({length: 2000}, () => Math.floor(Math.random() * Date.UTC(2200, 0, 1)))
    for (const ms of [...edges, ...limits, ...random]) {
      // Then each is formatted exactly as the built-in does
      expect([ms, isoString(new Date(ms))]).toEqual([ms, new Date(ms).toISOString()])
    }
  })
})

describe('parseInstant', () => {
  it('reads RFC 3339 instants with a zone', () => {
    expect(parseInstant('2026-12-01T00:00:00Z', 'time').toISOString()).toBe('2026-12-01T00:00:00.000Z')
    expect(parseInstant('2026-12-01T01:30:00+01:30', 'time').toISOString()).toBe('2026-12-01T00:00:00.000Z')
  })

  it('refuses dates that do not exist and times without a zone', () => {
    for (const bad of ['2026-02-30T00:00:00Z', '2026-12-01T00:00:00', '2026-12-01', 'tomorrow', '2026-12-01T24:00:00Z']) {
      expect(() => parseInstant(bad, 'time')).toThrow(WidError)
      expect(() => parseInstant(bad, 'time')).toThrow(/invalid time/)
    }
  })
})

describe('parseTimeOrAgo', () => {
  const now = new Date('2026-12-02T12:00:00Z')

  it('reads a duration as that long before now, and an RFC 3339 time as itself', () => {
    expect(parseTimeOrAgo('24h', '--since', now).toISOString()).toBe('2026-12-01T12:00:00.000Z')
    expect(parseTimeOrAgo('1h30m', '--since', now).toISOString()).toBe('2026-12-02T10:30:00.000Z')
    expect(parseTimeOrAgo('2026-12-01T00:00:00Z', '--since', now).toISOString()).toBe('2026-12-01T00:00:00.000Z')
  })

  it('refuses anything else in one line naming the flag', () => {
    for (const bad of ['yesterday', '2026-12-01', '5d', '']) {
      expect(() => parseTimeOrAgo(bad, '--before', now)).toThrow(/^invalid --before ".*" \(expected a time such as 2026-12-01T00:00:00Z, or a duration ago such as 24h or 90m\)$/)
    }
    expect(() => parseTimeOrAgo('0h', '--since', now)).toThrow(/must be greater than zero/)
  })

  it('refuses times outside the years 1000 to 9999, which would sort wrongly among stored times', () => {
    expect(() => parseTimeOrAgo('99999999999h', '--since', now)).toThrow(/^invalid --since "99999999999h" \(too long ago: before the year 1000\)$/)
    expect(() => parseTimeOrAgo('9999-12-31T23:59:59-14:00', '--since', now)).toThrow(/^invalid --since "9999-12-31T23:59:59-14:00" \(expected a time such as 2026-12-01T00:00:00Z\)$/)
    expect(parseTimeOrAgo('9999-12-31T23:59:59Z', '--since', now).toISOString()).toBe('9999-12-31T23:59:59.000Z')
  })
})
