/**
 * How clients follow the host and client CA rotations without a new login. Every answer of
 * the cluster API says, in headers:
 *
 * - `wid-host-ca-pins`: the pins of the host CAs to trust, the signing one first (only from
 *   a server that presents a certificate of the host CA, not one given --tls-cert-file). A
 *   client whose kept CAs differ asks for them (over the connection they verified) and keeps
 *   them: from a rotation's init it trusts the old and the new CA, so that it still connects
 *   when servers present certificates of the new one (update_servers) and after the old is
 *   dropped (standby).
 * - `wid-reissue: client-ca`: the caller's certificate is of a client CA key that no longer
 *   signs (from update_clients); it is dropped at standby, so the client gets a certificate
 *   of the new key now (a user: reissueLogin, same key and expiry; a bot: its renewal).
 */
import type {IncomingHttpHeaders} from 'node:http'
import {certificatePin} from '../crypto/keys.js'

export const HOST_CA_PINS_HEADER = 'wid-host-ca-pins'
export const REISSUE_HEADER = 'wid-reissue'

export interface Advice {
  /** The host CAs' pins, signing first; undefined when the server does not say. */
  hostCaPins?: string[]
  /** The caller's certificate should be issued again by the client CA key that signs now. */
  reissue: boolean
}

export function adviceOf(headers: IncomingHttpHeaders): Advice {
  const pins = headers[HOST_CA_PINS_HEADER]
  return {
    ...(typeof pins === 'string' && pins !== '' ? {hostCaPins: pins.split(',')} : {}),
    reissue: headers[REISSUE_HEADER] === 'client-ca',
  }
}

/** Whether a client that trusts `authorities` (PEM, in the order kept) should follow `advice`. */
export function shouldFollow(advice: Advice | undefined, authorities: string[]): boolean {
  if (!advice) return false
  return advice.reissue || (advice.hostCaPins !== undefined && advice.hostCaPins.join(',') !== authorities.map((pem) => certificatePin(pem)).join(','))
}

/**
 * The host CAs to trust instead of `current`: `offered` (the cluster's, signing first), if
 * it keeps one that `current` trusted. It came over a connection `current` verified; the
 * common CA is one more check that it is the same cluster's list, not a server's mistake.
 * Undefined when there is nothing to change (or no common CA, as for a server that presents
 * a certificate of its own, whose CA the client keeps).
 */
export function followedAuthorities(current: string[], offered: string[]): string[] | undefined {
  const trusted = new Set(current.map((pem) => certificatePin(pem)))
  const pins = offered.map((pem) => certificatePin(pem))
  if (!pins.some((pin) => trusted.has(pin))) return undefined
  if (pins.join(',') === [...trusted].join(',')) return undefined
  return offered
}

/** The pin of the host CA that signs, of a list `followedAuthorities` gave. */
export const signingPin = (authorities: string[]): string => certificatePin(authorities[0]!)

/** Node's codes for a server certificate that chains to no CA the client trusts. */
const UNTRUSTED = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'DEPTH_ZERO_SELF_SIGNED_CERT'])

/** Whether `error` is a connection refused for a server certificate of a CA the client does not trust. */
export function untrustedServer(error: unknown): boolean {
  const code = (error as {code?: unknown} | undefined)?.code
  return typeof code === 'string' && UNTRUSTED.has(code)
}

/**
 * The one line for a server whose certificate is of a host CA that `holder` (this login,
 * this bot identity) does not trust: after a host CA rotation the holder missed from init to
 * standby it must pin the new CA, as `fix` says.
 */
export function untrustedHostCa(what: string, proxy: string, holder: string, fix: string): string {
  return `${what}: the server's certificate at ${proxy} is signed by a host CA ${holder} does not trust; the cluster's host CA may have been rotated: check the new pin with wid status on the server (Host CA pin), then ${fix}`
}
