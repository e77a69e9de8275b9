import {describe, expect, it} from 'vitest'
import {SpiffeId, TrustDomain} from '../../../src/lib/spiffeid/index.js'
import {BYTES, PATH_SEGMENT_CHARS, TRUST_DOMAIN_CHARS, expectBadInput, shown} from './helpers.js'

const TOO_LONG = 'spiffeid: SPIFFE ID cannot be longer than 2048 bytes'
const td = TrustDomain.parse('example.org')

describe('SpiffeId.parse', () => {
  it('parses an ID with a path', () => {
    // Given an ID with a path, When it is parsed
    const id = SpiffeId.parse('spiffe://example.org/ns/prod/sa/Web')
    // Then its parts are split at the first slash after the trust domain
    expect(id.trustDomain.name).toBe('example.org')
    expect(id.path).toBe('/ns/prod/sa/Web')
    expect(id.isRoot()).toBe(false)
  })

  it('parses an ID without a path as the root', () => {
    const id = SpiffeId.parse('spiffe://example.org')
    expect(id.trustDomain.name).toBe('example.org')
    expect(id.path).toBe('')
    expect(id.isRoot()).toBe(true)
  })

  it.each([
    'spiffe://example.org',
    'spiffe://example.org/a',
    'spiffe://example.org/Upper/CASE',
    'spiffe://a_b-c.d/e_f-G.h/...',
    'spiffe://0/.a/..b/a.',
    'spiffe://x/' + 'A'.repeat(100),
  ])('round-trips %j through toString', (text) => {
    expect(SpiffeId.parse(text).toString()).toBe(text)
    expect(`${SpiffeId.parse(text)}`).toBe(text)
  })

  it('refuses the empty string', () => {
    expectBadInput(() => SpiffeId.parse(''), 'spiffeid: cannot be empty')
  })

  it.each([
    'example.org',
    'example.org/a',
    '//example.org/a',
    '/a',
    'https://example.org/a',
    'SPIFFE://example.org/a',
    'Spiffe://example.org/a',
    'spiffe:/example.org/a',
    'spiffe:example.org/a',
    'spiffe//example.org/a',
    ' spiffe://example.org/a',
  ])('refuses the missing or wrong scheme in %j', (text) => {
    expectBadInput(() => SpiffeId.parse(text), 'spiffeid: scheme is missing or invalid')
  })

  it.each(['spiffe://', 'spiffe:///a', 'spiffe:////'])('refuses the missing trust domain in %j', (text) => {
    expectBadInput(() => SpiffeId.parse(text), 'spiffeid: trust domain is missing')
  })

  it('refuses an uppercase trust domain', () => {
    expectBadInput(() => SpiffeId.parse('spiffe://Example.org/a'), `${TRUST_DOMAIN_CHARS} (found "E")`)
  })

  it.each(['spiffe://example.org:443', 'spiffe://example.org:443/a', 'spiffe://example.org:/a'])(
    'refuses the port in %j',
    (text) => {
      expectBadInput(() => SpiffeId.parse(text), 'spiffeid: trust domain cannot contain a port')
    },
  )

  it.each(['spiffe://user@example.org/a', 'spiffe://user:pass@example.org/a'])('refuses the userinfo in %j', (text) => {
    expectBadInput(() => SpiffeId.parse(text), 'spiffeid: trust domain cannot contain userinfo')
  })

  it('refuses percent-encoding in the trust domain and in the path', () => {
    expectBadInput(
      () => SpiffeId.parse('spiffe://exa%6Dple.org/a'),
      'spiffeid: trust domain cannot contain percent-encoded characters',
    )
    expectBadInput(
      () => SpiffeId.parse('spiffe://example.org/a%20b'),
      'spiffeid: path cannot contain percent-encoded characters',
    )
  })

  it('refuses a query after the trust domain and after the path', () => {
    expectBadInput(() => SpiffeId.parse('spiffe://example.org?x=1'), 'spiffeid: trust domain cannot contain a query ("?")')
    expectBadInput(() => SpiffeId.parse('spiffe://example.org/a?x=1'), 'spiffeid: path cannot contain a query ("?")')
  })

  it('refuses a fragment after the trust domain and after the path', () => {
    expectBadInput(() => SpiffeId.parse('spiffe://example.org#x'), 'spiffeid: trust domain cannot contain a fragment ("#")')
    expectBadInput(() => SpiffeId.parse('spiffe://example.org/a#x'), 'spiffeid: path cannot contain a fragment ("#")')
  })

  it.each(['spiffe://example.org/.', 'spiffe://example.org/..', 'spiffe://example.org/a/./b', 'spiffe://example.org/a/../b'])(
    'refuses the dot segment in %j',
    (text) => {
      expectBadInput(() => SpiffeId.parse(text), 'spiffeid: path cannot contain dot segments')
    },
  )

  it.each(['spiffe://example.org//', 'spiffe://example.org//a', 'spiffe://example.org/a//b'])(
    'refuses the empty segment in %j',
    (text) => {
      expectBadInput(() => SpiffeId.parse(text), 'spiffeid: path cannot contain empty segments')
    },
  )

  it.each(['spiffe://example.org/', 'spiffe://example.org/a/'])('refuses the trailing slash in %j', (text) => {
    expectBadInput(() => SpiffeId.parse(text), 'spiffeid: path cannot have a trailing slash')
  })

  it('accepts a trust domain of exactly 255 bytes and refuses 256', () => {
    const atLimit = 'a'.repeat(255)
    expect(SpiffeId.parse(`spiffe://${atLimit}/a`).trustDomain.name).toBe(atLimit)
    expectBadInput(
      () => SpiffeId.parse(`spiffe://${atLimit}a/a`),
      'spiffeid: trust domain cannot be longer than 255 bytes',
    )
  })

  it('accepts an ID of exactly 2048 bytes and refuses 2049', () => {
    // Given IDs at and just over the limit
    const atLimit = 'spiffe://example.org/' + 'a'.repeat(2048 - 'spiffe://example.org/'.length)
    expect(atLimit).toHaveLength(2048)
    // Then the limit round-trips and one byte more is refused
    expect(SpiffeId.parse(atLimit).toString()).toBe(atLimit)
    expectBadInput(() => SpiffeId.parse(`${atLimit}a`), TOO_LONG)
    expectBadInput(() => SpiffeId.parse(`${atLimit}/b`), TOO_LONG)
  })

  it('counts the longest trust domain towards the 2048 bytes', () => {
    const prefix = `spiffe://${'a'.repeat(255)}/`
    const atLimit = prefix + 'b'.repeat(2048 - prefix.length)
    expect(SpiffeId.parse(atLimit).toString()).toBe(atLimit)
    expectBadInput(() => SpiffeId.parse(`${atLimit}b`), TOO_LONG)
  })

  it.each(BYTES.filter(([, c]) => c !== '/'))('accepts byte %s in the trust domain exactly when it is allowed', (_, c) => {
    // Given an ID whose trust domain contains the byte, When it is parsed
    const text = `spiffe://a${c}b/p`
    // Then only the allowed set is accepted, and anything else is refused with its message
    if (/^[a-z0-9._-]$/.test(c)) expect(SpiffeId.parse(text).toString()).toBe(text)
    else expectBadInput(() => SpiffeId.parse(text), trustDomainCharError(c))
  })

  it.each(BYTES)('accepts byte %s in the path exactly when it is allowed', (_, c) => {
    const text = `spiffe://example.org/a${c}b`
    if (/^[a-zA-Z0-9._/-]$/.test(c)) expect(SpiffeId.parse(text).toString()).toBe(text)
    else expectBadInput(() => SpiffeId.parse(text), pathCharError(c))
  })
})

describe('SpiffeId.fromPath', () => {
  it('builds an ID from a trust domain and a path', () => {
    const id = SpiffeId.fromPath(td, '/ns/prod')
    expect(id.toString()).toBe('spiffe://example.org/ns/prod')
    expect(id.trustDomain).toBe(td)
    expect(id.path).toBe('/ns/prod')
    expect(id.equals(SpiffeId.parse('spiffe://example.org/ns/prod'))).toBe(true)
  })

  it('builds the root ID from an empty path', () => {
    const id = SpiffeId.fromPath(td, '')
    expect(id.toString()).toBe('spiffe://example.org')
    expect(id.isRoot()).toBe(true)
  })

  it.each([
    ['a', 'spiffeid: path must have a leading slash'],
    ['/', 'spiffeid: path cannot have a trailing slash'],
    ['/a/', 'spiffeid: path cannot have a trailing slash'],
    ['//a', 'spiffeid: path cannot contain empty segments'],
    ['/..', 'spiffeid: path cannot contain dot segments'],
    ['/a/./b', 'spiffeid: path cannot contain dot segments'],
    ['/a?b', 'spiffeid: path cannot contain a query ("?")'],
    ['/a#b', 'spiffeid: path cannot contain a fragment ("#")'],
    ['/a%2F', 'spiffeid: path cannot contain percent-encoded characters'],
    ['/a b', `${PATH_SEGMENT_CHARS} (found " ")`],
  ])('refuses the path %j', (path, message) => {
    expectBadInput(() => SpiffeId.fromPath(td, path), message)
  })

  it('accepts a path making the ID exactly 2048 bytes and refuses 2049', () => {
    // Given the longest trust domain, When the path fills the ID to the limit
    const longTd = TrustDomain.parse('a'.repeat(255))
    const path = '/' + 'b'.repeat(2048 - 'spiffe://'.length - 255 - 1)
    // Then it is accepted, and one more byte is refused
    expect(SpiffeId.fromPath(longTd, path).toString()).toHaveLength(2048)
    expectBadInput(() => SpiffeId.fromPath(longTd, `${path}b`), TOO_LONG)
  })

  it.each(BYTES)('accepts byte %s in the path exactly when it is allowed', (_, c) => {
    const path = `/a${c}b`
    if (/^[a-zA-Z0-9._/-]$/.test(c)) expect(SpiffeId.fromPath(td, path).path).toBe(path)
    else expectBadInput(() => SpiffeId.fromPath(td, path), pathCharError(c))
  })
})

describe('SpiffeId comparisons', () => {
  it('equals an ID with the same trust domain and path', () => {
    const id = SpiffeId.parse('spiffe://example.org/a')
    expect(id.equals(SpiffeId.fromPath(TrustDomain.parse('spiffe://example.org'), '/a'))).toBe(true)
    expect(id.equals(SpiffeId.parse('spiffe://example.org/A'))).toBe(false)
    expect(id.equals(SpiffeId.parse('spiffe://example.org'))).toBe(false)
    expect(id.equals(SpiffeId.parse('spiffe://example.com/a'))).toBe(false)
  })

  it('is a member of its own trust domain only', () => {
    const id = SpiffeId.parse('spiffe://example.org/a/b')
    expect(id.memberOf(td)).toBe(true)
    expect(SpiffeId.parse('spiffe://example.org').memberOf(td)).toBe(true)
    expect(id.memberOf(TrustDomain.parse('example.com'))).toBe(false)
    expect(id.memberOf(TrustDomain.parse('org'))).toBe(false)
    expect(SpiffeId.parse('spiffe://sub.example.org/a').memberOf(td)).toBe(false)
  })
})

function trustDomainCharError(c: string): string {
  const specific: Record<string, string> = {
    ':': 'spiffeid: trust domain cannot contain a port',
    '@': 'spiffeid: trust domain cannot contain userinfo',
    '%': 'spiffeid: trust domain cannot contain percent-encoded characters',
    '?': 'spiffeid: trust domain cannot contain a query ("?")',
    '#': 'spiffeid: trust domain cannot contain a fragment ("#")',
  }
  return specific[c] ?? `${TRUST_DOMAIN_CHARS} (found ${shown(c)})`
}

function pathCharError(c: string): string {
  const specific: Record<string, string> = {
    '?': 'spiffeid: path cannot contain a query ("?")',
    '#': 'spiffeid: path cannot contain a fragment ("#")',
    '%': 'spiffeid: path cannot contain percent-encoded characters',
  }
  return specific[c] ?? `${PATH_SEGMENT_CHARS} (found ${shown(c)})`
}
