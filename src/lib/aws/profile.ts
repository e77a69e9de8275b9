/**
 * `wid aws profile`: one `[profile NAME]` section in the AWS shared config file that gets
 * AWS credentials from an SVID — OIDC federation through `web_identity_token_file`, or IAM
 * Roles Anywhere through a `credential_process` line. Every other byte of the file stays.
 */
import {promises as fs} from 'node:fs'
import {homedir} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {WidError} from '../errors.js'
import {writeFileAtomic} from '../output/files.js'
import {checkRegion, parseArn, parseIamRoleArn} from './arn.js'
import {findProfile, renderProfile, upsertProfile} from './config-file.js'
import {checkSessionName} from './sts.js'

export interface OidcProfileOptions {
  kind: 'oidc'
  roleArn: string
  tokenFile: string
  sessionName?: string
  region?: string
}

export interface RolesAnywhereProfileOptions {
  kind: 'roles-anywhere'
  roleArn: string
  profileArn: string
  trustAnchorArn: string
  certificate: string
  privateKey: string
  region?: string
  endpoint?: string
  sessionDurationSeconds?: number
  /** AWS's aws_signing_helper instead of `wid aws credential-process`. */
  helper?: string
  /** How to run wid itself, e.g. ['/usr/bin/node', '/opt/wid/bin/run.js']. */
  widCommand: string[]
}

export type ProfileOptions = OidcProfileOptions | RolesAnywhereProfileOptions

export interface ProfilePlan {
  configFile: string
  name: string
  lines: string[]
  /** Things that will not work yet, with the command that fixes them. */
  warnings: string[]
}

export function configFilePath(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(flag ?? (env.AWS_CONFIG_FILE || join(homedir(), '.aws', 'config')))
}

/** Quotes an argument for the shell line that AWS tools run credential_process with. */
function shellWord(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `"${value.replace(/(["\\$`])/g, '\\$1')}"`
}

async function exists(path: string): Promise<boolean> {
  return fs.stat(path).then(
    () => true,
    () => false,
  )
}

export async function planProfile(name: string, configFile: string, options: ProfileOptions): Promise<ProfilePlan> {
  parseIamRoleArn(options.roleArn, '--role-arn')
  const warnings: string[] = []
  if (options.region !== undefined) checkRegion(options.region)
  if (options.kind === 'oidc') {
    const tokenFile = resolve(options.tokenFile)
    if (options.sessionName !== undefined) checkSessionName(options.sessionName)
    if (!(await exists(tokenFile))) {
      warnings.push(`${tokenFile} does not exist yet; create it with: wid svid issue --type jwt --audience sts.amazonaws.com --output ${dirname(tokenFile)} <path or --name>`)
    }
    const lines = [`role_arn = ${options.roleArn}`, `web_identity_token_file = ${tokenFile}`]
    if (options.sessionName) lines.push(`role_session_name = ${options.sessionName}`)
    if (options.region) lines.push(`region = ${options.region}`)
    return {configFile, name, lines, warnings}
  }
  const profileArn = parseArn(options.profileArn, '--profile-arn', {service: 'rolesanywhere', resourceType: 'profile', region: 'required'})
  const anchorArn = parseArn(options.trustAnchorArn, '--trust-anchor-arn', {service: 'rolesanywhere', resourceType: 'trust-anchor', region: 'required'})
  if (profileArn.region !== anchorArn.region || profileArn.account !== anchorArn.account) {
    throw new WidError('bad_input', 'aws: --profile-arn and --trust-anchor-arn must be in the same account and region')
  }
  if (options.endpoint !== undefined) {
    let url: URL | undefined
    try {
      url = new URL(options.endpoint)
    } catch {
      url = undefined
    }
    if (url?.protocol !== 'https:') throw new WidError('bad_input', `aws: invalid --endpoint "${options.endpoint}" (expected an https:// URL)`)
  }
  if (options.sessionDurationSeconds !== undefined && (options.sessionDurationSeconds < 900 || options.sessionDurationSeconds > 43_200)) {
    throw new WidError('bad_input', 'aws: --session-duration must be between 15m and 12h')
  }
  const certificate = resolve(options.certificate)
  const privateKey = resolve(options.privateKey)
  for (const file of [certificate, privateKey]) {
    if (!(await exists(file))) warnings.push(`${file} does not exist yet; create it with: wid svid issue --output ${dirname(file)} <path or --name>`)
  }
  const args = [
    'credential-process',
    '--certificate', certificate,
    '--private-key', privateKey,
    '--profile-arn', options.profileArn,
    '--trust-anchor-arn', options.trustAnchorArn,
    '--role-arn', options.roleArn,
  ]
  if (options.region) args.push('--region', options.region)
  if (options.endpoint) args.push('--endpoint', options.endpoint)
  // aws_signing_helper takes whole seconds; wid takes a duration
  if (options.sessionDurationSeconds) args.push('--session-duration', `${options.sessionDurationSeconds}${options.helper ? '' : 's'}`)
  const command = options.helper ? [options.helper, ...args] : [...options.widCommand, 'aws', args[0]!, '--roles-anywhere', ...args.slice(1)]
  const lines = [`credential_process = ${command.map(shellWord).join(' ')}`]
  if (options.region) lines.push(`region = ${options.region}`)
  return {configFile, name, lines, warnings}
}

/** The section as it will appear in the file (for --dry-run). */
export function previewProfile(plan: ProfilePlan): string {
  return renderProfile(plan.name, plan.lines)
}

/** `export` lines for the OIDC flow (AWS SDKs read these variables too). */
export function environmentFor(options: ProfileOptions): string {
  if (options.kind !== 'oidc') throw new WidError('bad_input', 'aws: --env works for OIDC federation only; Roles Anywhere needs a credential_process profile')
  const lines = [`export AWS_ROLE_ARN=${shellWord(options.roleArn)}`, `export AWS_WEB_IDENTITY_TOKEN_FILE=${shellWord(resolve(options.tokenFile))}`]
  if (options.sessionName) lines.push(`export AWS_ROLE_SESSION_NAME=${shellWord(options.sessionName)}`)
  if (options.region) lines.push(`export AWS_REGION=${shellWord(options.region)}`)
  return lines.join('\n') + '\n'
}

/** Writes the profile: a new file is 0600 in a 0700 directory; an existing file keeps its mode. */
export async function writeProfile(plan: ProfilePlan, force: boolean): Promise<'created' | 'replaced'> {
  let text = ''
  let mode = 0o600
  const stat = await fs.lstat(plan.configFile).catch(() => undefined)
  if (stat?.isSymbolicLink()) {
    throw new WidError('bad_input', `aws: ${plan.configFile} is a symlink; give --config-file ${await fs.realpath(plan.configFile).catch(() => '<its target>')} to edit the file it points at`)
  }
  if (stat && !stat.isFile()) throw new WidError('bad_input', `aws: ${plan.configFile} is not a regular file`)
  if (stat) {
    // latin1 maps every byte to one character and back, so bytes that are not UTF-8 survive
    text = (await fs.readFile(plan.configFile)).toString('latin1')
    mode = stat.mode & 0o777
  }
  const existing = findProfile(text, plan.name)
  if (existing.length > 0 && !force) {
    throw new WidError('already_exists', `aws: profile "${plan.name}" already exists in ${plan.configFile}; use --force to replace it`)
  }
  const lines = plan.lines.map((line) => Buffer.from(line, 'utf8').toString('latin1'))
  await writeFileAtomic(plan.configFile, Buffer.from(upsertProfile(text, plan.name, lines), 'latin1'), mode, {force: true})
  return existing.length > 0 ? 'replaced' : 'created'
}
