import {Flags} from '@oclif/core'
import {ClusterCommand} from '../../base-command.js'
import {formatDuration} from '../../lib/duration.js'
import type {AuditEvent} from '../../lib/services/audit.js'

function subject(e: AuditEvent): string {
  if (e.spiffe_id) return `${e.spiffe_id} (${e.svid_type}, serial ${e.serial}, ${e.ttl_seconds}s${e.workload_identity ? `, ${e.workload_identity}` : ''})`
  if (e.automatic !== undefined) return `${e.authority} CA: ${e.automatic ? `rotated automatically, each key living ${e.ca_ttl}` : 'rotated by hand only'}`
  if (e.authority) return `${e.authority} CA: ${e.previous_phase} → ${e.phase} (${e.mode ?? 'manual'}, signing ${e.signing_key})`
  if (e.retention_seconds !== undefined) return `retention ${e.previous_retention_seconds === undefined ? '(damaged)' : formatDuration(e.previous_retention_seconds)} → ${formatDuration(e.retention_seconds)}`
  if (e.type === 'audit.pruned') return `events older than ${e.before} deleted`
  return `${e.kind} ${e.name}${e.address ? ` (from ${e.address})` : ''}${e.reason ? ` (${e.reason})` : ''}`
}

export default class AuditLs extends ClusterCommand {
  static override description = `Lists audit events, oldest (first committed) first: every resource created, updated or deleted (resource.created, resource.updated, resource.deleted), every SVID issued (svid.issued), every user reset (user.reset), and on a server every login (user.login) and invite redeemed (user.invite_redeemed), with the client address, every login refused for a wrong password or invite (user.login_failed, with the client address as actor and the reason), every login certificate issued again by a client CA rotation (user.login_reissued), every CA rotation phase (ca.rotation, with the CA, both phases, how it is rotated and the key that signs) and every change of a CA's automatic rotation (ca.rotation_policy), every change of the audit retention (audit.retention) and every prune by hand (audit.pruned), with who did it. Events older than the retention (wid audit retention) are deleted; wid audit export streams the log as JSON lines. What the local admin did as a user or bot (--as) names the admin as actor, e.g. admin:root (as bot:my-bot).`
  static override enableJsonFlag = true
  static override examples = ['<%= config.bin %> audit ls --since 1h', '<%= config.bin %> audit ls --type svid.issued --json']
  static override flags = {
    since: Flags.string({description: 'Only events from this time (RFC 3339, e.g. 2026-12-01T00:00:00Z) or this long ago (a duration, e.g. 1h) on.', helpValue: '<time|duration>'}),
    type: Flags.string({description: 'Only events of this type, e.g. svid.issued.'}),
  }
  static override summary = 'Show the audit log.'

  async run() {
    const {flags} = await this.parse(AuditLs)
    const {renderTable} = await import('../../lib/output/table.js')
    const {parseTimeOrAgo} = await import('../../lib/time.js')
    const since = flags.since === undefined ? undefined : parseTimeOrAgo(flags.since, '--since', new Date())
    const events = await (await this.cluster({keepAudit: true})).listAudit({since, type: flags.type})
    if (!this.jsonEnabled()) {
      const rows = events.map((e) => [e.time, e.type, e.as ? `${e.actor} (as ${e.as})` : e.actor, subject(e)])
      process.stdout.write(renderTable(['TIME', 'TYPE', 'ACTOR', 'SUBJECT'], rows) || 'no events\n')
    }
    return events
  }
}
