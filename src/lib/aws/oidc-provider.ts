/**
 * The IAM OIDC identity provider that lets AWS trust JWT-SVIDs: its URL (the JWT issuer),
 * its audience, and the thumbprint AWS asks for: the hex SHA-1 of the top certificate of
 * the chain that the issuer's host presents.
 */
import {connect, type PeerCertificate, type DetailedPeerCertificate} from 'node:tls'
import {WidError} from '../errors.js'
import {hclString, terraformName} from './terraform.js'

export interface OidcProviderSettings {
  url: string
  audience: string
  /** Undefined when the issuer's host could not be reached. */
  thumbprint?: string
}

/** SHA-1 of the last certificate in the chain `host:port` presents (lowercase hex, no colons). */
export async function fetchThumbprint(host: string, port: number, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({host, port, servername: /^[\d.]+$|:/.test(host) ? undefined : host, rejectUnauthorized: false, timeout: timeoutMs})
    const fail = (why: string) => {
      socket.destroy()
      reject(new WidError('unavailable', `aws: cannot fetch the TLS chain of ${host}:${port}: ${why}`))
    }
    socket.once('timeout', () => fail(`no answer within ${timeoutMs / 1000}s`))
    socket.once('error', (error) => fail(error.message))
    socket.once('secureConnect', () => {
      let certificate: PeerCertificate | DetailedPeerCertificate = socket.getPeerCertificate(true)
      const seen = new Set<string>()
      while ('issuerCertificate' in certificate && certificate.issuerCertificate && !seen.has(certificate.fingerprint)) {
        seen.add(certificate.fingerprint)
        if (certificate.issuerCertificate.fingerprint === certificate.fingerprint) break
        certificate = certificate.issuerCertificate
      }
      socket.end()
      if (!certificate.fingerprint) return fail('the server presented no certificate')
      resolve(certificate.fingerprint.replace(/:/g, '').toLowerCase())
    })
  })
}

export function terraformOidcProvider(settings: OidcProviderSettings): string {
  const url = new URL(settings.url)
  const name = terraformName(`${url.hostname}${url.pathname.replace(/\/$/, '')}`)
  const thumbprints = settings.thumbprint ? `[${hclString(settings.thumbprint)}]` : '[]'
  return `resource "aws_iam_openid_connect_provider" "${name}" {\n  url             = ${hclString(settings.url)}\n  client_id_list  = [${hclString(settings.audience)}]\n  thumbprint_list = ${thumbprints}\n}\n`
}
