import {Flags} from '@oclif/core'
import {ClusterCommand} from '../../base-command.js'
import {duration} from '../../flags.js'
import {parseDuration} from '../../lib/duration.js'

export default class AuditLs extends ClusterCommand {
  static override description = `Lists audit events, oldest first: every resource created, updated or deleted (resource.created, resource.updated, resource.deleted), every SVID issued (svid.issued), every user reset (user.reset), and on a server every login (user.login) and invite redeemed (user.invite_redeemed), with the client address, every login refused for a wrong password or invite (user.login_failed, with the client address as actor and the reason), every login certificate issued again by a client CA rotation (user.login_reissued), every CA rotation phase (ca.rotation, with the CA, both phases, how it is rotated and the key that signs) and every change of a CA's automatic rotation (ca.rotation_policy), with who did it. What the local admin did as a user or bot (--as) names the admin as actor, e.g. admin:root (as bot:my-bot).`
  static override enableJsonFlag = true
  static override examples = ['<%= config.bin %> audit ls --since 1h', '<%= config.bin %> audit ls --type svid.issued --json']
  static override flags = {
    since: duration('Only events from this long ago until now.'),
    type: Flags.string({description: 'Only events of this type, e.g. svid.issued.'}),
  }
  static override summary = 'Show the audit log.'

  async run() {
    const {flags} = await this.parse(AuditLs)
    const {renderTable} = await import('../../lib/output/table.js')
    const since = flags.since === undefined ? undefined : new Date(Date.now() - parseDuration(flags.since, '--since') * 1000)
    const events = await (await this.cluster()).listAudit({since, type: flags.type})
    if (!this.jsonEnabled()) {
      const rows = events.map((e) => [
        e.time,
        e.type,
        e.as ? `${e.actor} (as ${e.as})` : e.actor,
        e.spiffe_id
          ? `${e.spiffe_id} (${e.svid_type}, serial ${e.serial}, ${e.ttl_seconds}s${e.workload_identity ? `, ${e.workload_identity}` : ''})`
          : e.automatic !== undefined
            ? `${e.authority} CA: ${e.automatic ? `rotated automatically, each key living ${e.ca_ttl}` : 'rotated by hand only'}`
            : e.authority
              ? `${e.authority} CA: ${e.previous_phase} → ${e.phase} (${e.mode ?? 'manual'}, signing ${e.signing_key})`
              : `${e.kind} ${e.name}${e.address ? ` (from ${e.address})` : ''}${e.reason ? ` (${e.reason})` : ''}`,
      ])
      process.stdout.write(renderTable(['TIME', 'TYPE', 'ACTOR', 'SUBJECT'], rows) || 'no events\n')
    }
    return events
  }
}
