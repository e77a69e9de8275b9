import {Flags} from '@oclif/core'
import {WidCommand} from '../../base-command.js'
import {botFlags, force} from '../../flags.js'

export default class BotConfigure extends WidCommand {
  static override description = `Writes the configuration that wid bot start would run with, as tbot's v2 YAML: the flags alone, or -c FILE with the flags replacing its top-level fields (and adding the service they describe). It is checked as wid bot start checks it, so a mistake is reported here, with the flag or the file:line:col. Only fields that differ from their defaults are written, besides version, the cluster, onboarding, storage and the services. A token given as a file stays a file path; a token given as a value is written into the YAML, so keep it as secret as the token. proxy_server may list several servers of one cluster, comma-separated (see wid bot start).`
  static override examples = [
    '<%= config.bin %> bot configure --proxy-server wid.example.org:3443 --token ./bot-token --destination /opt/workload-identity --name-selector example-workload-identity',
    '<%= config.bin %> bot configure --proxy-server wid.example.org:3443 --token ./bot-token --destination /opt/svid --svid-path /svc/foo --audience sts.amazonaws.com -o bot.yaml',
    '<%= config.bin %> bot configure --proxy-server wid-a.example.org:3443,wid-b.example.org:3443 --token ./bot-token --destination /opt/svid --svid-path /svc/foo',
    '<%= config.bin %> bot configure -c tbot.yaml --certificate-ttl 30m --renewal-interval 10m',
    '<%= config.bin %> bot configure --proxy-server wid.example.org:3443 --token ./bot-token --listen unix:///run/wid/workload.sock --label-selector example=workload-api',
  ]
  static override flags = {
    ...botFlags,
    force,
    output: Flags.string({char: 'o', description: 'Write the YAML to this file (mode 0600) instead of standard output.', helpValue: '<file>'}),
  }
  static override summary = "Print the bot agent's configuration as tbot v2 YAML."

  async run() {
    const {flags} = await this.parse(BotConfigure)
    const {resolveBotConfig} = await import('../../lib/bot/config-flags.js')
    const {renderConfig} = await import('../../lib/bot/config-render.js')
    const yaml = renderConfig(await resolveBotConfig(flags))
    if (flags.output === undefined) {
      this.log(yaml.trimEnd())
      return
    }
    const {writeFileAtomic} = await import('../../lib/output/files.js')
    await writeFileAtomic(flags.output, yaml, 0o600, {force: flags.force})
    this.success(`✔ wrote ${flags.output}`)
  }
}
