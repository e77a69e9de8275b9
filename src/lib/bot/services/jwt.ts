/** `workload-identity-jwt`: a JWT-SVID of the selected workload identity for `audiences`, written as jwt_svid. */
import {SVID_FILES} from '../../svid/issue.js'
import type {ServiceConfig, ServiceTiming} from '../config.js'
import type {Destination} from '../destination.js'
import {clusterSelector, jwtOf, type OutputService, type RenewalResult, type ServiceContext} from './service.js'

type JwtConfig = Extract<ServiceConfig, {type: 'workload-identity-jwt'}>

export class JwtService implements OutputService {
  readonly type = 'workload-identity-jwt'
  readonly name: string
  readonly intervalMs: number
  private readonly ttlSeconds: number
  private readonly config: JwtConfig
  private readonly destination: Destination

  constructor(config: JwtConfig, destination: Destination, timing: ServiceTiming) {
    this.config = config
    this.name = config.name
    this.intervalMs = timing.renewalIntervalSeconds * 1000
    this.ttlSeconds = timing.credentialTtlSeconds
    this.destination = destination
  }

  async renew(context: ServiceContext): Promise<RenewalResult> {
    const selector = clusterSelector(this.config.selector, this.name)
    const [result] = await context.issue([{type: 'jwt', ...selector, audiences: this.config.audiences, ttlSeconds: this.ttlSeconds}])
    const jwt = jwtOf(result, this.name)
    await this.destination.write([{name: SVID_FILES.jwt, data: jwt.token, mode: 0o600}])
    return {expires: new Date(jwt.expiresAt), spiffeIds: [jwt.spiffeId]}
  }
}
