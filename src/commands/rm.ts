import {Args} from '@oclif/core'
import {ClusterCommand} from '../base-command.js'
import {as} from '../flags.js'

export default class Rm extends ClusterCommand {
  static override args = {
    ref: Args.string({ignoreStdin: true, description: 'KIND/NAME of the resource to delete (a token by its id, 8 or more of its first hex digits, or the token itself).', required: true}),
  }
  static override description = 'Deletes one resource. A role that a user or bot still holds is refused; deleting a bot also deletes its join tokens. A user or bot (on a server) deletes only the workload identities that the workload_identity_labels of a role allowing delete on workload_identity match.'
  static override examples = [
    '<%= config.bin %> rm workload_identity/example-workload-identity',
    '<%= config.bin %> rm role/old-role',
    '<%= config.bin %> rm workload_identity/team-a-api --as user/tara',
  ]
  static override flags = {as: as('delete')}
  static override summary = 'Delete a resource.'

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Rm)
    const {parseAs, parseKindRef} = await import('../lib/resources/refs.js')
    const {resourceLabel} = await import('../lib/resources/names.js')
    const {kind, name} = parseKindRef(args.ref, true)
    const cluster = await this.cluster({as: flags.as === undefined ? undefined : parseAs(flags.as)})
    const shown = await cluster.deleteResource(kind, name!)
    this.success(`${resourceLabel(kind, shown)} has been deleted`)
  }
}
