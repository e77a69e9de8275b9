import {Args, Flags} from '@oclif/core'
import {realpathSync} from 'node:fs'
import {join} from 'node:path'
import {WidCommand} from '../../base-command.js'
import {duration} from '../../flags.js'
import {parseDuration} from '../../lib/duration.js'
import {badInput} from '../../lib/errors.js'

export default class AwsProfile extends WidCommand {
  static override args = {name: Args.string({ignoreStdin: true, description: 'Name of the AWS profile (use it with aws --profile NAME or AWS_PROFILE).', required: true})}
  static override description = `Writes one [profile NAME] section into the AWS shared config file (--config-file, else $AWS_CONFIG_FILE, else ~/.aws/config). Every other byte of the file is kept; an existing profile of that name is replaced only with --force. A new file is created with mode 0600.
OIDC federation (default): role_arn and web_identity_token_file (a JWT-SVID for audience sts.amazonaws.com, from wid svid issue --type jwt), read by the AWS CLI and SDKs directly.
IAM Roles Anywhere (--roles-anywhere): a credential_process line that runs wid aws credential-process with the X.509-SVID (or AWS's aws_signing_helper with --helper).`
  static override enableJsonFlag = true
  static override examples = [
    '<%= config.bin %> aws profile s3-reader --role-arn arn:aws:iam::123456789012:role/s3-reader --svid-dir ~/.svid',
    '<%= config.bin %> aws profile s3-reader --role-arn arn:aws:iam::123456789012:role/s3-reader --token-file /run/svid/jwt_svid --region us-east-1 --env',
    '<%= config.bin %> aws profile ra --roles-anywhere --svid-dir /opt/roles-anywhere-svid --profile-arn arn:aws:rolesanywhere:us-east-1:123456789012:profile/0d5c… --trust-anchor-arn arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/6f3a… --role-arn arn:aws:iam::123456789012:role/s3-reader',
  ]
  static override flags = {
    certificate: Flags.string({description: 'Roles Anywhere: the X.509-SVID certificate (default: svid.pem in --svid-dir).'}),
    'config-file': Flags.string({description: 'AWS config file to edit (default: $AWS_CONFIG_FILE or ~/.aws/config).'}),
    'dry-run': Flags.boolean({description: 'Print the section instead of writing it.'}),
    endpoint: Flags.string({description: 'Roles Anywhere: a custom endpoint URL (e.g. a VPC endpoint).'}),
    env: Flags.boolean({description: 'OIDC: print export lines (AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE, ...) instead of writing a profile.', exclusive: ['dry-run']}),
    force: Flags.boolean({char: 'f', description: 'Replace an existing profile of the same name.'}),
    helper: Flags.string({description: "Roles Anywhere: write AWS's aws_signing_helper at this path into credential_process instead of wid."}),
    'private-key': Flags.string({description: 'Roles Anywhere: the SVID private key (default: svid_key.pem in --svid-dir).'}),
    'profile-arn': Flags.string({description: 'Roles Anywhere: the profile ARN.'}),
    region: Flags.string({description: 'AWS region to write into the profile.'}),
    'role-arn': Flags.string({description: 'IAM role to assume.', required: true}),
    'roles-anywhere': Flags.boolean({description: 'Use IAM Roles Anywhere with the X.509-SVID instead of OIDC federation.'}),
    'session-duration': duration('Roles Anywhere: session length (e.g. 1h).'),
    'session-name': Flags.string({description: 'OIDC: role session name (2-64 of letters, digits, _+=,.@-).'}),
    'svid-dir': Flags.string({description: 'Directory written by wid svid issue (jwt_svid for OIDC, svid.pem and svid_key.pem for Roles Anywhere).'}),
    'token-file': Flags.string({description: 'OIDC: the JWT-SVID file (default: jwt_svid in --svid-dir).'}),
    'trust-anchor-arn': Flags.string({description: 'Roles Anywhere: the trust anchor ARN.'}),
  }
  static override summary = 'Write an AWS config profile that uses an SVID.'

  async run() {
    const {args, flags} = await this.parse(AwsProfile)
    const {configFilePath, environmentFor, planProfile, previewProfile, writeProfile} = await import('../../lib/aws/profile.js')
    const dir = flags['svid-dir']
    let options: Parameters<typeof planProfile>[2]
    if (flags['roles-anywhere']) {
      const certificate = flags.certificate ?? (dir && join(dir, 'svid.pem'))
      const privateKey = flags['private-key'] ?? (dir && join(dir, 'svid_key.pem'))
      if (!certificate || !privateKey) throw badInput('aws profile: give --svid-dir, or --certificate and --private-key')
      if (!flags['profile-arn'] || !flags['trust-anchor-arn']) throw badInput('aws profile: --roles-anywhere needs --profile-arn and --trust-anchor-arn')
      options = {
        kind: 'roles-anywhere',
        roleArn: flags['role-arn'],
        profileArn: flags['profile-arn'],
        trustAnchorArn: flags['trust-anchor-arn'],
        certificate,
        privateKey,
        region: flags.region,
        endpoint: flags.endpoint,
        sessionDurationSeconds: flags['session-duration'] === undefined ? undefined : parseDuration(flags['session-duration'], '--session-duration'),
        helper: flags.helper,
        widCommand: [process.execPath, realpathSync(process.argv[1]!)],
      }
    } else {
      for (const flag of ['certificate', 'private-key', 'profile-arn', 'trust-anchor-arn', 'helper', 'endpoint', 'session-duration'] as const) {
        if (flags[flag] !== undefined) throw badInput(`aws profile: --${flag} applies to --roles-anywhere only`)
      }
      if ((flags['token-file'] === undefined) === (dir === undefined)) throw badInput('aws profile: give exactly one of --token-file and --svid-dir')
      options = {kind: 'oidc', roleArn: flags['role-arn'], tokenFile: flags['token-file'] ?? join(dir!, 'jwt_svid'), sessionName: flags['session-name'], region: flags.region}
    }
    const plan = await planProfile(args.name, configFilePath(flags['config-file']), options)
    for (const warning of plan.warnings) this.warning(`${warning.replace(/\s*\n\s*/g, ' ')}`)
    if (flags.env) {
      const env = environmentFor(options)
      if (!this.jsonEnabled()) process.stdout.write(env)
      return {profile: plan.name, env}
    }
    if (flags['dry-run']) {
      if (!this.jsonEnabled()) process.stdout.write(previewProfile(plan))
      return {profile: plan.name, configFile: plan.configFile, lines: plan.lines, written: false}
    }
    const action = await writeProfile(plan, flags.force)
    this.success(`✔ ${action === 'created' ? 'wrote' : 'replaced'} profile "${plan.name}" in ${plan.configFile}; try: aws --profile ${plan.name} sts get-caller-identity`)
    return {profile: plan.name, configFile: plan.configFile, lines: plan.lines, written: true}
  }
}
