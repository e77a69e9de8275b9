import {Args, Flags} from '@oclif/core'
import {ClusterCommand} from '../base-command.js'
import {as} from '../flags.js'
import {badInput} from '../lib/errors.js'

export default class Get extends ClusterCommand {
  static override args = {
    ref: Args.string({ignoreStdin: true, description: 'KIND or KIND/NAME, e.g. workload_identity or role/example-workload-identity-issuer.'}),
  }
  static override description = `Prints one resource (KIND/NAME) or every resource of a kind (KIND). YAML output applies again unchanged with wid create -f; JSON is an object for one resource and a list for a kind; text is a table. Secrets are never shown: users appear without their credentials and join tokens by their id; token/ID takes that id (or 8 or more of its first hex digits) or the token itself. A user or bot (on a server) sees only the workload identities its roles' workload_identity_labels match.`
  static override examples = [
    '<%= config.bin %> get workload_identity/example-workload-identity',
    '<%= config.bin %> get role --format text',
    '<%= config.bin %> get bot/my-bot --format json',
    '<%= config.bin %> get workload_identity --as user/tara',
    '<%= config.bin %> get token/3f9a61c2',
  ]
  static override flags = {
    as: as('read'),
    format: Flags.option({default: 'yaml', description: 'Output format.', options: ['yaml', 'json', 'text'] as const})(),
  }
  static override summary = 'Show resources.'

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Get)
    const {KINDS} = await import('../lib/resources/types.js')
    if (args.ref === undefined) throw badInput(`get: say what to show: a KIND or KIND/NAME, e.g. wid get workload_identity (kinds: ${KINDS.join(', ')})`)
    const {parseAs, parseKindRef} = await import('../lib/resources/refs.js')
    const {toText, toYaml} = await import('../lib/resources/render.js')
    const {kind, name} = parseKindRef(args.ref, false)
    const cluster = await this.cluster({as: flags.as === undefined ? undefined : parseAs(flags.as)})
    const resources = name === undefined ? await cluster.listResources(kind) : [await cluster.getResource(kind, name)]
    if (flags.format === 'json') this.log(JSON.stringify(name === undefined ? resources : resources[0], null, 2))
    else if (flags.format === 'text') process.stdout.write(toText(kind, resources) || `no ${kind} resources\n`)
    else process.stdout.write(await toYaml(resources))
  }
}
