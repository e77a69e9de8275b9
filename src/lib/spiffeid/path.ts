import {badInput} from '../errors.js'
import {checkChars} from './chars.js'

const SEGMENT_CHAR = /^[a-zA-Z0-9._-]$/

const SPECIFIC: Readonly<Record<string, string>> = {
  '?': 'spiffeid: path cannot contain a query ("?")',
  '#': 'spiffeid: path cannot contain a fragment ("#")',
  '%': 'spiffeid: path cannot contain percent-encoded characters',
}

/** Checks a SPIFFE ID path: empty (no path), or `/`-separated non-empty, non-dot segments. */
export function validatePath(path: string): void {
  if (path === '') return
  if (!path.startsWith('/')) throw badInput('spiffeid: path must have a leading slash')
  const segments = path.slice(1).split('/')
  for (const [index, segment] of segments.entries()) {
    if (segment === '' && index === segments.length - 1) {
      throw badInput('spiffeid: path cannot have a trailing slash')
    }
    validateSegment(segment)
  }
}

/** Validates each segment and joins them into a path with a leading slash; no segments give no path. */
export function joinPathSegments(...segments: string[]): string {
  for (const segment of segments) validateSegment(segment)
  return segments.map((segment) => `/${segment}`).join('')
}

function validateSegment(segment: string): void {
  if (segment === '') throw badInput('spiffeid: path cannot contain empty segments')
  if (segment === '.' || segment === '..') throw badInput('spiffeid: path cannot contain dot segments')
  checkChars(
    segment,
    SEGMENT_CHAR,
    SPECIFIC,
    'spiffeid: path segment characters are limited to letters, numbers, dots, dashes, and underscores',
  )
}
