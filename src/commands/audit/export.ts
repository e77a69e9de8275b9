import {once} from 'node:events'
import {Flags} from '@oclif/core'
import {ClusterCommand} from '../../base-command.js'

export default class AuditExport extends ClusterCommand {
  static override description = `Writes audit events to stdout as JSON lines, one event per line, oldest (first committed) first: the fields of the stored event, snake_case, the same as wid audit ls --json shows (the README's table lists them), for a SIEM, a log shipper or jq. --since keeps the events from a time (2026-12-01T00:00:00Z) or from a duration ago (24h). --follow then keeps writing new events as they are committed (polled every 250 ms locally, every second from a server) until SIGINT or SIGTERM, which end it with status 0; a reader that goes away (| head -1) ends it quietly. Events are read a page (1000) at a time: a slow reader pauses the reading. Needs list on audit, as wid audit ls.`
  static override examples = [
    '<%= config.bin %> audit export > audit.jsonl',
    '<%= config.bin %> audit export --since 24h | jq -c \'select(.type == "svid.issued")\'',
    '<%= config.bin %> audit export --since 2026-12-01T00:00:00Z --follow >> /var/log/wid/audit.jsonl',
  ]
  static override flags = {
    follow: Flags.boolean({description: 'After the events so far, keep writing new ones until interrupted (SIGINT or SIGTERM).'}),
    since: Flags.string({description: 'Only events from this time (RFC 3339, e.g. 2026-12-01T00:00:00Z) or this long ago (a duration, e.g. 24h) on.', helpValue: '<time|duration>'}),
  }
  static override summary = 'Stream the audit log as JSON lines.'

  async run() {
    const {flags} = await this.parse(AuditExport)
    const {parseTimeOrAgo} = await import('../../lib/time.js')
    const since = flags.since === undefined ? undefined : parseTimeOrAgo(flags.since, '--since', new Date())
    const {exportAudit} = await import('../../lib/cluster/audit-export.js')
    const cluster = await this.cluster({keepAudit: true})
    const stop = new AbortController()
    const onSignal = () => stop.abort()
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
    try {
      await exportAudit(cluster, {
        since,
        follow: flags.follow,
        idleMs: cluster.mode === 'local' ? 250 : 1000,
        signal: stop.signal,
        write: async (lines) => {
          if (process.stdout.write(lines)) return
          await once(process.stdout, 'drain', {signal: stop.signal}).catch(() => undefined)
        },
      })
    } finally {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    }
  }
}
