import {Args, Flags} from '@oclif/core'
import {ClusterCommand} from '../base-command.js'
import {as} from '../flags.js'
import {badInput} from '../lib/errors.js'

export default class Create extends ClusterCommand {
  static override args = {
    file: Args.string({ignoreStdin: true, description: 'File to read, or - for stdin (the same as -f, as tctl create takes it).'}),
  }
  static override description = `Reads one or more YAML or JSON documents (separated by ---) and creates each resource in order. Kinds: workload_identity (v1), role (v6, v7), bot (v1), user (v2), token (v2), integration (v1, sub_kind aws-oidc).
The whole stream is checked first (schema, unknown fields, SPIFFE paths, templates, rules, ARNs); a problem is reported at file:line:col and nothing is applied. Then resources are created in order, stopping at the first failure. A resource that exists already is refused unless --force, which replaces it.
A user or bot (on a server) writes only the workload identities that the workload_identity_labels of a role allowing the write (create or update on workload_identity) match, before and after the change, with SPIFFE IDs and DNS SANs the allow.spiffe entries of such a role cover and a maximum_ttl of at most 24h; the local admin is not limited (see "Delegating to a team" in the README).`
  static override enableJsonFlag = true
  static override examples = [
    '<%= config.bin %> create -f workload-identity.yaml',
    '<%= config.bin %> create workload-identity.yaml',
    'cat roles.yaml | <%= config.bin %> create -f -',
    '<%= config.bin %> create -f api.yaml --as user/tara',
    '<%= config.bin %> create --force -f workload-identity.yaml',
  ]
  static override flags = {
    as: as('create'),
    file: Flags.string({char: 'f', description: 'File to read, or - for stdin.'}),
    // -f is --file here, as in tctl, so --force has no short form.
    force: Flags.boolean({description: 'Replace resources that already exist.'}),
  }
  static override summary = 'Create resources from a YAML or JSON file.'

  async run() {
    const {args, flags} = await this.parse(Create)
    if (args.file !== undefined && flags.file !== undefined) throw badInput(`create: give the file once: wid create -f ${flags.file} (or wid create ${args.file})`)
    const file = args.file ?? flags.file
    if (file === undefined) throw badInput('create: give the file to read: wid create -f FILE (or - for stdin)')
    const {readInput} = await import('../lib/resources/input.js')
    const {applyStream} = await import('../lib/cluster/apply.js')
    const {text, source} = await readInput(file)
    const {parseAs} = await import('../lib/resources/refs.js')
    const cluster = await this.cluster({as: flags.as === undefined ? undefined : parseAs(flags.as)})
    const applied = await applyStream(cluster, text, source, {force: flags.force, onApplied: (a) => this.success(a.message)})
    return {applied}
  }
}
