/** How resources are named to people: in messages, listings and the audit log. */
import type {Kind, Token} from './types.js'

/** A token's id: the first hex digits of the SHA-256 of its secret, which it is stored under. */
export const TOKEN_ID_DIGITS = 16

/** How `wid create` reports a resource: Teleport quotes some kinds with '…' and others with "…". */
export function resourceLabel(kind: Kind, name: string): string {
  return kind === 'role' || kind === 'integration' ? `${kind} '${name}'` : `${kind} "${name}"`
}

/** How a one-time token is stored: under the SHA-256 (hex) of its secret. No delegated token may be named so. */
export const TOKEN_HASH = /^[0-9a-f]{64}$/

/**
 * How a stored resource is named to people and in the audit log: a one-time token (stored
 * under the hash of its secret) by its id, the hash's first 16 hex digits; everything else,
 * delegated join tokens included, by its name.
 */
export const shownName = (kind: Kind, storedName: string): string => (kind === 'token' && TOKEN_HASH.test(storedName) ? storedName.slice(0, TOKEN_ID_DIGITS) : storedName)
/** The id a token is shown, listed, audited and removed by. */
export const tokenId = (token: Token): string => shownName('token', token.metadata.name)
