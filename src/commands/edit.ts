import {Args} from '@oclif/core'
import {ClusterCommand} from '../base-command.js'

export default class Edit extends ClusterCommand {
  static override args = {
    ref: Args.string({ignoreStdin: true, description: 'KIND/NAME of the resource to edit.', required: true}),
  }
  static override description = `Opens the resource as YAML in $VISUAL or $EDITOR (default vi). When the editor exits, the document is checked like wid create -f and written back, unless someone changed the resource meanwhile, in which case nothing is overwritten.
A refused document opens again with the error at the top (as kubectl edit does); saving it unchanged gives up, and the edits are then kept in a file whose path the error names. An emptied file cancels the edit. Needs a terminal: in scripts, use wid get and wid create --force.`
  static override examples = ['<%= config.bin %> edit role/example-workload-identity-issuer', 'EDITOR=nano <%= config.bin %> edit workload_identity/example-workload-identity']
  static override summary = 'Edit a resource in your editor.'

  async run(): Promise<void> {
    const {args} = await this.parse(Edit)
    const {parseKindRef} = await import('../lib/resources/refs.js')
    const {editResource} = await import('../lib/cluster/edit.js')
    const {resourceLabel} = await import('../lib/resources/names.js')
    const {kind, name} = parseKindRef(args.ref, true)
    const cluster = await this.cluster()
    const result = await editResource(cluster, kind, name!, {
      interactive: Boolean(process.stdin.isTTY && process.stdout.isTTY),
      editor: process.env.VISUAL || process.env.EDITOR,
    })
    if (result === 'updated') this.success(`${resourceLabel(kind, name!)} has been updated`)
    else this.note(`${resourceLabel(kind, name!)}: no changes`)
  }
}
