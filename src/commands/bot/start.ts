import {Flags} from '@oclif/core'
import {WidCommand} from '../../base-command.js'
import {botFlags} from '../../flags.js'

export default class BotStart extends WidCommand {
  static override description = `The bot agent (tbot's "start"). It joins the cluster as a bot with a one-time token (checking the cluster's CA against --ca-pin), keeps its identity in --storage (0700, files 0600) and renews it, and keeps each output fresh: SVID files written as one consistent set, renewed every renewal_interval, retried with backoff (1 s doubling, with jitter; 5 tries, 7 for its own identity) and kept until they expire when the cluster cannot be reached.
Configuration: tbot's v2 YAML (-c bot.yaml; services workload-identity-x509, workload-identity-jwt, workload-identity-aws-roles-anywhere, workload-identity-api, and legacy outputs spiffe-svid), or the flags below for one output; flags override the file's top-level settings. Errors are reported at file:line:col before anything starts.
The Workload API (workload-identity-api, or --listen): the SPIFFE Workload API on a unix socket (or tcp://127.0.0.1:PORT, unattested); each connecting process is attested from the kernel (uid, gid, pid, binary path and hash) and the workload identities' rules decide what it gets. Not in --oneshot mode.
Signals: SIGUSR1 renews everything now (the Workload API's SVIDs too), SIGHUP reads the configuration file again (a bad one is refused and the old one kept), SIGTERM and SIGINT stop. --oneshot writes everything once and exits 0, or exits non-zero with the reason.
Several servers of one cluster: proxy_server (or --proxy-server) may list them comma-separated (a:3443,b:3443). Every call goes to the server that answered last and moves to the next only when the request certainly was not processed (no connection could be made, or the server answered that its store is unavailable without reading it): a renewal is never sent twice. When none answers, one line names each address and why.
--diag-addr serves /healthz, /readyz (503 naming the services that have no output yet) and /metrics (Prometheus). --local issues from the embedded cluster in WID_HOME as the bot --bot, with exactly that bot's roles (no join).`
  static override examples = [
    '<%= config.bin %> bot start -c /etc/wid/bot.yaml',
    '<%= config.bin %> bot start --proxy-server wid.example.org:3443 --token /var/lib/wid/bot-token --ca-pin sha256:… --storage /var/lib/wid/bot --destination /opt/svid --name-selector example-workload-identity',
    '<%= config.bin %> bot start --oneshot --proxy-server wid-a.example.org:3443,wid-b.example.org:3443 --token /var/lib/wid/bot-token --ca-pin sha256:… --storage /var/lib/wid/bot --destination /opt/svid --svid-path /svc/foo',
    '<%= config.bin %> bot start --oneshot --local --bot my-bot --destination /opt/svid --svid-path /svc/foo',
    '<%= config.bin %> bot start --local --bot my-bot --listen unix:///run/wid/workload.sock --label-selector example=workload-api',
  ]
  static override flags = {
    ...botFlags,
    local: Flags.boolean({description: 'Issue from the embedded cluster in WID_HOME as the bot named by --bot (no join, no storage).', dependsOn: ['bot']}),
    bot: Flags.string({description: 'With --local: the bot to issue as.', dependsOn: ['local']}),
    'log-format': Flags.string({description: 'Log lines on stderr as text (default) or JSON.', options: ['text', 'json'], default: 'text'}),
  }
  static override summary = 'Run the bot agent: join, renew, keep SVIDs fresh on disk and serve the Workload API.'

  async run(): Promise<void> {
    const {flags} = await this.parse(BotStart)
    const {startAgent} = await import('../../lib/bot/start.js')
    await startAgent({
      flags,
      configPath: flags.config,
      local: flags.local ? {bot: flags.bot!} : undefined,
      logFormat: flags['log-format'] as 'text' | 'json',
    })
  }
}
