/**
 * What every wid command shares (one error path, notes, colours), and what the commands
 * that act on a cluster add: how to reach it, and --local.
 */
import {Command, Flags, ux} from '@oclif/core'
import type {UserOrBot} from './lib/auth/principal.js'
import type {Cluster} from './lib/cluster/cluster.js'
import {badInput} from './lib/errors.js'
import {escapeC1InJson} from './lib/output/printable.js'
import {printError, renderError} from './render-error.js'
import {paint} from './style.js'
import {usageMessage, type CommandShape} from './usage-errors.js'

export abstract class WidCommand extends Command {
  /** Chatter for humans goes to stderr, so that stdout carries only data. */
  protected note(message: string): void {
    if (!this.jsonEnabled()) this.logToStderr(message)
  }

  /** A line that says something worked: green on a terminal. */
  protected success(message: string): void {
    this.note(paint('green', message))
  }

  /** `warning: ...` on stderr (also with --json): yellow on a terminal. */
  protected warning(message: string): void {
    this.logToStderr(paint('yellow', `warning: ${message}`))
  }

  /** --json output, as oclif writes it, with no raw DEL or C1 control character (see escapeC1InJson). */
  protected override logJson(json: unknown): void {
    ux.stdout(escapeC1InJson(ux.colorizeJson(json, {pretty: true, theme: this.config.theme?.json})))
  }

  /** What usage errors need to know of this command: its flags and arguments. */
  private shape(): CommandShape {
    const flags = {...this.ctor.baseFlags, ...this.ctor.flags, ...(this.ctor.enableJsonFlag ? {json: {}} : {}), help: {}} as Record<string, {char?: string}>
    return {
      id: this.id ?? '',
      flags: Object.entries(flags).map(([name, flag]) => ({name, ...(flag.char ? {char: flag.char} : {})})),
      args: Object.entries(this.ctor.args ?? {}).map(([name, arg]) => ({name, ...(arg.description ? {description: arg.description} : {})})),
    }
  }

  protected override async catch(error: Error): Promise<void> {
    // A failed parse is reported here; oclif must not also warn that parse was skipped.
    this.parsed = true
    const usage = usageMessage(error as Error & {args?: {name: string}[]}, this.shape())
    if (usage !== undefined) error = badInput(usage)
    if (this.jsonEnabled()) {
      const {code, message} = renderError(error)
      this.logJson({error: {code, message}})
    }
    process.exitCode = printError(error)
  }
}

/** A command that acts on the cluster: the server of the current login, or the embedded one. */
export abstract class ClusterCommand extends WidCommand {
  static override baseFlags = {
    local: Flags.boolean({description: 'Use the embedded cluster in $WID_HOME even when logged in to a server.', helpGroup: 'GLOBAL'}),
    config: Flags.string({
      char: 'c',
      description: "A server's configuration (wid.yaml): act on the storage it names (its PostgreSQL database, or its data_dir), as the local admin on that server's host.",
      helpValue: '<file>',
      helpGroup: 'GLOBAL',
    }),
  }

  private clusters: Cluster[] = []

  /**
   * The cluster this invocation talks to: the server of the current `wid login`, or with
   * --local (or when nobody logged in) the embedded one in $WID_HOME, as the local admin
   * or `as`.
   */
  protected async cluster(options: {as?: UserOrBot; keepAudit?: boolean} = {}): Promise<Cluster> {
    const {widHome} = await import('./lib/home.js')
    const {flags} = (await this.parse()) as {flags: {config?: string; local?: boolean}}
    let home = widHome()
    let storage
    if (flags.config !== undefined) {
      // A server's configuration: the store it names, as its local admin (never a login's server)
      const {configuredStorage} = await import('./lib/server/config.js')
      const configured = await configuredStorage(flags.config)
      home = configured.dataDir ?? home
      storage = configured.storage
    } else if (!flags.local) {
      const {currentProfile, profileServers} = await import('./lib/cluster/profiles.js')
      const profile = await currentProfile(home)
      if (profile) {
        if (options.as) throw badInput(`--as rehearses access in local mode only; add --local (logged in to ${profile.proxy} as ${profile.user})`)
        const {RemoteCluster} = await import('./lib/cluster/remote.js')
        const remote = new RemoteCluster(profile, profileServers(home, profile))
        // The login follows the host and client CA rotations, as the server's answers say
        remote.onAdvice = async (advice) => (await import('./lib/cluster/follow-login.js')).followLogin(home, remote, advice)
        this.clusters.push(remote)
        return remote
      }
    }
    const {LocalCluster} = await import('./lib/cluster/local.js')
    const cluster = await LocalCluster.open({...options, home, storage})
    this.clusters.push(cluster)
    if (cluster.created) this.success(`✔ created cluster ${cluster.created.clusterName} in ${cluster.home} (first use)`)
    return cluster
  }

  protected override async finally(error: Error | undefined): Promise<void> {
    await Promise.all(this.clusters.map((c) => c.close()))
    return super.finally(error)
  }
}
