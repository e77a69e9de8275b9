/** `workload-identity-jwt`: a JWT-SVID of the selected workload identity for `audiences`, written as jwt_svid. */
import {SVID_FILES} from '../../svid/issue.js'
import type {ServiceConfig} from '../config.js'
import type {TrustChange} from '../trust-follow.js'
import {clusterSelector, jwtOf, DestinationService, type RenewalResult, type ServiceContext} from './service.js'

type JwtConfig = Extract<ServiceConfig, {type: 'workload-identity-jwt'}>

export class JwtService extends DestinationService<JwtConfig> {
  readonly type = 'workload-identity-jwt'

  async renew(context: ServiceContext): Promise<RenewalResult> {
    const selector = clusterSelector(this.config.selector, this.name)
    const [result] = await context.issue([{type: 'jwt', ...selector, audiences: this.config.audiences, ttlSeconds: this.ttlSeconds}])
    const jwt = jwtOf(result, this.name)
    await this.destination.write([{name: SVID_FILES.jwt, data: jwt.token, mode: 0o600}])
    return {expires: new Date(jwt.expiresAt), spiffeIds: [jwt.spiffeId]}
  }

  /** A new signing key of the JWT CA: a JWT-SVID of it now, which still verifies once standby drops the old key. */
  async trustChanged(_context: ServiceContext, change: TrustChange): Promise<boolean> {
    return change.jwtSigner
  }
}
