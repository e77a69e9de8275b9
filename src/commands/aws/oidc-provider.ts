import {Flags} from '@oclif/core'
import {ClusterCommand} from '../../base-command.js'

export default class AwsOidcProvider extends ClusterCommand {
  static override description = `Prints what to register in AWS IAM as the OpenID Connect identity provider for JWT-SVIDs: the provider URL (the cluster's JWT issuer, <public-addr>/workload-identity), the audience (sts.amazonaws.com), and the thumbprint (SHA-1 of the top certificate of the chain the public address presents, when it can be reached). --integration gives the aws-oidc integration's provider instead (the public address itself, audience discover.teleport).`
  static override enableJsonFlag = true
  static override examples = [
    '<%= config.bin %> aws oidc-provider',
    '<%= config.bin %> aws oidc-provider --format terraform > oidc-provider.tf',
    '<%= config.bin %> aws oidc-provider --integration --format json',
  ]
  static override flags = {
    audience: Flags.string({description: 'Audience (client id) to register (default: sts.amazonaws.com, or discover.teleport with --integration).'}),
    format: Flags.option({default: 'text', description: 'Output format.', options: ['text', 'json', 'terraform'] as const})(),
    integration: Flags.boolean({description: "The aws-oidc integration's provider (the cluster's root issuer)."}),
    'no-thumbprint': Flags.boolean({description: 'Do not connect to the public address to compute the thumbprint.'}),
  }
  static override summary = 'Show the IAM OIDC provider settings for the cluster.'

  async run() {
    const {flags} = await this.parse(AwsOidcProvider)
    const {fetchThumbprint, terraformOidcProvider} = await import('../../lib/aws/oidc-provider.js')
    const {INTEGRATION_AUDIENCE} = await import('../../lib/aws/trust-policy.js')
    const status = await (await this.cluster()).status()
    const url = flags.integration ? status.publicAddr : status.jwtIssuer
    const settings: {url: string; audience: string; thumbprint?: string} = {
      url,
      audience: flags.audience ?? (flags.integration ? INTEGRATION_AUDIENCE : 'sts.amazonaws.com'),
    }
    if (new URL(url).port) this.warning(`the issuer ${url} has a port; AWS STS only accepts OIDC issuers on port 443, so give the cluster a public address without one`)
    if (!flags['no-thumbprint']) {
      const target = new URL(status.publicAddr)
      try {
        settings.thumbprint = await fetchThumbprint(target.hostname.replace(/^\[|\]$/g, ''), Number(target.port || 443))
      } catch (error) {
        this.warning(`${(error as Error).message.replace(/\s*\n\s*/g, ' ')}; the thumbprint is left out (AWS computes it itself for most public CAs)`)
      }
    }
    if (this.jsonEnabled()) return settings
    if (flags.format === 'terraform') process.stdout.write(terraformOidcProvider(settings))
    else if (flags.format === 'json') this.log(JSON.stringify(settings, null, 2))
    else this.log([`Provider URL: ${settings.url}`, `Audience:     ${settings.audience}`, `Thumbprint:   ${settings.thumbprint ?? '(unavailable)'}`].join('\n'))
    return settings
  }
}
