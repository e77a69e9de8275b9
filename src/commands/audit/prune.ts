import {Flags} from '@oclif/core'
import {ClusterCommand} from '../../base-command.js'

export default class AuditPrune extends ClusterCommand {
  static override description = `Deletes the audit events older than --before, a time (RFC 3339, e.g. 2026-12-01T00:00:00Z) or a duration ago (720h), at most now, whatever the retention; the prune itself is audited (audit.pruned, with the time and how many went). Events older than the retention are pruned anyway, by the server every minute (and a batch at a time by local commands): this is for a one-off. Needs update on cluster_audit_config, as wid audit retention --set.`
  static override enableJsonFlag = true
  static override examples = ['<%= config.bin %> audit prune --before 720h', '<%= config.bin %> audit prune --before 2026-12-01T00:00:00Z --json']
  static override flags = {
    before: Flags.string({description: 'Delete the events older than this time (RFC 3339) or this long ago (a duration).', helpValue: '<time|duration>', required: true}),
  }
  static override summary = 'Delete audit events older than a time.'

  async run() {
    const {flags} = await this.parse(AuditPrune)
    const {parseTimeOrAgo} = await import('../../lib/time.js')
    const before = parseTimeOrAgo(flags.before, '--before', new Date())
    const result = await (await this.cluster({keepAudit: true})).pruneAudit(before)
    this.success(`✔ deleted ${result.deleted} audit event${result.deleted === 1 ? '' : 's'} older than ${result.before}`)
    return result
  }
}
