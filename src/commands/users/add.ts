import {Args} from '@oclif/core'
import {ClusterCommand} from '../../base-command.js'
import {duration, roles} from '../../flags.js'
import {parseDuration} from '../../lib/duration.js'

export default class UsersAdd extends ClusterCommand {
  static override args = {name: Args.string({ignoreStdin: true, description: 'Name of the user.', required: true})}
  static override description = `Creates a user holding the given roles and prints a one-time invite token (stored only as a hash). The user redeems it with wid login to set a password; until then the invite is the only way in.`
  static override enableJsonFlag = true
  static override examples = [
    '<%= config.bin %> users add alice --roles access',
    '<%= config.bin %> users add bob --roles access,editor --invite-ttl 2h --json',
  ]
  static override flags = {
    'invite-ttl': duration('How long the invite stays valid.', '24h'),
    roles: roles('Roles of the user (comma-separated); every role must exist. Add more later with wid users update.'),
  }
  static override summary = 'Add a user and print a one-time invite.'

  async run() {
    const {args, flags} = await this.parse(UsersAdd)
    const {parseList} = await import('../../lib/resources/refs.js')
    const {invite} = await (await this.cluster()).addUser({
      name: args.name,
      roles: parseList(flags.roles),
      inviteTtlSeconds: parseDuration(flags['invite-ttl'], '--invite-ttl'),
    })
    this.success(`✔ user "${args.name}" has been created`)
    this.note(`The invite below expires in ${invite.ttl} (${invite.expires}). It is shown only once; the user redeems it with wid login --invite.`)
    this.log(invite.token)
    return {user: args.name, invite: invite.token, expires: invite.expires}
  }
}
