import {Flags} from '@oclif/core'
import {ClusterCommand} from '../../base-command.js'
import {duration} from '../../flags.js'
import {parseDuration} from '../../lib/duration.js'

export default class TokensAdd extends ClusterCommand {
  static override description = 'Creates another join token for an existing bot (for example, a new machine that runs it). The token is printed once and stored only as a hash.'
  static override enableJsonFlag = true
  static override examples = ['<%= config.bin %> tokens add --type bot --bot-name my-bot', '<%= config.bin %> tokens add --type bot --bot-name my-bot --ttl 10m --json']
  static override flags = {
    'bot-name': Flags.string({description: 'The bot the token joins as.', required: true}),
    ttl: duration('How long the token stays valid.', '1h'),
    type: Flags.option({default: 'bot', description: 'What the token is for.', options: ['bot'] as const})(),
  }
  static override summary = 'Add a join token.'

  async run() {
    const {flags} = await this.parse(TokensAdd)
    const token = await (await this.cluster()).addBotToken(flags['bot-name'], parseDuration(flags.ttl, '--ttl'))
    this.success(`✔ token ${token.id} for bot "${flags['bot-name']}" expires in ${token.ttl} (${token.expires}); it is shown only once`)
    this.log(token.token)
    return {id: token.id, bot: flags['bot-name'], token: token.token, expires: token.expires}
  }
}
