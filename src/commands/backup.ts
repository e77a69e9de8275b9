import {Flags} from '@oclif/core'
import {WidCommand} from '../base-command.js'
import {badInput} from '../lib/errors.js'

export default class Backup extends WidCommand {
  static override description = `Writes the whole cluster to one file: the cluster config, the CA and JWT keys, resources, users, bots and their instances, join tokens, login state and the audit log. It reads one consistent snapshot while servers and other commands keep writing (no need to stop anything), and writes the file (mode 0600) beside --out first, renaming it into place only once it is whole, so --out holds the previous backup or the new one, never half of one.
The file holds the CA private keys: with --passphrase-file (its first line) or --encrypt (typed twice on a terminal) every part of it is encrypted (scrypt, AES-256-GCM) and authenticated; without, it is only checked for damage and truncation. wid restore loads it into an empty WID_HOME or database.`
  static override enableJsonFlag = true
  static override examples = [
    '<%= config.bin %> backup --out /var/backups/wid/wid-$(date +%F).backup --passphrase-file /etc/wid/backup-passphrase',
    '<%= config.bin %> backup --out wid.backup --encrypt                # type the passphrase',
    '<%= config.bin %> backup --out wid.backup -c /etc/wid/wid.yaml     # the PostgreSQL database of the servers',
  ]
  static override flags = {
    out: Flags.string({char: 'o', description: 'The backup file to write (a regular file is replaced if it exists).', helpValue: '<file>', required: true}),
    'passphrase-file': Flags.string({description: 'Encrypt with the passphrase on the first line of this file (at least 12 characters).', helpValue: '<file>', exclusive: ['encrypt']}),
    encrypt: Flags.boolean({description: 'Encrypt with a passphrase typed (twice) on the terminal.'}),
    config: Flags.string({char: 'c', description: "A server's configuration (wid.yaml): back up the storage it names (its PostgreSQL database, or its data_dir) instead of $WID_HOME.", helpValue: '<file>'}),
  }
  static override summary = 'Back up the cluster (CA keys, resources, users, bots, tokens, audit) to one file.'

  async run() {
    const {flags} = await this.parse(Backup)
    const {widHome} = await import('../lib/home.js')
    const {backupCluster, storeLocation} = await import('../lib/backup/backup.js')
    const {checkPassphrase, readPassphraseFile} = await import('../lib/backup/passphrase.js')
    let passphrase: string | undefined
    const file = flags['passphrase-file']
    if (file !== undefined) {
      const read = await readPassphraseFile(file, 'backup')
      passphrase = checkPassphrase(read.passphrase, 'backup')
      if (read.readableByOthers) this.warning(`the passphrase file ${file} can be read by others than its owner (chmod 600 it)`)
    } else if (flags.encrypt) {
      if (!process.stdin.isTTY || !process.stderr.isTTY) throw badInput('backup: --encrypt asks for the passphrase on a terminal; without one, give --passphrase-file PATH')
      const {password} = await import('@inquirer/prompts')
      passphrase = checkPassphrase(await password({message: 'Passphrase for the backup (at least 12 characters)', mask: true}), 'backup')
      if ((await password({message: 'Repeat it', mask: true})) !== passphrase) throw badInput('backup: the passphrases do not match; nothing was written')
    }
    const location = await storeLocation(flags.config, widHome())
    const result = await backupCluster(location, flags.out, {passphrase, passphraseFile: file, version: this.config.version})
    this.success(`✔ backed up cluster ${result.clusterName} (${result.items} items${result.encrypted ? ', encrypted' : ''}) to ${flags.out}`)
    if (!result.encrypted) this.note('note: the file holds the CA private keys unencrypted: keep it as safe as the cluster itself, or use --passphrase-file')
    return result
  }
}
