import {ClusterCommand} from '../../base-command.js'
import type {Token} from '../../lib/resources/types.js'

export default class TokensLs extends ClusterCommand {
  static override description = 'Lists join tokens by id (the start of the hash they are stored under), with their bot and expiry. The tokens themselves cannot be shown: only their hashes are stored.'
  static override enableJsonFlag = true
  static override examples = ['<%= config.bin %> tokens ls']
  static override summary = 'List join tokens.'

  async run() {
    await this.parse(TokensLs)
    const {toText} = await import('../../lib/resources/render.js')
    const {tokenId} = await import('../../lib/resources/names.js')
    const tokens = (await (await this.cluster()).listResources('token')) as Token[]
    if (!this.jsonEnabled()) process.stdout.write(toText('token', tokens) || 'no tokens\n')
    return tokens.map((t) => ({id: tokenId(t), bot: t.spec.bot_name, joinMethod: t.spec.join_method, expires: t.metadata.expires}))
  }
}
