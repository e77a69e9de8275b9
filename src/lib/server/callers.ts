/**
 * Who holds the client certificate of a request: read once per connection from the verified
 * certificate, its expiry and its issuer checked on every request, so that neither a
 * connection kept alive nor a TLS session resumed outlives the login, or the trust in the
 * client CA key that issued it (dropped at the standby of a client CA rotation).
 */
import {X509Certificate} from 'node:crypto'
import type {IncomingMessage} from 'node:http'
import type {TLSSocket} from 'node:tls'
import type {Caller} from '../auth/principal.js'
import {HttpError} from './http-error.js'

/** A verified client certificate's holder, its notAfter (ms since the epoch), public key and issuer. */
export interface Verified {
  caller: Caller
  notAfter: number
  /** SubjectPublicKeyInfo DER: a re-issued login certifies the same key. */
  spki: Uint8Array
  /** The pin of the client CA that issued it (undefined if none trusted when the connection was made). */
  issuer?: string
}

/** What the server trusts of client CAs now (see tls-context.ts). */
export interface ClientAuthorities {
  /** The pin of the trusted client CA that issued `certificate`, if one did. */
  issuerOf(certificate: X509Certificate): string | undefined
  trusts(pin: string): boolean
}

/** OpenSSL's words for a chain that ends in no trusted CA (other reasons, a bad signature say, are shown as they are). */
const UNKNOWN_ISSUER = new Set(['UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT'])

const callers = new WeakMap<TLSSocket, Verified>()

const expired = () => new HttpError(401, 'access_denied', 'api: your client certificate has expired; run wid login')

/** A certificate of no CA trusted now: most likely one of a client CA that a rotation dropped. */
const UNTRUSTED_ISSUER = 'its CA is not trusted: the client CA may have been rotated since it was issued'

/** The refusal of a certificate that this cluster did not issue (`why`), with what its holder does about it. */
function notIssued(kind: unknown, why: string): HttpError {
  const fix = kind === 'bot' ? 'the bot must join again (with a new token)' : 'run wid login'
  return new HttpError(401, 'access_denied', `api: the client certificate was not issued by this cluster (${why}); ${fix}`)
}

/** The holder of a verified client certificate, or why there is none. */
export function callerOf(req: IncomingMessage, authorities: ClientAuthorities): Verified {
  const socket = req.socket as TLSSocket
  let verified = callers.get(socket)
  if (!verified) {
    verified = verifiedCaller(socket, authorities)
    callers.set(socket, verified)
  }
  // written so that an unreadable notAfter (NaN) counts as expired
  if (!(Date.now() <= verified.notAfter)) throw expired()
  if (verified.issuer === undefined || !authorities.trusts(verified.issuer)) throw notIssued(verified.caller.kind, UNTRUSTED_ISSUER)
  return verified
}

function verifiedCaller(socket: TLSSocket, authorities: ClientAuthorities): Verified {
  const certificate = socket.getPeerCertificate()
  if (!certificate || Object.keys(certificate).length === 0) {
    throw new HttpError(401, 'access_denied', 'api: a client certificate is required; run wid login')
  }
  const kind = certificate.subject?.OU
  if (!socket.authorized) {
    const reason = String(socket.authorizationError ?? '')
    if (reason === 'CERT_HAS_EXPIRED') throw expired()
    throw notIssued(kind, UNKNOWN_ISSUER.has(reason) ? UNTRUSTED_ISSUER : reason.toLowerCase().replace(/_/g, ' '))
  }
  const name = certificate.subject?.CN
  const notAfter = Date.parse(certificate.valid_to)
  if ((kind !== 'user' && kind !== 'bot') || typeof name !== 'string') {
    throw new HttpError(401, 'access_denied', 'api: the client certificate does not name a user or bot')
  }
  const parsed = new X509Certificate(certificate.raw)
  const held = {notAfter, spki: new Uint8Array(parsed.publicKey.export({type: 'spki', format: 'der'})), issuer: authorities.issuerOf(parsed)}
  if (kind === 'bot') {
    // Every bot certificate names its instance and generation (a join makes them); one that
    // does not would pass by the checks of removed and locked instances.
    const {serialNumber: instanceId, pseudonym} = certificate.subject as {serialNumber?: unknown; pseudonym?: unknown}
    const generation = Number(pseudonym)
    if (typeof instanceId !== 'string' || typeof pseudonym !== 'string' || !Number.isSafeInteger(generation)) {
      throw new HttpError(401, 'access_denied', 'api: the bot certificate names no bot instance; join again with a new token')
    }
    return {caller: {kind, name, instanceId, generation}, ...held}
  }
  const loginId = certificate.subject.serialNumber
  return {caller: {kind, name, loginId: typeof loginId === 'string' ? loginId : ''}, ...held}
}
