import {badInput} from '../errors.js'
import {checkChars} from './chars.js'

export const SCHEME = 'spiffe://'

const MAX_NAME_BYTES = 255
const NAME_CHAR = /^[a-z0-9._-]$/
const HOSTNAME_FALLBACK = 'wid.local'

const SPECIFIC: Readonly<Record<string, string>> = {
  ':': 'spiffeid: trust domain cannot contain a port',
  '%': 'spiffeid: trust domain cannot contain percent-encoded characters',
  '?': 'spiffeid: trust domain cannot contain a query ("?")',
  '#': 'spiffeid: trust domain cannot contain a fragment ("#")',
}

export class TrustDomain {
  readonly name: string

  private constructor(name: string) {
    this.name = name
  }

  /** Accepts a bare name (`example.org`) or a trust domain's ID (`spiffe://example.org`, no path). */
  static parse(nameOrId: string): TrustDomain {
    if (!nameOrId.includes(':/')) return new TrustDomain(validateName(nameOrId))
    if (!nameOrId.startsWith(SCHEME)) throw badInput('spiffeid: scheme is missing or invalid')
    const name = nameOrId.slice(SCHEME.length)
    if (name.includes('/')) throw badInput('spiffeid: trust domain ID cannot have a path')
    return new TrustDomain(validateName(name))
  }

  idString(): string {
    return `${SCHEME}${this.name}`
  }

  toString(): string {
    return this.name
  }

  equals(other: TrustDomain): boolean {
    return this.name === other.name
  }
}

/** Derives a valid trust domain from an OS host name, falling back to `wid.local`. */
export function trustDomainFromHostname(hostname: string): TrustDomain {
  const name = hostname
    .toLowerCase()
    .replaceAll(/[^a-z0-9._-]/gu, '-')
    .replace(/^[.-]+/, '')
    .slice(0, MAX_NAME_BYTES)
    .replace(/[.-]+$/, '')
  return TrustDomain.parse(name === '' ? HOSTNAME_FALLBACK : name)
}

function validateName(name: string): string {
  if (name === '') throw badInput('spiffeid: trust domain is missing')
  if (name.includes('@')) throw badInput('spiffeid: trust domain cannot contain userinfo')
  checkChars(
    name,
    NAME_CHAR,
    SPECIFIC,
    'spiffeid: trust domain characters are limited to lowercase letters, numbers, dots, dashes, and underscores',
  )
  // Only ASCII is left, so characters are bytes.
  if (name.length > MAX_NAME_BYTES) throw badInput('spiffeid: trust domain cannot be longer than 255 bytes')
  return name
}
