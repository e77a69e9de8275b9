/** `wid create -f`: check the whole stream, then apply it in order, stopping at the first failure. */
import {hashSecret} from '../crypto/secrets.js'
import {resourceLabel} from '../resources/names.js'
import type {Cluster} from './cluster.js'
import {WidError} from '../errors.js'
import {readResources} from '../resources/validate.js'

export interface AppliedResource {
  kind: string
  name: string
  action: 'created' | 'updated'
  /** `workload_identity "x" has been created` */
  message: string
}

export async function applyStream(
  cluster: Cluster,
  text: string,
  source: string,
  options: {force: boolean; onApplied?: (applied: AppliedResource) => void},
): Promise<AppliedResource[]> {
  const documents = await readResources(text, source)
  const applied: AppliedResource[] = []
  for (const {resource, where} of documents) {
    // A one-time token document's name is its secret: report it by the id it is stored under instead.
    const name = resource.kind === 'token' && resource.spec.join_method === 'token' ? hashSecret(resource.metadata.name).slice(0, 16) : resource.metadata.name
    const label = resourceLabel(resource.kind, name)
    try {
      const action = await cluster.applyResource(resource, options.force ? 'upsert' : 'create')
      const result = {kind: resource.kind, name, action, message: `${label} has been ${action}`}
      applied.push(result)
      options.onApplied?.(result)
    } catch (error) {
      if (!(error instanceof WidError)) throw error
      const done = applied.length ? ` (${applied.length} of ${documents.length} documents were applied before it)` : ' (nothing was applied)'
      throw new WidError(error.code, `${where}: ${error.message}${done}`, {cause: error})
    }
  }
  return applied
}
