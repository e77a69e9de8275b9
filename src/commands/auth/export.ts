import {Flags} from '@oclif/core'
import {ClusterCommand} from '../../base-command.js'
import {force} from '../../flags.js'
import {TRUST_EXPORT_TYPES} from '../../lib/auth/auth-server.js'

export default class AuthExport extends ClusterCommand {
  static override description = `Prints public trust material only, never a private key.
--type tls-spiffe: PEM of every trusted SPIFFE X.509 CA certificate (an AWS IAM Roles Anywhere trust anchor, or openssl -CAfile).
--type jwks: JWKS of every trusted JWT-SVID key (use: sig, alg, kid), as OIDC relying parties fetch it.
--type spiffe-bundle: SPIFFE bundle JSON with x509-svid and jwt-svid keys, spiffe_sequence and spiffe_refresh_hint.`
  static override enableJsonFlag = true
  static override examples = [
    '<%= config.bin %> auth export --type tls-spiffe > spiffe-ca.pem',
    '$ openssl verify -CAfile <(<%= config.bin %> auth export --type tls-spiffe) ./svid/svid.pem',
    '<%= config.bin %> auth export --type jwks',
    '<%= config.bin %> auth export --type spiffe-bundle --out bundle.json',
  ]
  static override flags = {
    force,
    out: Flags.string({char: 'o', description: 'Write to this file (mode 0644) instead of stdout.'}),
    type: Flags.option({options: TRUST_EXPORT_TYPES, required: true, description: 'What to export.'})(),
  }
  static override summary = "Export the cluster's CA certificates or JWT keys."

  async run() {
    const {flags} = await this.parse(AuthExport)
    const cluster = await this.cluster()
    const data = await cluster.exportTrust(flags.type)
    const result = {type: flags.type, ...(flags.type === 'tls-spiffe' ? {pem: data} : {document: JSON.parse(data) as unknown})}
    if (flags.out === undefined) {
      if (!this.jsonEnabled()) process.stdout.write(data)
      return result
    }
    const {writeFileAtomic} = await import('../../lib/output/files.js')
    await writeFileAtomic(flags.out, data, 0o644, {force: flags.force})
    this.success(`✔ wrote ${flags.out}`)
    return {...result, file: flags.out}
  }
}
