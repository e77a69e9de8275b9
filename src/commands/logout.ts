import {WidCommand} from '../base-command.js'

export default class Logout extends WidCommand {
  static override description = 'Deletes the client key and certificate of the current login, and keeps a record of it (proxy and user) in $WID_HOME/profiles/last-login.json. Commands then use the embedded cluster in $WID_HOME if there is one; none is created implicitly in a WID_HOME used to log in (wid init creates one), so a script never silently switches trust domain.'
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
