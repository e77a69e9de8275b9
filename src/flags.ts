/** Flags defined once and reused by every command that takes them. */
import {Flags} from '@oclif/core'
import {KEY_TYPES, type KeyType} from './lib/crypto/keys.js'

export const force = Flags.boolean({char: 'f', description: 'Replace files or resources that already exist.'})

/** `--as user/NAME|bot/NAME`: rehearse what the server would let them do (local mode only; audited as the local admin). */
export const as = (what: string) =>
  Flags.string({
    description: `Rehearse access: ${what} as user/NAME or bot/NAME, with exactly the roles, rules and templates the server applies to them (local mode only; audited as you, with "as").`,
    helpValue: 'user/NAME|bot/NAME',
  })

export const keyType = (description: string, defaultValue?: KeyType) =>
  Flags.option({options: KEY_TYPES, default: defaultValue, description})()

/** A Go-style duration (8h, 90m, 1h30m); commands parse it with parseDuration so the error names the flag. */
export const duration = (description: string, defaultValue?: string) =>
  Flags.string({default: defaultValue, description, helpValue: '<duration>'})

/** `--roles a,b`: a comma-separated list of role names. */
export const roles = (description: string, required = false) => Flags.string({description, helpValue: '<role,...>', required})

export const roleChange = {
  'add-roles': Flags.string({description: 'Roles to add (comma-separated); every role must exist.', exclusive: ['set-roles'], helpValue: '<role,...>'}),
  'set-roles': Flags.string({description: 'Replace all roles with these (comma-separated); every role must exist.', exclusive: ['add-roles'], helpValue: '<role,...>'}),
}
