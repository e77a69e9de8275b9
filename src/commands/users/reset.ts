import {Args} from '@oclif/core'
import {ClusterCommand} from '../../base-command.js'
import {duration} from '../../flags.js'
import {parseDuration} from '../../lib/duration.js'

export default class UsersReset extends ClusterCommand {
  static override args = {name: Args.string({ignoreStdin: true, description: 'Name of the user.', required: true})}
  static override description = `For a user who forgot the password or is locked out: clears the password, forgets the failed logins, refuses the user's current logins, and prints a new one-time invite (stored only as a hash) that the user redeems with wid login --invite to set a new password. Roles and traits are kept.`
  static override enableJsonFlag = true
  static override examples = ['<%= config.bin %> users reset alice', '<%= config.bin %> users reset alice --invite-ttl 2h --json']
  static override flags = {
    'invite-ttl': duration('How long the invite stays valid.', '24h'),
  }
  static override summary = "Reset a user's password: print a new one-time invite."

  async run() {
    const {args, flags} = await this.parse(UsersReset)
    const {invite} = await (await this.cluster()).resetUser({name: args.name, inviteTtlSeconds: parseDuration(flags['invite-ttl'], '--invite-ttl')})
    this.success(`✔ user "${args.name}" has been reset: the password is cleared and current logins are refused`)
    this.note(`The invite below expires in ${invite.ttl} (${invite.expires}). It is shown only once; the user redeems it with wid login --invite.`)
    this.log(invite.token)
    return {user: args.name, invite: invite.token, expires: invite.expires}
  }
}
