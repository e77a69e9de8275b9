/** Resources as stored: one JSON item per kind and name under /resources/. */
import type {Backend, Item, Operation} from '../backend/backend.js'
import type {Kind, Resource} from '../resources/types.js'
import {parseStored} from './cluster-config.js'

export const resourceKey = (kind: Kind, name: string): string => `/resources/${kind}/${name}`

function fromItem<T extends Resource>(item: Item): T {
  const resource = parseStored<T>(item.value, item.key)
  resource.metadata.revision = item.revision
  return resource
}

export async function getResource<T extends Resource>(backend: Backend, kind: Kind, name: string): Promise<T | undefined> {
  const item = await backend.get(resourceKey(kind, name))
  return item && fromItem<T>(item)
}

export async function listResources<T extends Resource>(backend: Backend, kind: Kind): Promise<T[]> {
  return (await backend.list(`/resources/${kind}/`)).map((item) => fromItem<T>(item))
}

/** The put that stores `resource` (its read-time revision is not part of what is stored). */
export function putResource(resource: Resource): Operation {
  const {revision, ...metadata} = resource.metadata
  return {key: resourceKey(resource.kind, resource.metadata.name), type: 'put', value: JSON.stringify({...resource, metadata})}
}
