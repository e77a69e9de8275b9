import {describe, expect, it} from 'vitest'
import {joinPathSegments, validatePath} from '../../../src/lib/spiffeid/index.js'
import {BYTES, PATH_SEGMENT_CHARS, expectBadInput, shown} from './helpers.js'

const SEGMENT_CHAR = /^[a-zA-Z0-9._-]$/

/** The message for `c` inside a path segment, or undefined when it is allowed. */
function segmentCharError(c: string): string | undefined {
  if (SEGMENT_CHAR.test(c)) return undefined
  if (c === '?') return 'spiffeid: path cannot contain a query ("?")'
  if (c === '#') return 'spiffeid: path cannot contain a fragment ("#")'
  if (c === '%') return 'spiffeid: path cannot contain percent-encoded characters'
  return `${PATH_SEGMENT_CHARS} (found ${shown(c)})`
}

describe('validatePath', () => {
  it.each(['', '/a', '/a/b/c', '/...', '/.a', '/a.', '/..a', '/a..', '/.../...', '/Upper/CASE', '/a_b-c.d', '/0'])(
    'accepts %j',
    (path) => {
      // Given a valid path, When it is validated, Then nothing is thrown
      expect(() => validatePath(path)).not.toThrow()
    },
  )

  it.each(['a', 'a/b', '.', 'example.org/a'])('refuses %j without a leading slash', (path) => {
    expectBadInput(() => validatePath(path), 'spiffeid: path must have a leading slash')
  })

  it.each(['/.', '/..', '/a/./b', '/a/../b', '/a/.', '/a/..', '/./a', '/../a'])('refuses the dot segment in %j', (path) => {
    expectBadInput(() => validatePath(path), 'spiffeid: path cannot contain dot segments')
  })

  it.each(['//', '//a', '/a//b', '/a//', '///'])('refuses the empty segment in %j', (path) => {
    expectBadInput(() => validatePath(path), 'spiffeid: path cannot contain empty segments')
  })

  it.each(['/', '/a/', '/a/b/', '/.../'])('refuses the trailing slash in %j', (path) => {
    expectBadInput(() => validatePath(path), 'spiffeid: path cannot have a trailing slash')
  })

  it.each(['/a%20b', '/%2e', '/a/%2F'])('refuses the percent-encoding in %j', (path) => {
    expectBadInput(() => validatePath(path), 'spiffeid: path cannot contain percent-encoded characters')
  })

  it.each(['/a?b=c', '/?', '/a/b?'])('refuses the query in %j', (path) => {
    expectBadInput(() => validatePath(path), 'spiffeid: path cannot contain a query ("?")')
  })

  it.each(['/a#b', '/#', '/a/b#'])('refuses the fragment in %j', (path) => {
    expectBadInput(() => validatePath(path), 'spiffeid: path cannot contain a fragment ("#")')
  })

  it.each([
    ['/a b', '" "'],
    ['/a\u0000', 'U+0000'],
    ['/a\u007f', 'U+007F'],
    ['/\u00e9', 'U+00E9'],
    ['/a"b', '"\\""'],
    ['/a\\b', '"\\\\"'],
    ['/a:b', '":"'],
    ['/a@b', '"@"'],
    ['/a+b', '"+"'],
    ['/\u{1f600}', 'U+1F600'],
  ])('refuses %j naming the character found', (path, found) => {
    expectBadInput(() => validatePath(path), `${PATH_SEGMENT_CHARS} (found ${found})`)
  })

  it('reports the first problem in the path', () => {
    // Given a path with a bad character before an empty segment, Then the character is reported
    expectBadInput(() => validatePath('/a b//'), `${PATH_SEGMENT_CHARS} (found " ")`)
    // Given a dot segment before a bad character, Then the dot segment is reported
    expectBadInput(() => validatePath('/../a b'), 'spiffeid: path cannot contain dot segments')
  })

  it.each(BYTES)('accepts byte %s in a segment exactly when it is allowed', (_, c) => {
    // Given a path whose segment contains the byte, When it is validated
    const path = `/a${c}b`
    const error = c === '/' ? undefined : segmentCharError(c)
    // Then it is accepted for the allowed set (and "/" as a separator), else refused with its message
    if (error === undefined) expect(() => validatePath(path)).not.toThrow()
    else expectBadInput(() => validatePath(path), error)
  })
})

describe('joinPathSegments', () => {
  it('joins segments with a leading slash', () => {
    expect(joinPathSegments('a')).toBe('/a')
    expect(joinPathSegments('a', 'B', '...', '.c')).toBe('/a/B/.../.c')
  })

  it('gives no path for no segments', () => {
    expect(joinPathSegments()).toBe('')
  })

  it('refuses an empty segment', () => {
    expectBadInput(() => joinPathSegments('a', ''), 'spiffeid: path cannot contain empty segments')
  })

  it.each(['.', '..'])('refuses the dot segment %j', (segment) => {
    expectBadInput(() => joinPathSegments('a', segment), 'spiffeid: path cannot contain dot segments')
  })

  it('refuses a slash inside a segment', () => {
    expectBadInput(() => joinPathSegments('a/b'), `${PATH_SEGMENT_CHARS} (found "/")`)
  })

  it.each(BYTES)('accepts byte %s in a segment exactly when it is allowed', (_, c) => {
    const error = segmentCharError(c)
    if (error === undefined) expect(joinPathSegments(`a${c}b`)).toBe(`/a${c}b`)
    else expectBadInput(() => joinPathSegments(`a${c}b`), error)
  })
})
