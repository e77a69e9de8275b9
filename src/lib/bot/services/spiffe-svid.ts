/**
 * The legacy output `spiffe-svid`: an X.509-SVID by SPIFFE ID path (with its SANs) and a
 * JWT-SVID per `jwts[]` entry for the same path, all in one file set.
 */
import type {ServiceConfig} from '../config.js'
import type {TrustChange} from '../trust-follow.js'
import {jwtOf, x509Of, DestinationService, type RenewalResult, type ServiceContext} from './service.js'
import {rewriteBundle, x509Files, x509Request} from './x509.js'

type SpiffeSvidConfig = Extract<ServiceConfig, {type: 'spiffe-svid'}>

export class SpiffeSvidOutput extends DestinationService<SpiffeSvidConfig> {
  readonly type = 'spiffe-svid'

  async renew(context: ServiceContext): Promise<RenewalResult> {
    const {svid: want, jwts} = this.config
    const ttlSeconds = this.ttlSeconds
    const {key, request} = await x509Request({
      path: want.path,
      ttlSeconds,
      ...(want.sans.dns.length ? {dnsSans: want.sans.dns} : {}),
      ...(want.sans.ip.length ? {ipSans: want.sans.ip} : {}),
    })
    const results = await context.issue([
      {type: 'x509', ...request},
      ...jwts.map((jwt) => ({type: 'jwt' as const, path: want.path, audiences: [jwt.audience], ttlSeconds})),
    ])
    const svid = x509Of(results[0], this.name)
    const tokens = jwts.map((jwt, i) => ({file: jwt.fileName, token: jwtOf(results[i + 1], this.name)}))
    await this.destination.write([...x509Files(svid, key), ...tokens.map(({file, token}) => ({name: file, data: token.token, mode: 0o600}))])
    const expires = Math.min(Date.parse(svid.notAfter), ...tokens.map(({token}) => Date.parse(token.expiresAt)))
    return {expires: new Date(expires), spiffeIds: [svid.spiffeId]}
  }

  /** A new signing key of either CA signs the file set's SVIDs: all of them anew, now; else the bundle alone. */
  async trustChanged(context: ServiceContext, change: TrustChange): Promise<boolean> {
    if (change.x509Signer || (change.jwtSigner && this.config.jwts.length > 0)) return true
    await rewriteBundle(this.destination, context)
    return false
  }
}
