/**
 * `wid bot start`: joins (or opens the embedded cluster as a named bot), then drives one
 * Loop for the bot's own identity and one per output service; outputs that renew together
 * share one batch request. SIGUSR1 renews everything now, SIGHUP reloads the configuration
 * (a bad one is refused and the old one kept), SIGTERM and SIGINT stop cleanly. With
 * `oneshot`, everything is written once and the agent exits. A trust watch (trust-follow.ts)
 * tells the outputs of a CA rotation within about a second.
 */
import type {Cluster} from '../cluster/cluster.js'
import {LocalCluster} from '../cluster/local.js'
import {WidError, isWidError} from '../errors.js'
import {SvidBatcher} from './batch.js'
import {serviceTiming, type BotConfig, type ServiceConfig, type ServiceTiming} from './config.js'
import {openDestination} from './destination.js'
import {isLoopbackAddr, OPEN_DIAG_WARNING} from '../diag-server.js'
import {startBotDiag} from './diag.js'
import {BotIdentityKeeper} from './identity.js'
import type {AgentLogger} from './log.js'
import {Loop} from './loop.js'
import {RolesAnywhereService} from './services/aws-roles-anywhere.js'
import {JwtService} from './services/jwt.js'
import type {OutputService, ServiceContext} from './services/service.js'
import {SpiffeSvidOutput} from './services/spiffe-svid.js'
import {WorkloadApiService, type WorkloadApiLink} from './services/workload-api.js'
import {X509Service} from './services/x509.js'
import {AgentStatus, IDENTITY} from './status.js'
import {BotStorage} from './storage.js'
import {TrustFollower, type TrustChange} from './trust-follow.js'

const OUTPUT_TRIES = 5
const IDENTITY_TRIES = 7
const FAR_FUTURE = new Date(8.64e15)

export interface AgentOptions {
  config: BotConfig
  /** Reads the configuration again for SIGHUP; without it SIGHUP is refused in the log. */
  reload?: () => Promise<BotConfig>
  /** Issue from the embedded cluster in this WID_HOME as this bot, with exactly its roles. */
  local?: {home: string; bot: string}
  logger: AgentLogger
  /** Told when the diagnostics server listens (tests use port 0). */
  onDiagListening?: (port: number) => void
}

function message(error: unknown): string {
  return isWidError(error) ? error.message : `internal error: ${(error as Error)?.message ?? String(error)}`
}

/** The output services of a configuration, their destinations checked before anything runs. */
async function buildServices(config: BotConfig, link: WorkloadApiLink): Promise<OutputService[]> {
  const services: OutputService[] = []
  for (const service of config.services) {
    services.push(await buildService(service, serviceTiming(config, service), link))
  }
  return services
}

async function buildService(service: ServiceConfig, timing: ServiceTiming, link: WorkloadApiLink): Promise<OutputService> {
  if (service.type === 'workload-identity-api') return new WorkloadApiService(service, timing, link)
  const destination = openDestination(service.destination)
  await destination.check()
  switch (service.type) {
    case 'workload-identity-x509':
      return new X509Service(service, destination, timing)
    case 'workload-identity-jwt':
      return new JwtService(service, destination, timing)
    case 'workload-identity-aws-roles-anywhere':
      return new RolesAnywhereService(service, destination, timing)
    case 'spiffe-svid':
      return new SpiffeSvidOutput(service, destination, timing)
  }
}

async function closeServers(services: OutputService[]): Promise<void> {
  await Promise.all(services.map((service) => service.close?.()))
}

/** The settings a reload cannot change (the identity's storage and cluster, the diagnostics listener) that `next` changes. */
function changedAtStartOnly(current: BotConfig, next: BotConfig): string[] {
  const fields: Array<[string, (c: BotConfig) => unknown]> = [
    ['proxy_server', (c) => c.proxyServer ?? c.authServer],
    ['storage', (c) => JSON.stringify(c.storage)],
    ['diag_addr', (c) => c.diagAddr],
  ]
  return fields.filter(([, value]) => value(current) !== value(next)).map(([name]) => name)
}

export class Agent {
  private config: BotConfig
  private readonly options: AgentOptions
  private readonly logger: AgentLogger
  private services: OutputService[] = []
  private status: AgentStatus
  private keeper?: BotIdentityKeeper
  private local?: LocalCluster
  private identityLoop?: Loop
  private serviceLoops: Loop[] = []
  private batcher: SvidBatcher
  private release?: () => Promise<void>
  private diag?: {close: () => Promise<void>}
  private identityReady?: Promise<void>
  private stopped?: () => void
  /** Reloads and the stop, one at a time in the order the signals came: none undoes another's loops. */
  private changes: Promise<void> = Promise.resolve()
  private stopping?: Promise<void>
  private readonly link: WorkloadApiLink
  private trustDomain?: string
  private follower?: TrustFollower

  constructor(options: AgentOptions) {
    this.options = options
    this.config = options.config
    this.logger = options.logger
    this.status = new AgentStatus(options.config.services.map((s) => s.name))
    this.batcher = new SvidBatcher((items) => this.cluster().issueSvids(items))
    this.link = {
      issue: (items) => this.batcher.issue(items),
      ready: () => this.local !== undefined || this.keeper?.identity !== undefined,
      logger: options.logger,
    }
  }

  /** The trust domain's bundles, as the Workload API serves them. */
  private async trust(): Promise<{trustDomain: string; certificates: string; jwks: string}> {
    const cluster = this.cluster()
    this.trustDomain ??= (await cluster.status()).clusterName
    const [certificates, jwks] = await Promise.all([cluster.exportTrust('tls-spiffe'), cluster.exportTrust('jwks')])
    return {trustDomain: this.trustDomain, certificates, jwks}
  }

  private cluster(): Cluster {
    if (this.local) return this.local
    return this.keeper!.cluster()
  }

  /** Everything that can be refused before the agent runs: destinations, the storage and its lock, the embedded cluster. */
  private async prepare(): Promise<void> {
    this.services = await buildServices(this.config, this.link)
    if (this.options.local) {
      this.local = await LocalCluster.open({home: this.options.local.home, as: {kind: 'bot', name: this.options.local.bot}})
      return
    }
    if (this.config.storage.type === 'memory') {
      throw new WidError('bad_input', 'bot: storage type memory keeps no identity between runs; give storage: {type: directory, path: …}')
    }
    const {storage, release} = await BotStorage.open(this.config.storage.path)
    this.release = release
    this.keeper = new BotIdentityKeeper(storage, this.config)
    // Renewed at once to follow a CA rotation: the identity loop's next run is now
    this.keeper.onStale = () => this.identityLoop?.trigger()
    this.keeper.onRejoin = (refused, reason) => this.logger.warn('the cluster refused the bot instance; joining again by the delegated method as a new instance', {instance: refused, reason})
  }

  private async renewIdentity(first: boolean): Promise<void> {
    const identity = first ? await this.keeper!.ensure() : await this.keeper!.renew()
    this.status.succeeded(IDENTITY, new Date(identity.notAfter))
    this.logger.info(first ? 'bot identity ready' : 'bot identity renewed', {bot: identity.botName, instance: identity.instanceId, generation: identity.generation, expires: identity.notAfter})
  }

  private context(): ServiceContext {
    return {issue: (items) => this.batcher.issue(items), trust: () => this.trust(), now: () => new Date()}
  }

  private async renewService(service: OutputService): Promise<void> {
    const result = await service.renew(this.context())
    this.status.succeeded(service.name, result.expires)
    if (service.start) this.logger.debug('trust bundle checked', {service: service.name})
    else this.logger.info('output renewed', {service: service.name, spiffe_id: result.spiffeIds.join(','), expires: result.expires.toISOString()})
  }

  /** `--oneshot`: the identity, then every output once; the verdict names each failure. */
  async runOnce(): Promise<void> {
    await this.prepare()
    for (const service of this.services.filter((s) => s.start)) {
      this.logger.warn('the Workload API does not run in oneshot mode', {service: service.name})
    }
    this.services = this.services.filter((s) => !s.start)
    try {
      if (this.keeper) await this.renewIdentity(true)
      const failures: string[] = []
      await Promise.all(
        this.services.map((service) =>
          this.renewService(service).catch((error: unknown) => {
            this.logger.error('output failed', {service: service.name, error: message(error)})
            failures.push(message(error))
          }),
        ),
      )
      if (failures.length === 1) throw new WidError('unavailable', failures[0]!)
      if (failures.length > 1) throw new WidError('unavailable', `bot: ${failures.length} of ${this.services.length} outputs failed: ${failures.join('; ')}`)
    } finally {
      await this.close()
    }
  }

  /** Runs until SIGTERM or SIGINT. */
  async run(): Promise<void> {
    await this.prepare()
    // A socket it cannot serve (another agent's, say) stops the agent before it runs.
    await this.startServers(this.services).catch(async (error: unknown) => {
      await this.close()
      throw error
    })
    if (this.config.diagAddr) {
      // An address it cannot listen on stops the agent before it runs: the storage lock is given back.
      const diag = await startBotDiag(this.config.diagAddr, () => this.status).catch(async (error: unknown) => {
        await this.close()
        throw error
      })
      this.diag = diag
      this.options.onDiagListening?.(diag.port)
      this.logger.info('diagnostics listening', {addr: this.config.diagAddr, port: diag.port})
      if (!isLoopbackAddr(this.config.diagAddr)) {
        this.logger.warn(OPEN_DIAG_WARNING, {addr: this.config.diagAddr})
      }
    }
    const done = new Promise<void>((resolve) => (this.stopped = resolve))
    const signals: Array<[NodeJS.Signals, () => void]> = [
      ['SIGUSR1', () => this.renewNow()],
      ['SIGHUP', () => void this.reload()],
      ['SIGTERM', () => void this.stop()],
      ['SIGINT', () => void this.stop()],
    ]
    for (const [signal, handler] of signals) process.on(signal, handler)
    try {
      this.startIdentity()
      this.startServices()
      this.followTrust()
      await done
    } finally {
      for (const [signal, handler] of signals) process.off(signal, handler)
    }
  }

  /** The services that serve (the Workload API) listen; if one cannot, those started are closed. */
  private async startServers(services: OutputService[]): Promise<void> {
    const started: OutputService[] = []
    try {
      for (const service of services) {
        if (!service.start) continue
        await service.start()
        started.push(service)
      }
    } catch (error) {
      await closeServers(started)
      throw error
    }
  }

  private startIdentity(): void {
    if (!this.keeper) {
      this.status.succeeded(IDENTITY, FAR_FUTURE)
      this.identityReady = Promise.resolve()
      return
    }
    let first = true
    let ready: () => void
    this.identityReady = new Promise((resolve) => (ready = resolve))
    this.identityLoop = new Loop({
      name: IDENTITY,
      intervalMs: this.config.renewalIntervalSeconds * 1000,
      tries: IDENTITY_TRIES,
      run: async () => {
        await this.renewIdentity(first)
        first = false
        ready()
      },
      onFailure: (error, attempt, willRetry) => {
        this.status.failed(IDENTITY, message(error))
        this.logger.error('bot identity renewal failed', {attempt, retry: willRetry, error: message(error)})
      },
    })
    this.identityLoop.start()
  }

  private startServices(): void {
    const ready = this.identityReady!
    this.serviceLoops = this.services.map((service) => {
      const loop = new Loop({
        name: service.name,
        intervalMs: service.intervalMs,
        tries: OUTPUT_TRIES,
        run: () => this.renewService(service),
        onFailure: (error, attempt, willRetry) => {
          this.status.failed(service.name, message(error))
          this.logger.error('output renewal failed', {service: service.name, attempt, retry: willRetry, error: message(error)})
        },
      })
      // Outputs wait for the first bot identity; until then /readyz says so.
      void ready.then(() => loop.start())
      return loop
    })
  }

  /** Once the bot has its identity, the trust watch runs until the agent stops. */
  private followTrust(): void {
    this.follower = new TrustFollower({watch: (since) => this.cluster().watchTrust(since), changed: (change) => this.trustChanged(change), logger: this.logger})
    void this.identityReady!.then(() => this.follower?.start())
  }

  /** Each service brings its trust up to date; those whose SVIDs a CA with a new signing key signed renew now. */
  private async trustChanged(change: TrustChange): Promise<void> {
    const context = this.context()
    const [services, loops] = [this.services, this.serviceLoops]
    await Promise.all(
      services.map(async (service, i) => {
        try {
          if (await service.trustChanged?.(context, change)) loops[i]?.trigger()
        } catch (error) {
          this.logger.error('following the new trust failed; the next renewal tries again', {service: service.name, error: message(error)})
        }
      }),
    )
  }

  renewNow(): void {
    this.logger.info('renewing everything now (SIGUSR1)')
    this.identityLoop?.trigger()
    for (const loop of this.serviceLoops) loop.trigger()
    for (const service of this.services) service.renewNow?.()
  }

  /** Runs `change` after the reloads and the stop asked for before it. */
  private serialised(change: () => Promise<void>): Promise<void> {
    const done = this.changes.then(change)
    this.changes = done.catch(() => {})
    return done
  }

  /** SIGHUP: the new configuration replaces the outputs; a bad one is refused and the old one kept. Ignored once stopping. */
  reload(): Promise<void> {
    return this.serialised(async () => {
      if (!this.stopping) await this.reloadNow()
    })
  }

  private async reloadNow(): Promise<void> {
    if (!this.options.reload) {
      this.logger.warn('SIGHUP ignored: the configuration came from flags, there is no file to read again')
      return
    }
    let config: BotConfig
    let services: OutputService[]
    try {
      config = await this.options.reload()
      services = await buildServices(config, this.link)
    } catch (error) {
      this.logger.error('configuration not reloaded; the old one stays', {error: message(error)})
      return
    }
    await Promise.all(this.serviceLoops.map((loop) => loop.stop()))
    // The Workload API listeners are replaced: a new one may take the old one's socket.
    await closeServers(this.services)
    try {
      await this.startServers(services)
    } catch (error) {
      this.logger.error('a Workload API of the new configuration cannot listen; its service stays down', {error: message(error)})
      services = services.filter((s) => !s.start)
    }
    const kept = changedAtStartOnly(this.config, config)
    if (kept.length > 0) this.logger.warn(`${kept.join(', ')} changed: the running agent keeps the old ${kept.length > 1 ? 'values' : 'value'} until it is started again`)
    this.config = config
    this.keeper?.reconfigure(config)
    this.services = services
    this.status = new AgentStatus(config.services.map((s) => s.name))
    if (this.keeper?.identity) this.status.succeeded(IDENTITY, new Date(this.keeper.identity.notAfter))
    else if (!this.keeper) this.status.succeeded(IDENTITY, FAR_FUTURE)
    this.startServices()
    this.logger.info('configuration reloaded', {services: services.map((s) => s.name).join(',')})
  }

  /** SIGTERM, SIGINT: once, however many come. */
  stop(): Promise<void> {
    if (this.stopping) return this.stopping
    this.logger.info('stopping')
    this.follower?.stop()
    this.stopping = this.serialised(async () => {
      await Promise.all([this.identityLoop?.stop(), ...this.serviceLoops.map((loop) => loop.stop())])
      await this.close()
      this.stopped?.()
    })
    return this.stopping
  }

  private async close(): Promise<void> {
    await closeServers(this.services)
    await this.diag?.close()
    this.diag = undefined
    await this.keeper?.close()
    await this.local?.close()
    await this.release?.()
    this.release = undefined
  }
}
