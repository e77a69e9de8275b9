/**
 * Cluster initialisation: the cluster config and both authorities are written in one
 * atomic batch that only succeeds on an empty store, so concurrent first uses by several
 * processes initialise exactly one cluster (the losers adopt the winner's).
 */
import type {Backend} from '../backend/backend.js'
import {type KeyType} from '../crypto/keys.js'
import {badInput, WidError} from '../errors.js'
import {authorityKey, getAuthority, type CertAuthority} from '../services/authorities.js'
import {CLUSTER_CONFIG_KEY, getClusterConfig, type ClusterConfig} from '../services/cluster-config.js'
import {TrustDomain} from '../spiffeid/index.js'
import {newJwtAuthorityKey, newX509AuthorityKey} from './authorities.js'

export interface InitOptions {
  /** Asked for explicitly: an existing cluster with another value is an error. */
  clusterName?: string
  publicAddr?: string
  caKeyType?: KeyType
  /** Used when clusterName is not given. */
  defaultClusterName: string
  now: Date
}

export interface InitResult {
  config: ClusterConfig
  created: boolean
}

/** `https://host[:port]` with nothing after the authority; returned without a trailing slash. */
export function checkPublicAddr(value: string): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw badInput(`init: invalid public address "${value}" (expected https://host[:port])`)
  }
  if (url.protocol !== 'https:') throw badInput(`init: public address "${value}" must use https://`)
  if (url.username || url.password) throw badInput(`init: public address "${value}" cannot contain userinfo`)
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) {
    throw badInput(`init: public address "${value}" must not have a path, query or fragment`)
  }
  if (url.port === '0') throw badInput(`init: public address "${value}" has port 0`)
  const typedHost = /^https:\/\/(\[[^\]]*\]|[^/:?#]*)/i.exec(value)?.[1]?.toLowerCase()
  if (typedHost !== url.hostname) throw badInput(`init: public address "${value}" does not have a valid host name`)
  return `https://${url.host}`
}

export async function initializeCluster(backend: Backend, options: InitOptions): Promise<InitResult> {
  const existing = await getClusterConfig(backend)
  if (existing) return {config: await checkCompatible(backend, existing, options), created: false}
  const trustDomain = TrustDomain.parse(options.clusterName ?? options.defaultClusterName)
  const config: ClusterConfig = {
    clusterName: trustDomain.name,
    publicAddr: options.publicAddr ? checkPublicAddr(options.publicAddr) : `https://${trustDomain.name}`,
    createdAt: options.now.toISOString(),
  }
  const spiffe: CertAuthority = {
    type: 'spiffe',
    clusterName: trustDomain.name,
    activeKeys: [await newX509AuthorityKey(trustDomain, options.caKeyType ?? 'ec-p256', options.now)],
    additionalTrustedKeys: [],
  }
  const jwt: CertAuthority = {
    type: 'jwt',
    clusterName: trustDomain.name,
    activeKeys: [await newJwtAuthorityKey()],
    additionalTrustedKeys: [],
  }
  const items = [
    {key: CLUSTER_CONFIG_KEY, value: config},
    {key: authorityKey('spiffe'), value: spiffe},
    {key: authorityKey('jwt'), value: jwt},
  ]
  try {
    await backend.atomicWrite(
      items.map(({key}) => ({key, type: 'absent' as const})),
      items.map(({key, value}) => ({key, type: 'put' as const, value: JSON.stringify(value)})),
    )
    return {config, created: true}
  } catch (error) {
    if (!(error instanceof WidError) || error.code !== 'compare_failed') throw error
    const winner = await getClusterConfig(backend)
    if (!winner) throw error
    return {config: await checkCompatible(backend, winner, options), created: false}
  }
}

/** An existing cluster is kept; options that contradict it are refused rather than ignored. */
async function checkCompatible(backend: Backend, existing: ClusterConfig, options: InitOptions): Promise<ClusterConfig> {
  const conflict = (what: string, have: string, asked: string) =>
    badInput(`init: the cluster already exists with ${what} ${have} (asked for ${asked}); use another WID_HOME to create a new one`)
  if (options.clusterName !== undefined && TrustDomain.parse(options.clusterName).name !== existing.clusterName) {
    throw conflict('cluster name', existing.clusterName, options.clusterName)
  }
  if (options.publicAddr !== undefined && checkPublicAddr(options.publicAddr) !== existing.publicAddr) {
    throw conflict('public address', existing.publicAddr, options.publicAddr)
  }
  if (options.caKeyType !== undefined) {
    const {authority} = await getAuthority(backend, 'spiffe')
    const current = authority.activeKeys[0]?.keyType
    if (current && current !== options.caKeyType) throw conflict('CA key type', current, options.caKeyType)
  }
  return existing
}
