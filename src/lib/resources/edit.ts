/**
 * `wid edit`: the resource as YAML in $VISUAL/$EDITOR, checked like `wid create -f` when the
 * editor exits, and written back only if nobody changed it meanwhile (revision check).
 */
import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {resourceLabel} from '../auth/admin.js'
import type {Cluster} from '../cluster/cluster.js'
import {badInput, WidError} from '../errors.js'
import {toYaml} from './render.js'
import type {Kind} from './types.js'
import {readResources} from './validate.js'

export interface EditOptions {
  interactive: boolean
  editor: string | undefined
}

export async function editResource(cluster: Cluster, kind: Kind, name: string, options: EditOptions): Promise<'updated' | 'unchanged'> {
  if (!options.interactive) {
    throw badInput(`edit: needs an interactive terminal; without one use: wid get ${kind}/${name} > r.yaml && wid create --force -f r.yaml`)
  }
  if (kind === 'token') throw badInput('edit: tokens cannot be edited; remove the token and add a new one')
  const current = await cluster.getResource(kind, name)
  const revision = current.metadata.revision!
  const original = await toYaml([{...current, metadata: {...current.metadata, revision: undefined}}])
  const dir = mkdtempSync(join(tmpdir(), 'wid-edit-'))
  const file = join(dir, `${kind}-${name}.yaml`)
  try {
    writeFileSync(file, original, {mode: 0o600})
    const editor = options.editor || 'vi'
    const result = spawnSync(`${editor} "$WID_EDIT_FILE"`, {shell: true, stdio: 'inherit', env: {...process.env, WID_EDIT_FILE: file}})
    if (result.error || result.status !== 0) {
      throw new WidError('bad_input', `edit: the editor "${editor}" failed (exit ${result.status ?? result.error?.message}); nothing was changed`)
    }
    const edited = readFileSync(file, 'utf8')
    if (edited === original) return 'unchanged'
    const documents = await readResources(edited, file)
    if (documents.length !== 1) throw badInput(`edit: ${file} must hold exactly one resource; nothing was changed`)
    const {resource} = documents[0]!
    if (resource.kind !== kind || resource.metadata.name !== name) {
      throw badInput(`edit: the kind and name cannot change (${resourceLabel(kind, name)}); nothing was changed`)
    }
    await cluster.applyResource(resource, {revision})
    return 'updated'
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}
