import {Args} from '@oclif/core'
import {ClusterCommand} from '../../base-command.js'

export default class TokensRm extends ClusterCommand {
  static override args = {id: Args.string({ignoreStdin: true, description: 'The token id from wid tokens ls (8 or more hex digits), or the token itself.', required: true})}
  static override description = 'Deletes a join token so that it can no longer be used.'
  static override examples = ['<%= config.bin %> tokens rm 3f9a61c2']
  static override summary = 'Remove a join token.'

  async run(): Promise<void> {
    const {args} = await this.parse(TokensRm)
    const id = await (await this.cluster()).deleteResource('token', args.id)
    this.success(`token ${id} has been deleted`)
  }
}
