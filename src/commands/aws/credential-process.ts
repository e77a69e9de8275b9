import {Flags} from '@oclif/core'
import {WidCommand} from '../../base-command.js'
import {duration} from '../../flags.js'
import {parseDuration} from '../../lib/duration.js'
import {badInput} from '../../lib/errors.js'

export default class AwsCredentialProcess extends WidCommand {
  static override description = `Prints AWS credentials as the credential_process JSON ({"Version":1,"AccessKeyId","SecretAccessKey","SessionToken","Expiration"}) that the AWS CLI and SDKs read; failures go to stderr with a non-zero exit.
--oidc: AssumeRoleWithWebIdentity with the JWT-SVID in --token-file.
--roles-anywhere: an IAM Roles Anywhere CreateSession signed (SigV4-X509) with the X.509-SVID.
Credentials are cached next to the SVID (mode 0600) and reused until five minutes before they expire, or until the SVID is re-issued. Only in a directory nobody else can change (the rules of wid svid issue --output; not a sticky one like /tmp): elsewhere a warning says why, and nothing is cached or read from a cache, since another user could plant credentials there.
The certificate, key, intermediates and token must be regular files (at most 1 MiB): a FIFO or device is refused at once (status 2).`
  static override examples = [
    '<%= config.bin %> aws credential-process --roles-anywhere --certificate /opt/svid/svid.pem --private-key /opt/svid/svid_key.pem --profile-arn arn:aws:rolesanywhere:us-east-1:123456789012:profile/0d5c… --trust-anchor-arn arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/6f3a… --role-arn arn:aws:iam::123456789012:role/s3-reader',
    '<%= config.bin %> aws credential-process --oidc --role-arn arn:aws:iam::123456789012:role/s3-reader --token-file ~/.svid/jwt_svid',
  ]
  static override flags = {
    certificate: Flags.string({description: 'Roles Anywhere: the X.509-SVID certificate (leaf first; more certificates are the chain).'}),
    duration: duration('OIDC: session length.', '1h'),
    endpoint: Flags.string({description: 'Roles Anywhere: endpoint URL (default https://rolesanywhere.<region>.amazonaws.com).'}),
    intermediates: Flags.string({description: 'Roles Anywhere: PEM file of intermediate certificates.'}),
    oidc: Flags.boolean({description: 'OIDC federation with a JWT-SVID.', exclusive: ['roles-anywhere']}),
    'private-key': Flags.string({description: 'Roles Anywhere: the SVID private key.'}),
    'profile-arn': Flags.string({description: 'Roles Anywhere: the profile ARN.'}),
    region: Flags.string({description: 'AWS region (Roles Anywhere default: the trust anchor region; OIDC default: the global STS endpoint).'}),
    'role-arn': Flags.string({description: 'IAM role to assume.', required: true}),
    'roles-anywhere': Flags.boolean({description: 'IAM Roles Anywhere with an X.509-SVID.', exclusive: ['oidc']}),
    'session-duration': duration('Roles Anywhere: session length.', '1h'),
    'session-name': Flags.string({description: 'OIDC: role session name.'}),
    'sts-endpoint': Flags.string({description: 'OIDC: STS endpoint URL.'}),
    timeout: duration('How long to wait for AWS to answer.', '10s'),
    'token-file': Flags.string({description: 'OIDC: file holding the JWT-SVID.'}),
    'trust-anchor-arn': Flags.string({description: 'Roles Anywhere: the trust anchor ARN.'}),
  }
  static override summary = 'Print AWS credentials for an SVID (for credential_process).'

  async run(): Promise<void> {
    const {flags} = await this.parse(AwsCredentialProcess)
    const {credentialProcess} = await import('../../lib/aws/credential-process.js')
    if (!flags.oidc && !flags['roles-anywhere']) throw badInput('aws credential-process: give --oidc or --roles-anywhere')
    const need = (names: (keyof typeof flags)[]) => {
      const missing = names.filter((n) => flags[n] === undefined)
      if (missing.length) throw badInput(`aws credential-process: missing ${missing.map((m) => `--${m}`).join(', ')}`)
    }
    const warn = (message: string) => this.warning(message)
    let credentials
    if (flags.oidc) {
      need(['token-file'])
      credentials = await credentialProcess({
        kind: 'oidc',
        roleArn: flags['role-arn'],
        tokenFile: flags['token-file']!,
        sessionName: flags['session-name'],
        durationSeconds: parseDuration(flags.duration, '--duration'),
        stsEndpoint: flags['sts-endpoint'],
        region: flags.region,
        timeoutMs: parseDuration(flags.timeout, '--timeout') * 1000,
      }, warn)
    } else {
      need(['certificate', 'private-key', 'profile-arn', 'trust-anchor-arn'])
      credentials = await credentialProcess({
        kind: 'roles-anywhere',
        certificate: flags.certificate!,
        privateKey: flags['private-key']!,
        intermediates: flags.intermediates,
        profileArn: flags['profile-arn']!,
        roleArn: flags['role-arn'],
        trustAnchorArn: flags['trust-anchor-arn']!,
        region: flags.region,
        endpoint: flags.endpoint,
        sessionDurationSeconds: parseDuration(flags['session-duration'], '--session-duration'),
        timeoutMs: parseDuration(flags.timeout, '--timeout') * 1000,
      }, warn)
    }
    process.stdout.write(JSON.stringify(credentials) + '\n')
  }
}
