/**
 * The attributes a caller or workload presents, named the way templates and workload
 * identity rules refer to them (DESIGN §4): `user.name`, `user.traits["team-name"]`,
 * `workload.unix.uid`, `join.meta.join_method`, ...
 */
import {badInput} from '../errors.js'
import {parseAttributeName, unknownAttribute} from '../resources/attribute-names.js'

type Scalar = string | number | boolean | undefined

/** What the bot agent attested of a workload (DESIGN §4.2); only a bot may present it. */
export interface WorkloadAttributes {
  unix?: {attested: boolean; pid?: number; uid?: number; gid?: number; binary_path?: string; binary_hash?: string}
}

export interface Attributes {
  user: {name: string; is_bot: boolean; bot_name?: string; labels: Record<string, string>; traits: Record<string, string[]>}
  workload?: WorkloadAttributes
  join?: {meta: {join_method: string; join_token_name?: string}} & Record<string, Record<string, Scalar>>
}

export type AttributeValue = {kind: 'unset'} | {kind: 'single'; value: string} | {kind: 'multi'; values: string[]}

/** A record's own entry; never one inherited from Object.prototype (`user.labels.constructor`). */
function own<T>(record: Record<string, T> | undefined, key: string): T | undefined {
  return record && Object.hasOwn(record, key) ? record[key] : undefined
}

function scalar(value: Scalar): AttributeValue {
  return value === undefined || value === '' ? {kind: 'unset'} : {kind: 'single', value: String(value)}
}

function list(values: string[] | undefined): AttributeValue {
  const present = (values ?? []).filter((value) => value !== '')
  if (present.length === 0) return {kind: 'unset'}
  return present.length === 1 ? {kind: 'single', value: present[0]!} : {kind: 'multi', values: present}
}

export function resolveAttribute(attributes: Attributes, name: string): AttributeValue {
  const ref = parseAttributeName(name)
  switch (ref?.scope) {
    case 'user':
      return scalar(attributes.user[ref.field])
    case 'labels':
      return scalar(own(attributes.user.labels, ref.key))
    case 'traits':
      return list(own(attributes.user.traits, ref.key))
    case 'unix':
      return scalar(attributes.workload?.unix?.[ref.field])
    case 'join':
      return scalar(own(own<Record<string, Scalar>>(attributes.join, ref.method), ref.field))
    case undefined:
      throw badInput(`auth: ${unknownAttribute(name)}`)
  }
}

/** The canonical name of a `workload.*` attribute (`workload.unix.uid`); undefined for any other attribute. */
export function workloadAttributeName(name: string): string | undefined {
  const ref = parseAttributeName(name)
  return ref?.scope === 'unix' ? `workload.unix.${ref.field}` : undefined
}
