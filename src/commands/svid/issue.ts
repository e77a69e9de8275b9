import {Args, Flags} from '@oclif/core'
import {ClusterCommand} from '../../base-command.js'
import {as, duration, force, keyType} from '../../flags.js'
import {formatDuration, parseDuration} from '../../lib/duration.js'

export default class SvidIssue extends ClusterCommand {
  static override args = {
    path: Args.string({ignoreStdin: true, description: 'SPIFFE ID path to issue (legacy: anyone but the local admin needs a role with allow.spiffe), e.g. /svc/example-service; the ID is spiffe://<cluster-name><path>. Omit with --name or --labels.'}),
  }
  static override description = `Generates a key pair locally, has the cluster sign an X.509-SVID for it (or a JWT-SVID with --type jwt), and writes into --output:
  svid.pem         the certificate, leaf first
  svid_key.pem     its PKCS#8 private key
  svid_bundle.pem  every trusted CA certificate of the trust domain
  jwt_svid         (--type jwt) the token alone
The directory is created with mode 0700 and every file is 0600. Re-issuing into the same directory replaces the files as one consistent set: each visible file is a symlink into a ..data directory that is swapped atomically, so a reader never sees a new certificate beside an old key. A directory that someone else could change (owned by another user, writable by group or others, or below such a directory other than a sticky one like /tmp) is refused, as ssh refuses a loose ~/.ssh.`
  static override enableJsonFlag = true
  static override examples = [
    '<%= config.bin %> svid issue --output ./svid /svc/example-service',
    '<%= config.bin %> svid issue --output ~/.svid --svid-ttl 8h --dns-san api.example.com --ip-san 10.0.0.7 /svc/foo',
    '<%= config.bin %> svid issue --type jwt --audience sts.amazonaws.com --output ./svid /svc/example-service',
    '<%= config.bin %> svid issue --name example-workload-identity --output ./svid',
    '<%= config.bin %> svid issue --labels example=getting-started --type jwt --audience sts.amazonaws.com --output ./svid',
    '<%= config.bin %> svid issue --as bot/my-bot --name example-workload-identity --output ./svid',
  ]
  static override flags = {
    as: as('issue'),
    audience: Flags.string({description: 'Audience of a JWT-SVID (repeatable; required with --type jwt).', multiple: true, multipleNonGreedy: true}),
    'dns-san': Flags.string({description: 'DNS name to add as a SAN (repeatable).', multiple: true, multipleNonGreedy: true}),
    force,
    'ip-san': Flags.string({description: 'IP address to add as a SAN (repeatable).', multiple: true, multipleNonGreedy: true}),
    labels: Flags.string({description: 'Issue from the workload identity whose labels match (k=v[,k=v]); at most 10 may match, the first whose rules allow it is used.', exclusive: ['name']}),
    'key-type': keyType('Type of the key pair generated for an X.509-SVID (default: ec-p256).'),
    name: Flags.string({description: 'Issue from the workload identity of this name.', exclusive: ['labels']}),
    output: Flags.string({char: 'o', description: 'Directory to write the SVID files into.', required: true}),
    'svid-ttl': duration("How long the SVID is valid (e.g. 8h, 90m, 1h30m): at most 24h by path, at most the workload identity's maximum_ttl by name or labels.", '1h'),
    type: Flags.option({default: 'x509', description: 'Kind of SVID.', options: ['x509', 'jwt'] as const})(),
  }
  static override summary = 'Issue an X.509- or JWT-SVID into a directory.'

  async run() {
    const {args, flags} = await this.parse(SvidIssue)
    const {checkIssueOptions, issueSvidToDirectory} = await import('../../lib/svid/issue.js')
    const {parseAs, parseLabelSelector} = await import('../../lib/resources/refs.js')
    const rehearsed = flags.as === undefined ? undefined : parseAs(flags.as)
    const options = checkIssueOptions({
      path: args.path,
      name: flags.name,
      labels: flags.labels === undefined ? undefined : parseLabelSelector(flags.labels),
      type: flags.type,
      outputDir: flags.output,
      ttlSeconds: parseDuration(flags['svid-ttl'], '--svid-ttl'),
      dnsSans: flags['dns-san'],
      ipSans: flags['ip-san'],
      audiences: flags.audience,
      keyType: flags['key-type'],
      force: flags.force,
    })
    const issued = await issueSvidToDirectory(await this.cluster({as: rehearsed}), options)
    const left = Math.ceil((Date.parse(issued.notAfter) - Date.now()) / 1000)
    const kind = issued.type === 'x509' ? 'X.509-SVID' : 'JWT-SVID'
    const from = issued.workloadIdentity ? ` from workload identity "${issued.workloadIdentity}"` : ''
    this.success(`✔ issued ${kind} ${issued.spiffeId}${from}, valid until ${issued.notAfter} (${formatDuration(Math.max(left, 0))})`)
    for (const file of issued.files) this.note(`  wrote ${file}`)
    return issued
  }
}
