import {Args} from '@oclif/core'
import {ClusterCommand} from '../../../base-command.js'
import {badInput} from '../../../lib/errors.js'

export default class BotsInstancesRm extends ClusterCommand {
  static override args = {instance: Args.string({ignoreStdin: true, description: 'BOT/ID: the bot and the instance id, as wid bots instances ls shows them.', required: true})}
  static override description = 'Removes a bot instance: its identity is refused from then on, and the bot must join again with a new token (wid tokens add). Remove a locked instance this way once you know which copy of its identity to trust.'
  static override examples = ['<%= config.bin %> bots instances rm my-bot/3f9a61c24b0e8d7f5a2c1e9b6d4f8a03']
  static override summary = 'Remove a bot instance.'

  async run(): Promise<void> {
    const {args} = await this.parse(BotsInstancesRm)
    const slash = args.instance.indexOf('/')
    if (slash <= 0 || slash === args.instance.length - 1) throw badInput(`bots instances rm: expected BOT/ID (wid bots instances ls shows them), got "${args.instance}"`)
    const bot = args.instance.slice(0, slash)
    const id = args.instance.slice(slash + 1)
    await (await this.cluster()).deleteBotInstance(bot, id)
    this.success(`bot instance ${id} of bot "${bot}" has been deleted`)
  }
}
