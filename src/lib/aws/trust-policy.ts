/**
 * IAM trust policies for roles that wid identities assume: OIDC federation with JWT-SVIDs,
 * IAM Roles Anywhere with X.509-SVIDs, and the aws-oidc integration. JSON as IAM takes it,
 * or a Terraform `aws_iam_role` whose `assume_role_policy` holds it.
 */
import {badInput} from '../errors.js'
import {SpiffeId} from '../spiffeid/index.js'
import {parseArn, parseIamRoleArn} from './arn.js'
import {hcl, hclString, terraformName} from './terraform.js'

export interface PolicyDocument {
  Version: '2012-10-17'
  Statement: Record<string, unknown>[]
}

/** `https://host[:port]/path` → `host/path`, the form IAM uses for OIDC provider names and condition keys. */
export function issuerHostPath(issuer: string): string {
  let url: URL
  try {
    url = new URL(issuer)
  } catch {
    throw badInput(`aws: invalid issuer URL "${issuer}"`)
  }
  if (url.protocol !== 'https:') throw badInput(`aws: the issuer "${issuer}" must be an https:// URL (AWS requires it)`)
  if (url.port) throw badInput(`aws: the issuer "${issuer}" has a port; AWS STS only accepts issuers on port 443`)
  return `${url.hostname}${url.pathname.replace(/\/$/, '')}`
}

function providerArn(hostPath: string, providerArnFlag: string | undefined, accountId: string | undefined): string {
  if (providerArnFlag !== undefined) {
    const arn = parseArn(providerArnFlag, '--provider-arn', {service: 'iam', resourceType: 'oidc-provider', region: 'empty'})
    if (arn.resourceId !== hostPath) throw badInput(`aws: --provider-arn names provider ${arn.resourceId}, but the issuer is ${hostPath}`)
    return providerArnFlag
  }
  if (accountId === undefined) throw badInput('aws: give --provider-arn or --account-id to name the IAM OIDC provider')
  if (!/^\d{12}$/.test(accountId)) throw badInput(`aws: --account-id "${accountId}" must be 12 digits`)
  return `arn:aws:iam::${accountId}:oidc-provider/${hostPath}`
}

export function oidcTrustPolicy(options: {issuer: string; spiffeId: string; audience: string; providerArn?: string; accountId?: string}): PolicyDocument {
  const hostPath = issuerHostPath(options.issuer)
  const spiffeId = SpiffeId.parse(options.spiffeId).toString()
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: {Federated: providerArn(hostPath, options.providerArn, options.accountId)},
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: {StringEquals: {[`${hostPath}:aud`]: options.audience, [`${hostPath}:sub`]: spiffeId}},
      },
    ],
  }
}

export function rolesAnywhereTrustPolicy(options: {spiffeId: string; trustAnchorArn: string}): PolicyDocument {
  parseArn(options.trustAnchorArn, '--trust-anchor-arn', {service: 'rolesanywhere', resourceType: 'trust-anchor', region: 'required'})
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: {Service: 'rolesanywhere.amazonaws.com'},
        Action: ['sts:AssumeRole', 'sts:TagSession', 'sts:SetSourceIdentity'],
        Condition: {
          StringEquals: {'aws:PrincipalTag/x509SAN/URI': SpiffeId.parse(options.spiffeId).toString()},
          ArnEquals: {'aws:SourceArn': options.trustAnchorArn},
        },
      },
    ],
  }
}

export const INTEGRATION_AUDIENCE = 'discover.teleport'

/** The trust relationship of an aws-oidc integration's role: the cluster's root issuer, audience discover.teleport. */
export function integrationTrustPolicy(options: {issuer: string; roleArn: string}): PolicyDocument {
  const account = parseIamRoleArn(options.roleArn, 'spec.aws_oidc.role_arn').account
  const hostPath = issuerHostPath(options.issuer)
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: {Federated: `arn:aws:iam::${account}:oidc-provider/${hostPath}`},
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: {StringEquals: {[`${hostPath}:aud`]: INTEGRATION_AUDIENCE}},
      },
    ],
  }
}

export function terraformRole(roleName: string, policy: PolicyDocument): string {
  if (!/^[\w+=,.@-]{1,64}$/.test(roleName)) throw badInput(`aws: invalid role name "${roleName}" (1-64 of letters, digits and _ + = , . @ -)`)
  const json = hcl(JSON.stringify(policy, null, 2)).replace(/\n/g, '\n  ')
  return `resource "aws_iam_role" "${terraformName(roleName)}" {\n  name               = ${hclString(roleName)}\n  assume_role_policy = jsonencode(${json})\n}\n`
}
