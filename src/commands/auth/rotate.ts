import {Flags} from '@oclif/core'
import {ClusterCommand} from '../../base-command.js'
import {duration} from '../../flags.js'
import {AUTHORITY_TYPES, DEFAULT_GRACE_PERIOD_SECONDS, ROTATION_PHASES, type RotationStatus} from '../../lib/auth/rotation.js'
import {DEFAULT_CA_TTL_SECONDS} from '../../lib/auth/rotation-policy.js'
import {MAX_GRACE_PERIOD_SECONDS} from '../../lib/auth/rotation-checks.js'
import {formatDuration, parseDuration} from '../../lib/duration.js'
import {badInput} from '../../lib/errors.js'

const WHAT: Record<RotationStatus['phase'], string> = {
  init: 'the new key is trusted and published; the old one still signs',
  update_clients: 'the new key signs; the old one is still trusted',
  update_servers: 'servers present certificates of the new key; the old one is still trusted',
  standby: 'one key, trusted and signing',
  rollback: 'the old key signs again; the new one is trusted until standby drops it',
}

function policyLine(status: RotationStatus): string {
  const {automatic} = status
  if (!automatic) {
    const end = status.signingUntil ? `; its signing key's life ends at ${status.signingUntil}: rotate it by hand before then` : ''
    return `✔ ${status.type} CA: rotated by hand (wid auth rotate) only${end}`
  }
  const next = automatic.prepares ? `: its next key is prepared at ${automatic.prepares} and signs from ${automatic.activates}` : ` (phase ${status.phase} of a rotation now)`
  return `✔ ${status.type} CA: rotated automatically, each key living ${automatic.caTtl}${next}`
}

export default class AuthRotate extends ClusterCommand {
  static override description = `Replaces a CA key without a gap in trust, in phases (as tctl auth rotate):
  init            a new key is made, trusted and published (bundles, JWKS, wid auth export), but does not sign
  update_clients  the new key signs; the old one is still trusted (the host CA's new key signs from update_servers)
  update_servers  servers present certificates of the new host CA
  standby         the old key is no longer trusted: the rotation is done
  rollback        (before the final standby) the old key signs again; standby then drops the new one

Without --manual the rotation is semi-automatic: init now, then each later phase after a third of --grace-period (default 48h), moved on by the server (or, with no server, by the next wid command; a phase entered late still lasts its third). A SPIFFE or JWT grace period under 45m needs --force: its new key would sign before relying parties that refresh every 300 s have fetched it three times. While it runs, the published spiffe_refresh_hint (and the max-age of the server's trust documents) is at most a ninth of the grace period. --grace-period 0s rotates at once and drops the old key now: for a key that may be compromised (every SVID and login it signed stops verifying).

Manually, a new SPIFFE or JWT key signs (update_clients) only once it has been published for three refresh hints (15 minutes), and a key that signed is dropped (standby) only once no SVID it signed can be valid (24h, the longest SVID TTL, after it stopped signing); --force moves on sooner. Each phase change is audited (ca.rotation); a rotation under way refuses a second. wid status shows each CA's phase.

--automatic rotates the spiffe or jwt CA on a schedule from now on, as SPIRE does, for every server and local command of the cluster (the policy is stored with the CA): each new key lives for --ca-ttl (default 720h; an X.509 CA certificate is valid that long); the next key is prepared (trusted and published) at half the signing key's life, signs from five sixths of it (after at least three refresh hints), and the old key is dropped once every SVID it signed has expired. No SVID outlives the key that signed it. --ca-ttl must be at least six times the longest SVID TTL the cluster issues (24h by SPIFFE path, or a workload identity's maximum_ttl): 144h or more. --no-automatic turns it off (a rotation under way finishes). Audited as ca.rotation_policy; the steps as ca.rotation with mode automatic.`
  static override enableJsonFlag = true
  static override examples = [
    '<%= config.bin %> auth rotate --type spiffe --grace-period 48h',
    '<%= config.bin %> auth rotate --type jwt --manual --phase init',
    '<%= config.bin %> auth rotate --type jwt --manual --phase update_clients',
    '<%= config.bin %> auth rotate --type jwt --manual --phase rollback',
    '<%= config.bin %> auth rotate --type client --grace-period 0s',
    '<%= config.bin %> auth rotate --type spiffe --automatic --ca-ttl 720h',
    '<%= config.bin %> auth rotate --type jwt --no-automatic',
  ]
  static override flags = {
    automatic: Flags.boolean({
      allowNo: true,
      description: 'Rotate this CA (spiffe or jwt) automatically from now on, on the schedule of --ca-ttl; --no-automatic turns it off.',
      exclusive: ['manual', 'phase', 'grace-period', 'force'],
    }),
    'ca-ttl': duration(`With --automatic: how long each key lives (default ${formatDuration(DEFAULT_CA_TTL_SECONDS)}); at least six times the longest SVID TTL.`),
    type: Flags.option({options: AUTHORITY_TYPES, required: true, description: 'The CA to rotate: spiffe (X.509-SVIDs), jwt (JWT-SVIDs), host (the server\'s TLS), client (logins and bot identities).'})(),
    manual: Flags.boolean({description: 'Move one phase at a time with --phase.', dependsOn: ['phase']}),
    phase: Flags.option({options: ROTATION_PHASES, description: 'The phase to move to (with --manual).', dependsOn: ['manual']})(),
    'grace-period': duration(`Semi-automatic: how long the whole rotation takes, split in three over its phases (default ${formatDuration(DEFAULT_GRACE_PERIOD_SECONDS)}); 0s rotates at once.`),
    force: Flags.boolean({description: 'Let a new SPIFFE or JWT key sign before it has been published for three refresh hints (manual update_clients, or a grace period under 45m), or drop one (manual standby) while SVIDs it signed may still be valid.'}),
  }
  static override summary = 'Rotate a CA: trust a new key, sign with it, drop the old one.'

  async run() {
    const {flags} = await this.parse(AuthRotate)
    if (flags['grace-period'] !== undefined && flags.manual) throw badInput('auth rotate: --grace-period is for a semi-automatic rotation; drop --manual, or drop --grace-period and step with --phase')
    const grace = flags['grace-period']
    const gracePeriodSeconds = grace === undefined ? undefined : /^(?:0+|(?:0+[hms])+)$/.test(grace.trim()) ? 0 : parseDuration(grace, '--grace-period')
    if (gracePeriodSeconds !== undefined && gracePeriodSeconds > MAX_GRACE_PERIOD_SECONDS) throw badInput(`invalid --grace-period "${grace}" (at most ${formatDuration(MAX_GRACE_PERIOD_SECONDS)}, a year)`)
    const caTtlSeconds = flags['ca-ttl'] === undefined ? undefined : parseDuration(flags['ca-ttl'], '--ca-ttl')
    const cluster = await this.cluster()
    if (flags.automatic !== undefined || caTtlSeconds !== undefined) {
      const status = await cluster.rotateAuthority({type: flags.type, ...(flags.automatic === undefined ? {} : {automatic: flags.automatic}), ...(caTtlSeconds === undefined ? {} : {caTtlSeconds})})
      this.success(policyLine(status))
      return status
    }
    const status = await cluster.rotateAuthority({
      type: flags.type,
      ...(flags.phase === undefined ? {} : {phase: flags.phase}),
      ...(gracePeriodSeconds === undefined ? {} : {gracePeriodSeconds}),
      ...(flags.force ? {force: true} : {}),
    })
    const what = status.type === 'host' && status.phase === 'update_clients' ? 'clients trust the new key; the old one signs server certificates until update_servers' : WHAT[status.phase]
    const lines = [`✔ ${status.type} CA: phase ${status.phase}: ${what}`, `  signing: ${status.signing}`, ...status.trusted.map((key, i) => `  ${i === 0 ? 'trusted:' : '        '} ${key}`)]
    if (status.schedule) lines.push(`  next: update_clients at ${status.schedule.update_clients}, update_servers at ${status.schedule.update_servers}, standby at ${status.schedule.standby}`)
    if (status.warning) lines.push(`  note: ${status.warning}`)
    this.success(lines.join('\n'))
    return status
  }
}
