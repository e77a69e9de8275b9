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

/**
 * Written by `wid restore` with the backup's revision: the items of the backup have that
 * revision or a lower one, what the cluster wrote since a higher one.
 */
export interface RestoreMark {
  /** When the restore ran, and when the backup was taken. */
  at: string
  backupCreated: string
  revision: number
}

export const RESTORE_MARK_KEY = '/cluster/restored'

export async function getRestoreMark(backend: Backend): Promise<RestoreMark | undefined> {
  const item = await backend.get(RESTORE_MARK_KEY)
  return item && parseStored<RestoreMark>(item.value, RESTORE_MARK_KEY)
}

export function parseStored<T>(value: string, key: string): T {
  try {
    return JSON.parse(value) as T
  } catch {
    throw new WidError('state', `backend: stored value at ${key} is not valid JSON`)
  }
}
