import {Args} from '@oclif/core'
import {ClusterCommand} from '../../../base-command.js'

export default class BotsInstancesLs extends ClusterCommand {
  static override args = {bot: Args.string({ignoreStdin: true, description: 'Only the instances of this bot.'})}
  static override description = `Lists the instances of every bot, or of one: each join of a bot with a token makes an instance, with an id and a generation that counts the renewals of its identity. An instance is locked when its identity is renewed from two places (a copied identity); remove it with wid bots instances rm and join again.`
  static override enableJsonFlag = true
  static override examples = ['<%= config.bin %> bots instances ls', '<%= config.bin %> bots instances ls my-bot --json']
  static override summary = 'List bot instances.'

  async run() {
    const {args} = await this.parse(BotsInstancesLs)
    const {renderTable} = await import('../../../lib/output/table.js')
    const instances = await (await this.cluster()).listBotInstances(args.bot)
    if (!this.jsonEnabled()) {
      const rows = instances.map((i) => [i.bot, i.id, i.joinMethod, i.created, i.lastSeen, String(i.generation), i.locked ? `yes, ${i.locked.at}` : 'no'])
      process.stdout.write(renderTable(['BOT', 'INSTANCE', 'JOIN METHOD', 'CREATED', 'LAST SEEN', 'GENERATION', 'LOCKED'], rows) || 'no bot instances\n')
    }
    return instances
  }
}
