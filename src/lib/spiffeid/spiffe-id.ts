import {badInput} from '../errors.js'
import {validatePath} from './path.js'
import {SCHEME, TrustDomain} from './trust-domain.js'

const MAX_ID_BYTES = 2048

export class SpiffeId {
  readonly trustDomain: TrustDomain
  readonly path: string

  private constructor(trustDomain: TrustDomain, path: string) {
    validatePath(path)
    // Trust domain and path are ASCII, so characters are bytes.
    if (SCHEME.length + trustDomain.name.length + path.length > MAX_ID_BYTES) {
      throw badInput('spiffeid: SPIFFE ID cannot be longer than 2048 bytes')
    }
    this.trustDomain = trustDomain
    this.path = path
  }

  static parse(id: string): SpiffeId {
    if (id === '') throw badInput('spiffeid: cannot be empty')
    if (!id.startsWith(SCHEME)) throw badInput('spiffeid: scheme is missing or invalid')
    const rest = id.slice(SCHEME.length)
    const slash = rest.indexOf('/')
    if (slash === -1) return new SpiffeId(TrustDomain.parse(rest), '')
    return new SpiffeId(TrustDomain.parse(rest.slice(0, slash)), rest.slice(slash))
  }

  static fromPath(trustDomain: TrustDomain, path: string): SpiffeId {
    return new SpiffeId(trustDomain, path)
  }

  toString(): string {
    return `${this.trustDomain.idString()}${this.path}`
  }

  equals(other: SpiffeId): boolean {
    return this.trustDomain.equals(other.trustDomain) && this.path === other.path
  }

  memberOf(trustDomain: TrustDomain): boolean {
    return this.trustDomain.equals(trustDomain)
  }

  isRoot(): boolean {
    return this.path === ''
  }
}
