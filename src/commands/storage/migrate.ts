import {Flags} from '@oclif/core'
import {WidCommand} from '../../base-command.js'

export default class StorageMigrate extends WidCommand {
  static override description = `Copies the embedded cluster of a data directory ($WID_HOME, or --from) into the empty PostgreSQL database that wid.yaml names: the cluster config, the CA and JWT keys, resources, users, bots and their instances, tokens, login state and the audit log. The servers then started with -c wid.yaml serve the same trust domain with the same keys, so every SVID issued before still verifies.
Stop the server that uses the data directory first: what it writes after the copy stays behind. The copy is all or nothing; it refuses a database that holds anything (a second copy, or a cluster a server already created there), and a configuration whose storage is SQLite. The data directory is only read: keep it as a backup.`
  static override enableJsonFlag = true
  static override examples = [
    '<%= config.bin %> storage migrate -c /etc/wid/wid.yaml',
    '$ WID_HOME=/var/lib/wid wid storage migrate -c /etc/wid/wid.yaml',
    '<%= config.bin %> storage migrate -c /etc/wid/wid.yaml --from /srv/old-wid    # another data directory',
  ]
  static override flags = {
    config: Flags.string({char: 'c', description: "The servers' configuration (wid.yaml): its storage must be a PostgreSQL database, and empty.", helpValue: '<file>', required: true}),
    from: Flags.string({description: 'The data directory of the embedded cluster to copy (default: $WID_HOME or ~/.wid).', helpValue: '<dir>'}),
  }
  static override summary = 'Copy the embedded cluster into an empty PostgreSQL database.'

  async run() {
    const {flags} = await this.parse(StorageMigrate)
    const {widHome} = await import('../../lib/home.js')
    const {migrateEmbeddedCluster} = await import('../../lib/server/migrate.js')
    const result = await migrateEmbeddedCluster(flags.config, flags.from ?? widHome())
    this.success(`✔ copied ${result.items} items of cluster ${result.clusterName} from ${result.from} into ${result.to}`)
    this.note(`next: start the servers with wid server start -c ${flags.config} (admin commands take -c ${flags.config} too); keep ${result.from} as a backup`)
    return result
  }
}
