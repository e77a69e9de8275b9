/** `wid aws credential-process`: AWS credentials from an SVID, cached next to it. */
import {dirname, resolve} from 'node:path'
import {WidError} from '../errors.js'
import {MiB, readBounded} from '../output/read.js'
import {cachedCredentials, type AwsCredentials} from './credentials.js'
import {assumeRoleWithWebIdentity} from './sts.js'

export type CredentialProcessOptions =
  | {
      kind: 'oidc'
      roleArn: string
      tokenFile: string
      sessionName?: string
      durationSeconds?: number
      stsEndpoint?: string
      region?: string
      timeoutMs?: number
    }
  | {
      kind: 'roles-anywhere'
      certificate: string
      privateKey: string
      intermediates?: string
      profileArn: string
      roleArn: string
      trustAnchorArn: string
      region?: string
      endpoint?: string
      sessionDurationSeconds?: number
      timeoutMs?: number
    }

/** A regular file of at most 1 MiB: never a FIFO or device, which could keep the process waiting. */
async function readText(path: string, what: string): Promise<string> {
  const content = await readBounded(path, {prefix: 'aws', maxBytes: MiB, what: `a ${what}`})
  if (content === undefined) throw new WidError('not_found', `aws: ${what} ${path} does not exist (issue an SVID into it with wid svid issue)`)
  return content.toString('utf8')
}

/** `warn` is told when the SVID's directory is one others could change, where nothing is cached. */
export async function credentialProcess(options: CredentialProcessOptions, warn: (message: string) => void, now = new Date()): Promise<AwsCredentials> {
  if (options.kind === 'oidc') {
    const tokenFile = resolve(options.tokenFile)
    const token = (await readText(tokenFile, 'token file')).trim()
    const key = {kind: 'oidc', role: options.roleArn, session: options.sessionName, endpoint: options.stsEndpoint, region: options.region}
    return cachedCredentials(dirname(tokenFile), key, token, now, () =>
      assumeRoleWithWebIdentity({
        roleArn: options.roleArn,
        token,
        tokenFile,
        sessionName: options.sessionName,
        durationSeconds: options.durationSeconds,
        endpoint: options.stsEndpoint,
        region: options.region,
        timeoutMs: options.timeoutMs,
      }),
      warn,
    )
  }
  const certificate = resolve(options.certificate)
  const certificatePem = await readText(certificate, 'certificate')
  const privateKeyPem = await readText(resolve(options.privateKey), 'private key')
  const intermediatesPem = options.intermediates === undefined ? undefined : await readText(resolve(options.intermediates), 'intermediates')
  const key = {kind: 'roles-anywhere', profile: options.profileArn, role: options.roleArn, anchor: options.trustAnchorArn, endpoint: options.endpoint, region: options.region}
  const {createRolesAnywhereSession} = await import('./roles-anywhere.js')
  return cachedCredentials(dirname(certificate), key, certificatePem, now, () =>
    createRolesAnywhereSession({
      certificatePem,
      privateKeyPem,
      intermediatesPem,
      profileArn: options.profileArn,
      roleArn: options.roleArn,
      trustAnchorArn: options.trustAnchorArn,
      region: options.region,
      endpoint: options.endpoint,
      durationSeconds: options.sessionDurationSeconds,
      timeoutMs: options.timeoutMs,
      now,
    }),
    warn,
  )
}
