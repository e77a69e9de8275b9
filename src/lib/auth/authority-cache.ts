import type {Backend} from '../backend/backend.js'
import {getAuthorityItem, parseAuthority, type AuthorityType, type CertAuthority} from '../services/authorities.js'

/** A value derived from a stored authority, rebuilt only when the authority's revision changes. */
export class AuthorityCache<T> {
  private readonly type: AuthorityType
  private readonly build: (authority: CertAuthority) => T
  private entry?: {revision: number; value: T}

  constructor(type: AuthorityType, build: (authority: CertAuthority) => T) {
    this.type = type
    this.build = build
  }

  async get(backend: Backend): Promise<T> {
    const item = await getAuthorityItem(backend, this.type)
    if (this.entry?.revision !== item.revision) this.entry = {revision: item.revision, value: this.build(parseAuthority(item))}
    return this.entry.value
  }
}
