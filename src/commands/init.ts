import {Flags} from '@oclif/core'
import {WidCommand} from '../base-command.js'
import {keyType} from '../flags.js'

export default class Init extends WidCommand {
  static override description = `Creates the cluster's SPIFFE X.509 CA and JWT-SVID signing key in $WID_HOME (default ~/.wid).
Every command that needs the cluster does this on first use with the defaults, except in a $WID_HOME that has been logged in to a server (wid login), where only wid init creates it; run it yourself to choose the trust domain, the public address or the CA key type. Running it again is harmless: an existing cluster is kept, and conflicting options are refused.`
  static override enableJsonFlag = true
  static override examples = [
    '<%= config.bin %> init',
    '<%= config.bin %> init --cluster-name example.org --public-addr https://wid.example.org',
    '$ WID_HOME=/var/lib/wid wid init --ca-key-type ec-p384',
    '<%= config.bin %> init -c /etc/wid/wid.yaml --cluster-name example.org    # in the PostgreSQL database that wid.yaml names, before its servers start',
  ]
  static override flags = {
    'ca-key-type': keyType('Key type of the SPIFFE X.509 CA (default: ec-p256).'),
    'cluster-name': Flags.string({description: 'Trust domain of the cluster (default: derived from the host name).'}),
    config: Flags.string({char: 'c', description: "A server's configuration (wid.yaml): create the cluster in the storage it names (its PostgreSQL database, or its data_dir).", helpValue: '<file>'}),
    'public-addr': Flags.string({description: 'https:// address where the cluster is reachable; JWT-SVIDs name <public-addr>/workload-identity as their issuer.'}),
  }
  static override summary = 'Create the embedded cluster.'

  async run() {
    const {flags} = await this.parse(Init)
    const {initLocalCluster} = await import('../lib/cluster/local.js')
    const configured = flags.config === undefined ? undefined : await (await import('../lib/server/config.js')).configuredStorage(flags.config)
    const result = await initLocalCluster({
      ...(configured ? {storage: configured.storage, ...(configured.dataDir === undefined ? {} : {home: configured.dataDir})} : {}),
      clusterName: flags['cluster-name'],
      publicAddr: flags['public-addr'],
      caKeyType: flags['ca-key-type'],
    })
    const summary = {clusterName: result.config.clusterName, publicAddr: result.config.publicAddr, home: result.home, created: result.created}
    if (result.created) this.success(`✔ created cluster ${summary.clusterName} in ${summary.home}`)
    else this.note(`cluster ${summary.clusterName} already exists in ${summary.home}; kept it`)
    return summary
  }
}
