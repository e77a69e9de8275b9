/**
 * What every output service is to the agent: a name, how often it renews, and one renewal
 * that asks the cluster for its SVIDs (through the shared batch) and writes them.
 */
import type {SvidItem, SvidItemResult} from '../../auth/bot-join.js'
import type {JwtSvidResponse, X509SvidResponse} from '../../auth/issuance.js'
import type {SvidSelector} from '../../auth/workload-issuance.js'
import {WidError, knownCode} from '../../errors.js'
import type {Selector, ServiceTiming} from '../config.js'
import type {Destination} from '../destination.js'
import type {TrustChange} from '../trust-follow.js'

export interface ServiceContext {
  issue(items: SvidItem[]): Promise<SvidItemResult[]>
  /** The trust domain's name and trust bundles: CA certificates (PEM) and JWT keys (JWKS JSON). */
  trust(): Promise<{trustDomain: string; certificates: string; jwks: string}>
  now(): Date
}

export interface RenewalResult {
  /** When the earliest of the files written stops being valid. */
  expires: Date
  /** The SPIFFE IDs written, for the log. */
  spiffeIds: string[]
}

export interface OutputService {
  readonly name: string
  readonly type: string
  readonly intervalMs: number
  renew(context: ServiceContext): Promise<RenewalResult>
  /** Services that serve (the Workload API) listen here, before their first renewal. */
  start?(): Promise<void>
  close?(): Promise<void>
  /** SIGUSR1: what the service keeps besides its renewal (the Workload API's SVIDs) is renewed now. */
  renewNow?(): void
  /**
   * The cluster's trust changed (the trust watch): the service brings what it holds up to
   * date, and answers true when its renewal must run now (its SVIDs' CA signs with a new key).
   */
  trustChanged?(context: ServiceContext, change: TrustChange): Promise<boolean>
}

/** An output that writes to a destination: what every service type shares. */
export abstract class DestinationService<Config extends {name: string}> implements OutputService {
  abstract readonly type: string
  readonly name: string
  readonly intervalMs: number
  protected readonly ttlSeconds: number
  protected readonly config: Config
  protected readonly destination: Destination

  constructor(config: Config, destination: Destination, timing: ServiceTiming, intervalSeconds = timing.renewalIntervalSeconds) {
    this.config = config
    this.name = config.name
    this.intervalMs = intervalSeconds * 1000
    this.ttlSeconds = timing.credentialTtlSeconds
    this.destination = destination
  }

  abstract renew(context: ServiceContext): Promise<RenewalResult>
}

/** A workload-identity selector as the cluster takes it: one value per label. */
export function clusterSelector(selector: Selector, service: string): SvidSelector {
  if ('name' in selector) return {name: selector.name}
  const labels: Record<string, string> = {}
  for (const [key, value] of Object.entries(selector.labels)) {
    const values = Array.isArray(value) ? value : [value]
    if (values.length !== 1) throw new WidError('bad_input', `bot: ${service}: selector label "${key}" has ${values.length} values; give exactly one`)
    labels[key] = values[0]!
  }
  return {labels}
}

/** An item's answer, or its refusal as an error naming the service. */
export function x509Of(result: SvidItemResult | undefined, service: string): X509SvidResponse {
  if (result && 'x509' in result) return result.x509
  throw refusal(result, service)
}

export function jwtOf(result: SvidItemResult | undefined, service: string): JwtSvidResponse {
  if (result && 'jwt' in result) return result.jwt
  throw refusal(result, service)
}

function refusal(result: SvidItemResult | undefined, service: string): WidError {
  if (result && 'error' in result) return new WidError(knownCode(result.error.code), `${service}: ${result.error.message}`)
  return new WidError('internal', `${service}: the cluster answered no result for this item`)
}
