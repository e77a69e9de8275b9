import {Flags} from '@oclif/core'
import {ClusterCommand} from '../../base-command.js'
import {badInput} from '../../lib/errors.js'

export default class AwsTrustPolicy extends ClusterCommand {
  static override description = `Prints the trust policy of an IAM role that wid identities assume, as JSON for IAM or (--format terraform) as an aws_iam_role with its assume_role_policy.
--oidc: Federated principal (the IAM OIDC provider of the cluster's JWT issuer), sts:AssumeRoleWithWebIdentity, StringEquals on <issuer>:aud and <issuer>:sub.
--roles-anywhere: Service rolesanywhere.amazonaws.com, sts:AssumeRole, sts:TagSession and sts:SetSourceIdentity, StringEquals on aws:PrincipalTag/x509SAN/URI and ArnEquals on aws:SourceArn (the trust anchor).
--integration NAME: the trust relationship of an aws-oidc integration's role (the cluster's root issuer, audience discover.teleport).
--spiffe-id takes a full SPIFFE ID or a path of this cluster's trust domain.`
  static override examples = [
    '<%= config.bin %> aws trust-policy --oidc --spiffe-id /svc/example-service --account-id 123456789012',
    '<%= config.bin %> aws trust-policy --roles-anywhere --spiffe-id spiffe://example.org/svc/example-service --trust-anchor-arn arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/6f3a…',
    '<%= config.bin %> aws trust-policy --integration my-integration --format terraform',
  ]
  static override flags = {
    'account-id': Flags.string({description: '--oidc: the AWS account that holds the OIDC provider.', exclusive: ['provider-arn']}),
    audience: Flags.string({default: 'sts.amazonaws.com', description: '--oidc: the JWT-SVID audience to require.'}),
    format: Flags.option({default: 'json', description: 'Output format.', options: ['json', 'terraform'] as const})(),
    integration: Flags.string({description: 'Name of an aws-oidc integration.', exclusive: ['oidc', 'roles-anywhere']}),
    issuer: Flags.string({description: "--oidc: the JWT issuer URL (default: the cluster's, <public-addr>/workload-identity)."}),
    oidc: Flags.boolean({description: 'OIDC federation with JWT-SVIDs.', exclusive: ['roles-anywhere', 'integration']}),
    'provider-arn': Flags.string({description: '--oidc: the IAM OIDC provider ARN.', exclusive: ['account-id']}),
    'role-name': Flags.string({description: 'Terraform: the role name (default: derived from the SPIFFE ID or integration).'}),
    'roles-anywhere': Flags.boolean({description: 'IAM Roles Anywhere with X.509-SVIDs.', exclusive: ['oidc', 'integration']}),
    'spiffe-id': Flags.string({description: 'The SPIFFE ID (or path) the role is for.'}),
    'trust-anchor-arn': Flags.string({description: '--roles-anywhere: the trust anchor ARN.'}),
  }
  static override summary = 'Print the IAM trust policy for a role assumed with SVIDs.'

  async run(): Promise<void> {
    const {flags} = await this.parse(AwsTrustPolicy)
    const policies = await import('../../lib/aws/trust-policy.js')
    let policy
    let roleName = flags['role-name']
    if (flags.integration !== undefined) {
      const cluster = await this.cluster()
      const integration = await cluster.getResource('integration', flags.integration)
      const {publicAddr} = await cluster.status()
      policy = policies.integrationTrustPolicy({issuer: publicAddr, roleArn: (integration.spec as {aws_oidc: {role_arn: string}}).aws_oidc.role_arn})
      roleName ??= flags.integration
    } else {
      if (!flags.oidc && !flags['roles-anywhere']) throw badInput('aws trust-policy: give --oidc, --roles-anywhere or --integration NAME')
      if (flags['spiffe-id'] === undefined) throw badInput('aws trust-policy: --spiffe-id is required')
      const needsCluster = flags['spiffe-id'].startsWith('/') || (flags.oidc && flags.issuer === undefined)
      const status = needsCluster ? await (await this.cluster()).status() : undefined
      const spiffeId = flags['spiffe-id'].startsWith('/') ? `spiffe://${status!.clusterName}${flags['spiffe-id']}` : flags['spiffe-id']
      if (flags.oidc) {
        policy = policies.oidcTrustPolicy({
          issuer: flags.issuer ?? status!.jwtIssuer,
          spiffeId,
          audience: flags.audience,
          providerArn: flags['provider-arn'],
          accountId: flags['account-id'],
        })
      } else {
        if (flags['trust-anchor-arn'] === undefined) throw badInput('aws trust-policy: --roles-anywhere needs --trust-anchor-arn')
        policy = policies.rolesAnywhereTrustPolicy({spiffeId, trustAnchorArn: flags['trust-anchor-arn']})
      }
      roleName ??= spiffeId.replace(/^spiffe:\/\/[^/]+\//, '').replace(/\//g, '-')
    }
    process.stdout.write(flags.format === 'terraform' ? policies.terraformRole(roleName, policy) : JSON.stringify(policy, null, 2) + '\n')
  }
}
