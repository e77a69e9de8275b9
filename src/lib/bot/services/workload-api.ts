/**
 * `workload-identity-api`: the SPIFFE Workload API on a unix socket (or loopback TCP, with no
 * attestation). The listener and the SVID cache live as long as the service; its renewal
 * fetches the trust bundles, so that open streams learn of a new CA at the next interval
 * (or at once, told by the agent's trust watch: see trustChanged).
 */
import {X509Certificate} from 'node:crypto'
import type {SvidItem, SvidItemResult} from '../../auth/bot-join.js'
import {WidError} from '../../errors.js'
import {formatEndpoint} from '../../workloadapi/address.js'
import {SvidCache} from '../../workloadapi/cache.js'
import {UnixAttestor} from '../../workloadapi/attest/unix.js'
import {WorkloadApiServer, type PeerAttestor} from '../../workloadapi/server.js'
import {TrustState} from '../../workloadapi/trust.js'
import type {ServiceConfig, ServiceTiming} from '../config.js'
import type {AgentLogger} from '../log.js'
import type {TrustChange} from '../trust-follow.js'
import {clusterSelector, type OutputService, type RenewalResult, type ServiceContext} from './service.js'

type ApiConfig = Extract<ServiceConfig, {type: 'workload-identity-api'}>

/** How often the trust bundles are fetched at most, whatever the renewal interval. */
const TRUST_REFRESH_SECONDS = 10

export interface WorkloadApiLink {
  issue(items: SvidItem[]): Promise<SvidItemResult[]>
  /** Whether the agent holds a bot identity (the cluster can be asked). */
  ready(): boolean
  logger: AgentLogger
}

/** The kernel's word on a unix socket's peer: its attributes, and whether that process still runs. */
function unixAttestor(maxHashBytes: number | undefined): PeerAttestor {
  const attestor = new UnixAttestor(maxHashBytes === undefined ? {} : {maxHashBytes})
  return {
    async attest(socket) {
      const {unix, process} = await attestor.attest(socket)
      return {workload: {unix}, stillRunning: async () => attestor.stillRunning(process)}
    },
  }
}

export class WorkloadApiService implements OutputService {
  readonly type = 'workload-identity-api'
  readonly name: string
  readonly intervalMs: number
  private readonly config: ApiConfig
  private readonly cache: SvidCache
  private readonly trust = new TrustState()
  private readonly server: WorkloadApiServer
  private readonly logger: AgentLogger

  constructor(config: ApiConfig, timing: ServiceTiming, link: WorkloadApiLink) {
    for (const attestor of ['kubernetes', 'docker', 'podman', 'systemd'] as const) {
      if (config.attestors[attestor]?.enabled) {
        throw new WidError('bad_input', `bot: service "${config.name}": the ${attestor} attestor is not available in this version of wid; the unix attestor is always on`)
      }
    }
    this.config = config
    this.name = config.name
    this.intervalMs = Math.min(timing.renewalIntervalSeconds, TRUST_REFRESH_SECONDS) * 1000
    this.logger = link.logger
    this.cache = new SvidCache({
      selector: clusterSelector(config.selector, config.name),
      ttlSeconds: timing.credentialTtlSeconds,
      renewalIntervalMs: timing.renewalIntervalSeconds * 1000,
      issue: link.issue,
      onRenewalError: (error) => this.logger.error('workload svid renewal failed', {service: this.name, error: error.message}),
    })
    this.server = new WorkloadApiServer({
      listen: config.listen,
      cache: this.cache,
      trust: this.trust,
      ready: link.ready,
      attestor: unixAttestor(config.attestors.unix?.binaryHashMaxSizeBytes),
      log: (message, fields) => this.logger.warn(message, {service: this.name, ...(fields as Record<string, string | number | undefined>)}),
    })
  }

  async start(): Promise<void> {
    await this.server.listen()
    this.logger.info('workload api listening', {service: this.name, listen: formatEndpoint(this.config.listen)})
  }

  async renew(context: ServiceContext): Promise<RenewalResult> {
    await this.updateTrust(context)
    const expiries = this.trust.current!.x509.map((der) => Date.parse(new X509Certificate(der).validTo))
    return {expires: new Date(Math.min(...expiries)), spiffeIds: []}
  }

  /** Fetches the trust bundles; a change goes to every open stream (FetchX509SVID's bundle, FetchX509Bundles, FetchJWTBundles). */
  private async updateTrust(context: ServiceContext): Promise<void> {
    const trust = await context.trust()
    if (this.trust.update(trust.trustDomain, trust.certificates, trust.jwks)) {
      this.logger.info('trust bundle updated', {service: this.name, trust_domain: trust.trustDomain})
    }
  }

  /**
   * The new bundles go to the streams first, then the SVIDs of a CA that signs with a new
   * key are re-issued: a workload never holds an SVID its bundle does not verify.
   */
  async trustChanged(context: ServiceContext, change: TrustChange): Promise<boolean> {
    await this.updateTrust(context)
    this.cache.renewNow({x509: change.x509Signer, jwt: change.jwtSigner})
    return false
  }

  renewNow(): void {
    this.cache.renewNow({x509: true, jwt: true})
  }

  async close(): Promise<void> {
    this.cache.close()
    await this.server.close()
  }
}
