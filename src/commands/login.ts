import {Flags} from '@oclif/core'
import {WidCommand} from '../base-command.js'
import {duration} from '../flags.js'
import {parseDuration} from '../lib/duration.js'
import {badInput, WidError} from '../lib/errors.js'

export default class Login extends WidCommand {
  static override description = `Logs in to a wid server: pins the CA at the top of the certificate chain it presents (confirm the pin on a terminal, or give --ca-pin: wid server start prints it, and with the server's default certificate it is the "Host CA pin" of wid status on the server host), then checks your password — or, with --invite or --invite-file and the one-time invite of wid users add (or wid users reset), sets it — and stores a client certificate for a key generated here in $WID_HOME/profiles/<proxy>/. From then on commands talk to that server; --local uses the embedded cluster instead.
--proxy may list several servers of one cluster, comma-separated (they share one store and present the same host CA, so one pin covers them): the profile is kept under the first address, and each command goes to the server that answered last, moving to the next only when the request certainly was not processed (no connection could be made, or the server answered that its store is unavailable without reading the request); when none answers, one line names each address and why. A single name with several addresses is tried address by address when connecting.
A later login to the same proxy reuses the pin trusted the first time (until wid logout) and refuses a server that presents another CA. Without a terminal, --password-stdin is required, and --ca-pin for a first login. An invite's password must have at least 10 characters.
An invite is never given on the command line, where every user of the host can read it (ps) and redeem it first: --invite asks for it on a terminal (masked), and scripts give --invite-file PATH (its first line; bash's <(printf '%s\n' "$INVITE") works too).`
  static override enableJsonFlag = true
  static override examples = [
    '<%= config.bin %> login --proxy wid.example.org:3443 --user alice',
    '<%= config.bin %> login --proxy wid.example.org:3443 --user alice --invite --ca-pin sha256:9c6d…',
    '<%= config.bin %> login --proxy wid-a.example.org:3443,wid-b.example.org:3443 --user alice',
    '$ echo "$WID_PASSWORD" | wid login --proxy wid.example.org:3443 --user ci --invite-file ./invite --password-stdin --ca-pin sha256:9c6d…',
    '$ echo "$WID_PASSWORD" | wid login --proxy wid.example.org:3443 --user ci --password-stdin --ca-pin sha256:9c6d…',
  ]
  static override flags = {
    'ca-pin': Flags.string({description: 'sha256:<hex> pin of the server CA (skips the question; default: the pin trusted at the last login to this proxy).'}),
    invite: Flags.boolean({description: 'Redeem a one-time invite from wid users add or wid users reset, typed at a prompt (masked), and set your password.', exclusive: ['invite-file']}),
    'invite-file': Flags.string({description: 'Redeem the one-time invite in the first line of this file (for scripts; not -, which carries the password with --password-stdin).', exclusive: ['invite']}),
    'password-stdin': Flags.boolean({description: 'Read the password from standard input.'}),
    proxy: Flags.string({description: 'HOST[:PORT] of the wid server (default port 3443), or several servers of one cluster, comma-separated.', env: 'WID_PROXY', required: true}),
    ttl: duration('How long the login lasts (at most 30h).', '12h'),
    user: Flags.string({description: 'Your user name.', required: true}),
  }
  static override summary = 'Log in to a wid server.'

  async run() {
    const {discoverCluster, login, parseProxies, readInviteFile, refuseInviteValue} = await import('../lib/cluster/login.js')
    refuseInviteValue(this.argv)
    const {flags} = await this.parse(Login)
    const {rememberedPin} = await import('../lib/cluster/profiles.js')
    const {MIN_PASSWORD_LENGTH} = await import('../lib/auth/login.js')
    const {widHome} = await import('../lib/home.js')
    const servers = parseProxies(flags.proxy)
    const ttlSeconds = parseDuration(flags.ttl, '--ttl')
    if (ttlSeconds > 30 * 3600) throw badInput(`login: --ttl ${flags.ttl} is longer than the maximum of 30h`)
    const given = flags['ca-pin']
    if (given !== undefined && !/^sha256:[0-9a-f]{64}$/i.test(given)) throw badInput(`login: invalid --ca-pin "${given}" (expected sha256:<64 hex digits>)`)
    const remembered = given === undefined ? await rememberedPin(widHome(), servers.addresses[0]!) : undefined
    const pin = given?.toLowerCase() ?? remembered
    const interactive = Boolean(process.stdin.isTTY && process.stderr.isTTY)
    if (flags.invite && !interactive) throw badInput('login: --invite asks for the invite on a terminal; without one, give --invite-file PATH')
    const inviteFromFile = flags['invite-file'] === undefined ? undefined : await readInviteFile(flags['invite-file'])
    if (!interactive && pin === undefined) throw badInput('login: --ca-pin is required without a terminal (wid server start prints it; wid status on the server host shows the "Host CA pin")')
    if (!interactive && !flags['password-stdin']) throw badInput('login: --password-stdin is required without a terminal')
    const identity = await servers.call('login', discoverCluster)
    // The server that answered; the login goes to it first (see failover.ts).
    const proxy = servers.answered
    if (pin !== undefined && pin !== identity.pin) {
      const whose = given === undefined ? 'the one trusted at your last login' : 'the pinned'
      const advice = given === undefined ? '; if its CA really changed, log in with the new --ca-pin' : ''
      throw new WidError('access_denied', `login: ${proxy} presents CA ${identity.pin}, not ${whose} ${pin}; refusing to send a password to it${advice}`)
    }
    const prompts = interactive ? await import('@inquirer/prompts') : undefined
    if (pin === undefined) {
      const trusted = await prompts!.confirm({message: `Cluster ${identity.clusterName} at ${proxy} has CA pin ${identity.pin}. Trust it?`, default: false})
      if (!trusted) throw new WidError('access_denied', 'login: the CA pin was not trusted; nothing was changed')
    }
    const invite = flags.invite ? (await prompts!.password({message: 'Invite (from wid users add or wid users reset)', mask: true})).trim() : inviteFromFile
    if (invite === '') throw badInput('login: the invite is empty')
    let password: string
    if (flags['password-stdin']) {
      const chunks: Buffer[] = []
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
      password = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '')
    } else if (invite !== undefined) {
      password = await prompts!.password({message: `Choose a password (at least ${MIN_PASSWORD_LENGTH} characters)`, mask: true})
      if (password.length >= MIN_PASSWORD_LENGTH && (await prompts!.password({message: 'Repeat it', mask: true})) !== password) {
        throw badInput('login: the two passwords differ; nothing was changed (the invite still works)')
      }
    } else {
      password = await prompts!.password({message: `Password for ${flags.user}`, mask: true})
    }
    if (password === '') throw badInput('login: the password is empty')
    if (invite !== undefined && password.length < MIN_PASSWORD_LENGTH) {
      throw badInput(`login: the password must be at least ${MIN_PASSWORD_LENGTH} characters; nothing was changed (the invite still works)`)
    }
    const profile = await login({home: widHome(), servers, user: flags.user, password, invite, ttlSeconds, identity})
    this.success(`✔ logged in to ${profile.clusterName} at ${servers.answered} as ${profile.user} (roles: ${profile.roles.join(', ') || 'none'}) until ${profile.expires}`)
    return {proxy: profile.proxy, proxies: servers.addresses, answered: servers.answered, clusterName: profile.clusterName, user: profile.user, roles: profile.roles, expires: profile.expires}
  }
}
