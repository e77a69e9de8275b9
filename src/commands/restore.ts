import {Args, Flags} from '@oclif/core'
import {WidCommand} from '../base-command.js'
import {badInput} from '../lib/errors.js'

export default class Restore extends WidCommand {
  static override args = {
    file: Args.string({description: 'The backup file (written by wid backup).', required: true}),
  }
  static override description = `Loads a backup into an empty store: $WID_HOME's embedded one (no cluster there yet), or with -c the storage a server configuration names (an empty PostgreSQL database, or its data_dir). The cluster comes back as it was at the backup: the same trust domain and CA keys, so SVIDs issued before still verify and new ones are signed by the same CAs, with the same users, bots, tokens and audit log.
All or nothing: the file is checked while it is loaded, and nothing is kept unless all of it is sound. It refuses, in one line each, a store that holds anything, a file that is not a backup, is truncated or damaged (or changed), a wrong passphrase, and a backup from a newer wid.`
  static override enableJsonFlag = true
  static override examples = [
    '$ WID_HOME=/var/lib/wid wid restore /var/backups/wid/wid-2026-11-30.backup --passphrase-file /etc/wid/backup-passphrase',
    '<%= config.bin %> restore wid.backup -c /etc/wid/wid.yaml     # into the empty PostgreSQL database of the servers',
  ]
  static override flags = {
    'passphrase-file': Flags.string({description: 'The passphrase of an encrypted backup, on the first line of this file (else it is asked on the terminal). With it, a backup that is not encrypted is refused.', helpValue: '<file>'}),
    config: Flags.string({char: 'c', description: "A server's configuration (wid.yaml): restore into the storage it names instead of $WID_HOME.", helpValue: '<file>'}),
  }
  static override summary = 'Restore a backup into an empty WID_HOME or database.'

  async run() {
    const {args, flags} = await this.parse(Restore)
    const {widHome} = await import('../lib/home.js')
    const {storeLocation} = await import('../lib/backup/backup.js')
    const {restoreCluster} = await import('../lib/backup/restore.js')
    const {readPassphraseFile} = await import('../lib/backup/passphrase.js')
    const location = await storeLocation(flags.config, widHome())
    const file = flags['passphrase-file']
    const result = await restoreCluster(location, args.file, {
      given: file !== undefined,
      get: async () => {
        if (file !== undefined) return (await readPassphraseFile(file, 'restore')).passphrase
        if (!process.stdin.isTTY || !process.stderr.isTTY) throw badInput(`restore: ${args.file} is encrypted: give --passphrase-file PATH, or run on a terminal to type the passphrase`)
        const {password} = await import('@inquirer/prompts')
        return password({message: `Passphrase of ${args.file}`, mask: true})
      },
    })
    this.success(`✔ restored cluster ${result.clusterName} (${result.items} items, backed up ${result.created}) into ${result.to}`)
    this.note(
      location.storage.type === 'sqlite'
        ? 'next: wid status shows it; start the server on it with wid server start (same data directory)'
        : `next: start the servers with wid server start -c ${flags.config}`,
    )
    return result
  }
}
