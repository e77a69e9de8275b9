import {ClusterCommand} from '../../base-command.js'
import {duration} from '../../flags.js'
import {formatDuration, parseDuration} from '../../lib/duration.js'
import {DEFAULT_RETENTION_SECONDS, MAX_RETENTION_SECONDS, MIN_RETENTION_SECONDS, type AuditRetention} from '../../lib/services/audit-retention.js'

function show(r: AuditRetention): string {
  const days = r.retentionSeconds % 86_400 === 0 ? ` (${r.retentionSeconds / 86_400} days)` : ''
  return [
    `retention:    ${r.retention}${days}${r.default ? ', the default' : ''}`,
    `oldest event: ${r.oldestEvent ?? 'none'}`,
    `last pruned:  ${r.lastPruned ? `${r.lastPruned.time}, ${r.lastPruned.events} event${r.lastPruned.events === 1 ? '' : 's'} older than ${r.lastPruned.before}` : 'never'}`,
  ].join('\n')
}

export default class AuditRetentionCommand extends ClusterCommand {
  static override description = `Shows how long audit events are kept (${formatDuration(DEFAULT_RETENTION_SECONDS)}, 90 days, until set), the oldest event kept and when events were last pruned; --set changes it for the whole cluster (every server and local command), from ${formatDuration(MIN_RETENTION_SECONDS)} to ${formatDuration(MAX_RETENTION_SECONDS)} (ten years), audited as audit.retention. Events older than the retention are deleted by the server every minute, and by local commands a batch at a time as they open the store (with no server running); SQLite gives the space back once a quarter of its file is free. Showing needs read on cluster_audit_config, --set needs update (the preset editor role has both).`
  static override enableJsonFlag = true
  static override examples = ['<%= config.bin %> audit retention', '<%= config.bin %> audit retention --set 720h', '<%= config.bin %> audit retention --json']
  static override flags = {
    set: duration(`Keep events this long (a duration such as 720h; ${formatDuration(MIN_RETENTION_SECONDS)} to ${formatDuration(MAX_RETENTION_SECONDS)}).`),
  }
  static override summary = 'Show or set how long audit events are kept.'

  async run() {
    const {flags} = await this.parse(AuditRetentionCommand)
    const seconds = flags.set === undefined ? undefined : parseDuration(flags.set, '--set')
    const cluster = await this.cluster({keepAudit: true})
    const retention = seconds === undefined ? await cluster.auditRetention() : await cluster.setAuditRetention(seconds)
    if (seconds !== undefined) this.success(`✔ audit events are kept for ${retention.retention}`)
    else if (!this.jsonEnabled()) process.stdout.write(`${show(retention)}\n`)
    return retention
  }
}
