/**
 * `wid edit`, as `kubectl edit` does it: the resource as YAML in $VISUAL/$EDITOR, checked
 * like `wid create -f` when the editor exits and written back only if nobody changed it
 * meanwhile (revision check). A document the cluster refuses is opened again with the error
 * at the top; when the user gives up (saves it unchanged, or the editor fails), or the
 * resource changed meanwhile, the edits are kept in a file whose path the error names.
 */
import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {resourceLabel} from '../resources/names.js'
import type {Cluster} from './cluster.js'
import {badInput, WidError} from '../errors.js'
import {toYaml} from '../resources/render.js'
import type {Kind} from '../resources/types.js'
import {readResources} from '../resources/validate.js'

export interface EditOptions {
  interactive: boolean
  editor: string | undefined
}

const HEADER = [
  '# Edit the resource below; it is checked and applied when you save and quit.',
  "# Lines at the top that begin with '#' are ignored; an empty file cancels the edit.",
]

/** The file the editor opens: the header, the error of the last try (if any), the document. */
function draft(document: string, error?: string): string {
  const problem = error === undefined ? [] : ['#', ...error.split('\n').map((line) => `# error: ${line}`), '#']
  return [...HEADER, ...problem, document].join('\n')
}

/** The document without the comment block at its top. */
function body(text: string): string {
  const lines = text.split('\n')
  let start = 0
  while (start < lines.length && lines[start]!.startsWith('#')) start++
  return lines.slice(start).join('\n')
}

/** Refusals the user can fix in the editor: the document itself is wrong. */
const fixable = (error: unknown): error is WidError => error instanceof WidError && error.code === 'bad_input'

export async function editResource(cluster: Cluster, kind: Kind, name: string, options: EditOptions): Promise<'updated' | 'unchanged'> {
  if (!options.interactive) {
    throw badInput(`edit: needs an interactive terminal; without one use: wid get ${kind}/${name} > r.yaml && wid create --force -f r.yaml`)
  }
  const current = await cluster.getResource(kind, name)
  // A one-time token is stored by its secret's hash; a delegated method's holds no secret and is edited as any resource
  if (current.kind === 'token' && current.spec.join_method === 'token') throw badInput('edit: one-time tokens cannot be edited; remove the token and add a new one')
  const revision = current.metadata.revision!
  const original = await toYaml([{...current, metadata: {...current.metadata, revision: undefined}}])
  const dir = mkdtempSync(join(tmpdir(), 'wid-edit-'))
  const file = join(dir, `${kind}-${name}.yaml`)
  let keep = false
  /** Leaves the user's edits in `file` (0600, in a directory of its own) and says where. */
  const kept = (why: string, code: WidError['code'] = 'bad_input') => {
    keep = true
    return new WidError(code, `edit: ${why}; nothing was changed, and your edits are kept in ${file}`)
  }
  try {
    let document = original
    let error: string | undefined
    for (;;) {
      writeFileSync(file, draft(document, error), {mode: 0o600})
      const editor = options.editor || 'vi'
      const result = spawnSync(`${editor} "$WID_EDIT_FILE"`, {shell: true, stdio: 'inherit', env: {...process.env, WID_EDIT_FILE: file}})
      if (result.error || result.status !== 0) {
        const failed = `the editor "${editor}" failed (exit ${result.status ?? result.error?.message})`
        if (error === undefined) throw new WidError('bad_input', `edit: ${failed}; nothing was changed`)
        throw kept(failed)
      }
      const text = readFileSync(file, 'utf8')
      const edited = body(text)
      if (edited.trim() === '') throw new WidError('bad_input', 'edit: the file was emptied, so the edit is cancelled; nothing was changed')
      if (edited === original) return 'unchanged'
      // Saved again as it was after a refusal: the user gives up on this edit.
      if (error !== undefined && edited === document) throw kept(error.replace(/^edit: /, ''))
      document = edited
      try {
        // The comments are YAML comments: parsed whole, positions are lines of the file as the editor shows it.
        const documents = await readResources(text, `${kind}-${name}.yaml`)
        if (documents.length !== 1) throw badInput('edit: the file must hold exactly one resource')
        const {resource} = documents[0]!
        if (resource.kind !== kind || resource.metadata.name !== name) {
          throw badInput(`edit: the kind and name cannot change (${resourceLabel(kind, name)})`)
        }
        await cluster.applyResource(resource, {revision})
        return 'updated'
      } catch (caught) {
        if (caught instanceof WidError && caught.code === 'compare_failed') throw kept(`${resourceLabel(kind, name)} was changed by someone else meanwhile`, 'compare_failed')
        if (!fixable(caught)) {
          if (caught instanceof WidError) throw kept(caught.message.replace(/^edit: /, ''), caught.code)
          throw caught
        }
        error = caught.message
      }
    }
  } finally {
    if (!keep) rmSync(dir, {recursive: true, force: true})
  }
}
