/** The cluster's identity: its name (the SPIFFE trust domain) and public address. */
import type {Backend} from '../backend/backend.js'
import {WidError} from '../errors.js'

export interface ClusterConfig {
  clusterName: string
  /** `https://host[:port]`, the base of the JWT-SVID issuer URL. */
  publicAddr: string
  createdAt: string
}

export const CLUSTER_CONFIG_KEY = '/cluster/config'

export async function getClusterConfig(backend: Backend): Promise<ClusterConfig | undefined> {
  const item = await backend.get(CLUSTER_CONFIG_KEY)
  if (!item) return undefined
  const config = parseStored<ClusterConfig>(item.value, CLUSTER_CONFIG_KEY)
  if (typeof config?.clusterName !== 'string' || typeof config.publicAddr !== 'string') {
    throw new WidError('state', `backend: stored cluster config at ${CLUSTER_CONFIG_KEY} is damaged`)
  }
  return config
}

export function parseStored<T>(value: string, key: string): T {
  try {
    return JSON.parse(value) as T
  } catch {
    throw new WidError('state', `backend: stored value at ${key} is not valid JSON`)
  }
}
