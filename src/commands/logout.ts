import {WidCommand} from '../base-command.js'

export default class Logout extends WidCommand {
  static override description = 'Deletes the client key and certificate of the current login; commands use the embedded cluster again.'
  static override examples = ['<%= config.bin %> logout']
  static override summary = 'Log out of the wid server.'

  async run(): Promise<void> {
    await this.parse(Logout)
    const {removeCurrentProfile} = await import('../lib/cluster/profiles.js')
    const {widHome} = await import('../lib/home.js')
    const proxy = await removeCurrentProfile(widHome())
    if (proxy) this.success(`✔ logged out of ${proxy}`)
    else this.note('not logged in')
  }
}
