import {Args, Flags} from '@oclif/core'
import {ClusterCommand} from '../../base-command.js'
import {duration, roles} from '../../flags.js'
import {parseDuration} from '../../lib/duration.js'

export default class BotsAdd extends ClusterCommand {
  static override args = {name: Args.string({ignoreStdin: true, description: 'Name of the bot.', required: true})}
  static override description = `Creates a bot holding the given roles, and a one-time join token for it (stored only as a hash). The token is printed on stdout; keep it secret and hand it to the machine that will run the bot.`
  static override enableJsonFlag = true
  static override examples = [
    '<%= config.bin %> bots add my-bot --roles example-workload-identity-issuer',
    '<%= config.bin %> bots add ci-bot --roles issuer --token-ttl 15m --format json',
  ]
  static override flags = {
    format: Flags.option({default: 'text', description: 'Output format (json is the same as --json).', options: ['text', 'json'] as const})(),
    roles: roles('Roles of the bot (comma-separated); every role must exist. Add more later with wid bots update.'),
    'token-ttl': duration('How long the join token stays valid.', '1h'),
  }
  static override summary = 'Add a bot and print its join token.'

  async run() {
    const {args, flags} = await this.parse(BotsAdd)
    const {parseList} = await import('../../lib/resources/refs.js')
    const cluster = await this.cluster()
    const {bot, join} = await cluster.addBot({
      name: args.name,
      roles: parseList(flags.roles),
      tokenTtlSeconds: parseDuration(flags['token-ttl'], '--token-ttl'),
    })
    const result = {bot: bot.metadata.name, roles: bot.spec.roles, token: join.token, expires: join.expires}
    if (flags.format === 'json' && !this.jsonEnabled()) {
      this.log(JSON.stringify(result, null, 2))
      return result
    }
    this.success(`✔ bot "${result.bot}" has been created with roles: ${result.roles.join(', ') || '(none)'}`)
    this.note(`The join token below expires in ${join.ttl} (${join.expires}). It is shown only once.`)
    this.log(join.token)
    return result
  }
}
