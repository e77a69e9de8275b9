/**
 * `workload-identity-aws-roles-anywhere`: an X.509-SVID of the selected workload identity is
 * traded with IAM Roles Anywhere for a session (../../aws/roles-anywhere.ts), written as an
 * AWS shared-credentials file (`artifact_name`, profile `credential_profile_name`). The
 * endpoint and its CA can be set as for the AWS SDKs: AWS_ENDPOINT_URL_ROLESANYWHERE,
 * AWS_CA_BUNDLE.
 */
import {promises as fs} from 'node:fs'
import {createRolesAnywhereSession} from '../../aws/roles-anywhere.js'
import {badInput} from '../../errors.js'
import type {ServiceConfig, ServiceTiming} from '../config.js'
import type {Destination} from '../destination.js'
import {clusterSelector, x509Of, DestinationService, type RenewalResult, type ServiceContext} from './service.js'
import {x509Request} from './x509.js'

type RolesAnywhereConfig = Extract<ServiceConfig, {type: 'workload-identity-aws-roles-anywhere'}>

/** The SVID only signs the CreateSession request: a few minutes is plenty (or less, with a shorter credential_ttl). */
const SVID_TTL_SECONDS = 10 * 60
const HEADER = /^\s*\[([^\]]*)\]\s*$/

/** `text` with the section `[name]` replaced by `lines` (or added), every other line kept. */
export function upsertCredentials(text: string, name: string, lines: string[]): string {
  const out: string[] = []
  let skipping = false
  let replaced = false
  const section = [`[${name}]`, ...lines]
  for (const line of text.split('\n')) {
    const header = HEADER.exec(line)
    if (header) {
      skipping = header[1]!.trim() === name
      if (skipping && !replaced) {
        out.push(...section)
        replaced = true
      }
      if (skipping) continue
    }
    if (!skipping) out.push(line)
  }
  while (out.length > 0 && out.at(-1) === '') out.pop()
  if (!replaced) out.push(...(out.length ? [''] : []), ...section)
  return out.join('\n') + '\n'
}

export class RolesAnywhereService extends DestinationService<RolesAnywhereConfig> {
  readonly type = 'workload-identity-aws-roles-anywhere'

  constructor(config: RolesAnywhereConfig, destination: Destination, timing: ServiceTiming) {
    super(config, destination, timing, config.sessionRenewalIntervalSeconds)
  }

  async renew(context: ServiceContext): Promise<RenewalResult> {
    const {key, request} = await x509Request({...clusterSelector(this.config.selector, this.name), ttlSeconds: Math.min(SVID_TTL_SECONDS, this.ttlSeconds)})
    const [result] = await context.issue([{type: 'x509', ...request}])
    const svid = x509Of(result, this.name)
    const caBundle = process.env.AWS_CA_BUNDLE
    const credentials = await createRolesAnywhereSession({
      certificatePem: svid.certificates.join(''),
      privateKeyPem: key,
      profileArn: this.config.profileArn,
      roleArn: this.config.roleArn,
      trustAnchorArn: this.config.trustAnchorArn,
      ...(this.config.region ? {region: this.config.region} : {}),
      ...(process.env.AWS_ENDPOINT_URL_ROLESANYWHERE ? {endpoint: process.env.AWS_ENDPOINT_URL_ROLESANYWHERE} : {}),
      ...(caBundle ? {ca: await fs.readFile(caBundle, 'utf8').catch(() => Promise.reject(badInput(`${this.name}: AWS_CA_BUNDLE ${caBundle} cannot be read`)))} : {}),
      durationSeconds: this.config.sessionDurationSeconds,
      now: context.now(),
    })
    const lines = [
      `aws_access_key_id = ${credentials.AccessKeyId}`,
      `aws_secret_access_key = ${credentials.SecretAccessKey}`,
      `aws_session_token = ${credentials.SessionToken}`,
    ]
    const artifact = this.config.artifactName
    const existing = this.config.overwriteCredentialFile ? '' : ((await this.destination.read(artifact)) ?? '')
    // The file's other profiles were read above and are kept (unless overwrite_credential_file), so it may be replaced.
    await this.destination.write([{name: artifact, data: upsertCredentials(existing, this.config.credentialProfileName, lines), mode: 0o600}], {replace: true})
    return {expires: new Date(credentials.Expiration), spiffeIds: [svid.spiffeId]}
  }
}
