/**
 * Cluster initialisation: the cluster config and both authorities are written in one
 * atomic batch that only succeeds on an empty store, so concurrent first uses by several
 * processes initialise exactly one cluster (the losers adopt the winner's).
 */
import type {Backend} from '../backend/backend.js'
import {type KeyType} from '../crypto/keys.js'
import {badInput, WidError} from '../errors.js'
import {authorityKey, getAuthority, type CertAuthority} from '../services/authorities.js'
import {resourceKey} from '../services/resources.js'
import type {Role} from '../resources/types.js'
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
    ...(await remoteModeItems(trustDomain, options.now)),
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

/** The preset roles of remote mode: `editor` manages resources, `access` may use workload identities. */
export const PRESET_ROLES: Role[] = [
  {
    kind: 'role',
    version: 'v7',
    metadata: {name: 'editor', description: 'Manage every kind of resource and read the audit log (preset by wid init)'},
    // Writes of workload identities are scoped by labels and SPIFFE IDs: the editor's scope is everything.
    spec: {
      allow: {
        rules: [{resources: ['*'], verbs: ['*']}],
        workload_identity_labels: {'*': '*'},
        spiffe: [{path: '/*', dns_sans: ['*'], ip_sans: ['0.0.0.0/0', '::/0']}],
      },
    },
  },
  {
    kind: 'role',
    version: 'v7',
    metadata: {name: 'access', description: 'Issue SVIDs from every workload identity (preset by wid init; narrow workload_identity_labels to restrict)'},
    spec: {allow: {workload_identity_labels: {'*': '*'}, rules: [{resources: ['workload_identity'], verbs: ['read', 'list']}]}},
  },
]

async function remoteModeItems(trustDomain: TrustDomain, now: Date): Promise<{key: string; value: object}[]> {
  const authority = async (type: 'host' | 'client'): Promise<CertAuthority> => ({
    type,
    clusterName: trustDomain.name,
    activeKeys: [await newX509AuthorityKey(trustDomain, 'ec-p256', now, type)],
    additionalTrustedKeys: [],
  })
  return [
    {key: authorityKey('host'), value: await authority('host')},
    {key: authorityKey('client'), value: await authority('client')},
    ...PRESET_ROLES.map((role) => ({key: resourceKey('role', role.metadata.name), value: role})),
  ]
}

/**
 * Adds what remote mode needs (host and client CAs, preset roles) to a cluster created
 * before it existed; anything already there is kept. Safe to race.
 */
export async function ensureRemoteMode(backend: Backend, config: ClusterConfig, now: Date): Promise<void> {
  if ((await backend.get(authorityKey('host'))) && (await backend.get(authorityKey('client')))) return
  for (const {key, value} of await remoteModeItems(TrustDomain.parse(config.clusterName), now)) {
    await backend.atomicWrite([{key, type: 'absent'}], [{key, type: 'put', value: JSON.stringify(value)}]).catch((error: unknown) => {
      if (!(error instanceof WidError) || error.code !== 'compare_failed') throw error
    })
  }
}

/** Points the cluster at a new public address (the server is the authority on where it is reachable). */
export async function setPublicAddr(backend: Backend, publicAddr: string): Promise<ClusterConfig> {
  const item = await backend.get(CLUSTER_CONFIG_KEY)
  const config = await getClusterConfig(backend)
  if (!item || !config) throw new WidError('state', 'init: the cluster is not initialised')
  const updated = {...config, publicAddr: checkPublicAddr(publicAddr)}
  if (updated.publicAddr === config.publicAddr) return config
  await backend.atomicWrite([{key: CLUSTER_CONFIG_KEY, type: 'revision', revision: item.revision}], [{key: CLUSTER_CONFIG_KEY, type: 'put', value: JSON.stringify(updated)}])
  return updated
}
