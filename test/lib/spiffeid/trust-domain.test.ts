import {describe, expect, it} from 'vitest'
import {TrustDomain, trustDomainFromHostname} from '../../../src/lib/spiffeid/index.js'
import {BYTES, TRUST_DOMAIN_CHARS, expectBadInput, shown} from './helpers.js'

const NAME_CHAR = /^[a-z0-9._-]$/

/** The message for `c` inside a trust domain name, or undefined when it is allowed. */
function nameCharError(c: string): string | undefined {
  if (NAME_CHAR.test(c)) return undefined
  if (c === ':') return 'spiffeid: trust domain cannot contain a port'
  if (c === '@') return 'spiffeid: trust domain cannot contain userinfo'
  if (c === '%') return 'spiffeid: trust domain cannot contain percent-encoded characters'
  if (c === '?') return 'spiffeid: trust domain cannot contain a query ("?")'
  if (c === '#') return 'spiffeid: trust domain cannot contain a fragment ("#")'
  return `${TRUST_DOMAIN_CHARS} (found ${shown(c)})`
}

describe('TrustDomain.parse', () => {
  it('parses a bare name', () => {
    // Given a bare name, When it is parsed
    const td = TrustDomain.parse('example.org')
    // Then the name, the string form and the ID form follow from it
    expect(td.name).toBe('example.org')
    expect(td.toString()).toBe('example.org')
    expect(`${td}`).toBe('example.org')
    expect(td.idString()).toBe('spiffe://example.org')
  })

  it('parses the ID of a trust domain', () => {
    const td = TrustDomain.parse('spiffe://example.org')
    expect(td.name).toBe('example.org')
    expect(td.idString()).toBe('spiffe://example.org')
  })

  it.each(['a', '0', 'my_domain', 'a-b.c_d.0-9', '...', '-', '_', 'a..b'])('accepts the name %j', (name) => {
    expect(TrustDomain.parse(name).name).toBe(name)
    expect(TrustDomain.parse(`spiffe://${name}`).name).toBe(name)
  })

  it.each(['spiffe://example.org/a', 'spiffe://example.org/', 'spiffe://example.org/a/b'])(
    'refuses the ID with a path %j',
    (id) => {
      expectBadInput(() => TrustDomain.parse(id), 'spiffeid: trust domain ID cannot have a path')
    },
  )

  it.each(['', 'spiffe://'])('refuses the empty name in %j', (nameOrId) => {
    expectBadInput(() => TrustDomain.parse(nameOrId), 'spiffeid: trust domain is missing')
  })

  it.each(['https://example.org', 'SPIFFE://example.org', 'Spiffe://example.org', 'spiffe:/example.org', '://example.org'])(
    'refuses the wrong scheme in %j',
    (id) => {
      expectBadInput(() => TrustDomain.parse(id), 'spiffeid: scheme is missing or invalid')
    },
  )

  it.each([
    ['Example.org', '"E"'],
    ['EXAMPLE.ORG', '"E"'],
    ['spiffe://example.Org', '"O"'],
  ])('refuses the uppercase in %j', (nameOrId, found) => {
    expectBadInput(() => TrustDomain.parse(nameOrId), `${TRUST_DOMAIN_CHARS} (found ${found})`)
  })

  it.each([
    ['ex ample.org', '" "'],
    ['exämple.org', 'U+00E4'],
    ['example.org\u0000', 'U+0000'],
    ['example.org\n', 'U+000A'],
    ['\u{1f600}.org', 'U+1F600'],
    ['example.org/a', '"/"'],
  ])('refuses %j naming the character found', (name, found) => {
    expectBadInput(() => TrustDomain.parse(name), `${TRUST_DOMAIN_CHARS} (found ${found})`)
  })

  it.each(['example.org:8080', 'example.org:', 'spiffe://example.org:8080'])('refuses the port in %j', (nameOrId) => {
    expectBadInput(() => TrustDomain.parse(nameOrId), 'spiffeid: trust domain cannot contain a port')
  })

  it.each(['user@example.org', 'spiffe://user@example.org', 'spiffe://user:pass@example.org', '@example.org'])(
    'refuses the userinfo in %j',
    (nameOrId) => {
      expectBadInput(() => TrustDomain.parse(nameOrId), 'spiffeid: trust domain cannot contain userinfo')
    },
  )

  it.each(['exa%6Dple.org', 'spiffe://example%2Eorg'])('refuses the percent-encoding in %j', (nameOrId) => {
    expectBadInput(
      () => TrustDomain.parse(nameOrId),
      'spiffeid: trust domain cannot contain percent-encoded characters',
    )
  })

  it('refuses a query or a fragment after the name', () => {
    expectBadInput(() => TrustDomain.parse('spiffe://example.org?x=1'), 'spiffeid: trust domain cannot contain a query ("?")')
    expectBadInput(() => TrustDomain.parse('spiffe://example.org#x'), 'spiffeid: trust domain cannot contain a fragment ("#")')
  })

  it('accepts a name of exactly 255 bytes and refuses 256', () => {
    // Given names at and just over the limit
    const atLimit = 'a'.repeat(251) + '.org'
    const overLimit = 'a'.repeat(252) + '.org'
    expect(atLimit).toHaveLength(255)
    // Then the limit is accepted in both forms and one byte more is refused in both forms
    expect(TrustDomain.parse(atLimit).name).toBe(atLimit)
    expect(TrustDomain.parse(`spiffe://${atLimit}`).name).toBe(atLimit)
    expectBadInput(() => TrustDomain.parse(overLimit), 'spiffeid: trust domain cannot be longer than 255 bytes')
    expectBadInput(
      () => TrustDomain.parse(`spiffe://${overLimit}`),
      'spiffeid: trust domain cannot be longer than 255 bytes',
    )
  })

  it.each(BYTES)('accepts byte %s in a bare name exactly when it is allowed', (_, c) => {
    const name = `a${c}b`
    const error = nameCharError(c)
    if (error === undefined) expect(TrustDomain.parse(name).name).toBe(name)
    else expectBadInput(() => TrustDomain.parse(name), error)
  })

  it.each(BYTES.filter(([, c]) => c !== '/'))('accepts byte %s in an ID exactly when it is allowed', (_, c) => {
    const name = `a${c}b`
    const error = nameCharError(c)
    if (error === undefined) expect(TrustDomain.parse(`spiffe://${name}`).name).toBe(name)
    else expectBadInput(() => TrustDomain.parse(`spiffe://${name}`), error)
  })
})

describe('TrustDomain.equals', () => {
  it('compares by name, whichever form was parsed', () => {
    expect(TrustDomain.parse('example.org').equals(TrustDomain.parse('spiffe://example.org'))).toBe(true)
    expect(TrustDomain.parse('example.org').equals(TrustDomain.parse('example.com'))).toBe(false)
  })
})

describe('trustDomainFromHostname', () => {
  it.each([
    ['My_Host.Example.COM', 'my_host.example.com'],
    ['host:with:colons', 'host-with-colons'],
    ['host name.local', 'host-name.local'],
    ['héllo', 'h-llo'],
    ['a\u{1f600}b', 'a-b'],
    ['.-host-.', 'host'],
    ['-_host_-', '_host_'],
    ['example.org', 'example.org'],
  ])('derives %j as %j', (hostname, name) => {
    expect(trustDomainFromHostname(hostname).name).toBe(name)
  })

  it.each(['', '---', '...', '.-.', ':::'])('falls back to wid.local for %j', (hostname) => {
    expect(trustDomainFromHostname(hostname).name).toBe('wid.local')
  })

  it('truncates a 300-character name to 255 bytes', () => {
    expect(trustDomainFromHostname('a'.repeat(300)).name).toBe('a'.repeat(255))
  })

  it('trims leading dashes before truncating and trailing dots after', () => {
    // Given a long name with leading dashes, Then they do not count against the limit
    expect(trustDomainFromHostname('-'.repeat(50) + 'a'.repeat(300)).name).toBe('a'.repeat(255))
    // Given a long name whose cut falls just after a dot, Then the dot is trimmed
    expect(trustDomainFromHostname('a'.repeat(254) + '.' + 'b'.repeat(45)).name).toBe('a'.repeat(254))
  })

  it.each(BYTES)('derives a valid name for byte %s', (_, c) => {
    // Given a host name holding the byte, When a trust domain is derived
    const lower = c >= 'A' && c <= 'Z' ? c.toLowerCase() : c
    // Then an allowed byte is kept (lowercased) and any other becomes a dash
    expect(trustDomainFromHostname(`a${c}b`).name).toBe(NAME_CHAR.test(lower) ? `a${lower}b` : 'a-b')
  })
})
