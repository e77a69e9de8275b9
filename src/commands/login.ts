import {Flags} from '@oclif/core'
import {WidCommand} from '../base-command.js'
import {duration} from '../flags.js'
import {parseDuration} from '../lib/duration.js'
import {badInput, WidError} from '../lib/errors.js'

export default class Login extends WidCommand {
  static override description = `Logs in to a wid server: pins the CA at the top of the certificate chain it presents (confirm the pin on a terminal, or give --ca-pin: wid server start prints it, and with the server's default certificate it is the "Host CA pin" of wid status on the server host), then checks your password — or, with --invite from wid users add, sets it — and stores a client certificate for a key generated here in $WID_HOME/profiles/<proxy>/. From then on commands talk to that server; --local uses the embedded cluster instead.
Without a terminal, --ca-pin and --password-stdin are required.`
  static override enableJsonFlag = true
  static override examples = [
    '<%= config.bin %> login --proxy wid.example.org:3443 --user alice',
    '<%= config.bin %> login --proxy wid.example.org:3443 --user alice --invite 5f2c… --ca-pin sha256:9c6d…',
    '$ echo "$WID_PASSWORD" | wid login --proxy wid.example.org:3443 --user ci --password-stdin --ca-pin sha256:9c6d…',
  ]
  static override flags = {
    'ca-pin': Flags.string({description: 'sha256:<hex> pin of the server CA (skips the question).'}),
    invite: Flags.string({description: 'One-time invite from wid users add: sets your password.'}),
    'password-stdin': Flags.boolean({description: 'Read the password from standard input.'}),
    proxy: Flags.string({description: 'HOST[:PORT] of the wid server (default port 3443).', env: 'WID_PROXY', required: true}),
    ttl: duration('How long the login lasts (at most 30h).', '12h'),
    user: Flags.string({description: 'Your user name.', required: true}),
  }
  static override summary = 'Log in to a wid server.'

  async run() {
    const {flags} = await this.parse(Login)
    const {discoverCluster, login, normalizeProxy} = await import('../lib/cluster/login.js')
    const {widHome} = await import('../lib/home.js')
    const proxy = normalizeProxy(flags.proxy)
    const ttlSeconds = parseDuration(flags.ttl, '--ttl')
    if (ttlSeconds > 30 * 3600) throw badInput(`login: --ttl ${flags.ttl} is longer than the maximum of 30h`)
    const interactive = Boolean(process.stdin.isTTY && process.stderr.isTTY)
    if (!interactive && flags['ca-pin'] === undefined) throw badInput('login: --ca-pin is required without a terminal (wid server start prints it; wid status on the server host shows the "Host CA pin")')
    if (!interactive && !flags['password-stdin']) throw badInput('login: --password-stdin is required without a terminal')
    if (flags['ca-pin'] !== undefined && !/^sha256:[0-9a-fA-F]{64}$/.test(flags['ca-pin'])) throw badInput(`login: invalid --ca-pin "${flags['ca-pin']}" (expected sha256:<64 hex digits>)`)
    const identity = await discoverCluster(proxy)
    if (flags['ca-pin'] !== undefined && flags['ca-pin'].toLowerCase() !== identity.pin) {
      throw new WidError('access_denied', `login: ${proxy} presents CA ${identity.pin}, not the pinned ${flags['ca-pin']}; refusing to send a password to it`)
    }
    const prompts = interactive ? await import('@inquirer/prompts') : undefined
    if (flags['ca-pin'] === undefined) {
      const trusted = await prompts!.confirm({message: `Cluster ${identity.clusterName} at ${proxy} has CA pin ${identity.pin}. Trust it?`, default: false})
      if (!trusted) throw new WidError('access_denied', 'login: the CA pin was not trusted; nothing was changed')
    }
    let password: string
    if (flags['password-stdin']) {
      const chunks: Buffer[] = []
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
      password = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '')
    } else {
      password = await prompts!.password({message: flags.invite ? 'Choose a password' : `Password for ${flags.user}`, mask: true})
    }
    if (password === '') throw badInput('login: the password is empty')
    const profile = await login({home: widHome(), proxy, user: flags.user, password, invite: flags.invite, ttlSeconds, identity})
    this.note(`✔ logged in to ${profile.clusterName} at ${proxy} as ${profile.user} (roles: ${profile.roles.join(', ') || 'none'}) until ${profile.expires}`)
    return {proxy, clusterName: profile.clusterName, user: profile.user, roles: profile.roles, expires: profile.expires}
  }
}
