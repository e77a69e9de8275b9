/**
 * `bots` and `users` share their ls, rm and update commands: both are role holders. Each
 * command file is one line that picks its kind here.
 */
import {Args} from '@oclif/core'
import {ClusterCommand} from './base-command.js'
import {roleChange} from './flags.js'
import {badInput} from './lib/errors.js'
import type {Bot, User} from './lib/resources/types.js'

type HolderKind = 'bot' | 'user'

export function listCommand(kind: HolderKind) {
  return class extends ClusterCommand {
    static override description = `Lists every ${kind} with its roles.`
    static override enableJsonFlag = true
    static override examples = [`<%= config.bin %> ${kind}s ls`, `<%= config.bin %> ${kind}s ls --json`]
    static override summary = `List ${kind}s.`

    async run() {
      await this.parse(this.ctor)
      const {renderTable} = await import('./lib/output/table.js')
      const holders = (await (await this.cluster()).listResources(kind)) as (Bot | User)[]
      const rows = holders.map((h) => ({[kind]: h.metadata.name, roles: h.spec.roles}))
      if (!this.jsonEnabled()) {
        process.stdout.write(renderTable([kind.toUpperCase(), 'ROLES'], holders.map((h) => [h.metadata.name, h.spec.roles.join(',')])) || `no ${kind}s\n`)
      }
      return rows
    }
  }
}

export function removeCommand(kind: HolderKind, description: string) {
  return class extends ClusterCommand {
    static override args = {name: Args.string({ignoreStdin: true, description: `Name of the ${kind}.`, required: true})}
    static override description = description
    static override examples = [`<%= config.bin %> ${kind}s rm ${kind === 'bot' ? 'my-bot' : 'alice'}`]
    static override summary = `Remove a ${kind}.`

    async run(): Promise<void> {
      const {args} = await this.parse(this.ctor)
      await (await this.cluster()).deleteResource(kind, args.name as string)
      this.success(`${kind} "${args.name}" has been deleted`)
    }
  }
}

export function updateCommand(kind: HolderKind, exampleRole: string) {
  const example = kind === 'bot' ? 'my-bot' : 'alice'
  return class extends ClusterCommand {
    static override args = {name: Args.string({ignoreStdin: true, description: `Name of the ${kind}.`, required: true})}
    static override description = `Adds roles to a ${kind} (--add-roles) or replaces its roles (--set-roles). Every role must exist; a concurrent change to the ${kind} is not overwritten.`
    static override enableJsonFlag = true
    static override examples = [
      `<%= config.bin %> ${kind}s update ${example} --add-roles ${exampleRole}`,
      `<%= config.bin %> ${kind}s update ${example} --set-roles ${exampleRole},auditor`,
    ]
    static override flags = roleChange
    static override summary = `Change a ${kind}'s roles.`

    async run() {
      const {args, flags} = (await this.parse(this.ctor)) as unknown as {args: {name: string}; flags: {'add-roles'?: string; 'set-roles'?: string}}
      const {parseList} = await import('./lib/resources/refs.js')
      if (flags['add-roles'] === undefined && flags['set-roles'] === undefined) throw badInput(`${kind}s update: give --add-roles or --set-roles`)
      const roles = await (await this.cluster()).updateRoles(kind, args.name, {
        ...(flags['add-roles'] !== undefined ? {add: parseList(flags['add-roles'])} : {}),
        ...(flags['set-roles'] !== undefined ? {set: parseList(flags['set-roles'])} : {}),
      })
      this.success(`${kind} "${args.name}" has been updated; roles: ${roles.join(', ') || '(none)'}`)
      return {[kind]: args.name, roles}
    }
  }
}
