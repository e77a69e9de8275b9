/** Resources for people and for round trips: YAML (re-applies with `wid create -f`), JSON, tables. */
import {tokenId} from './names.js'
import {renderTable} from '../output/table.js'
import type {Bot, Integration, Kind, Resource, Role, RoleConditions, Token, User, WorkloadIdentity} from './types.js'

export async function toYaml(resources: Resource[]): Promise<string> {
  const {stringify} = await import('yaml')
  return resources.map((r) => stringify(r, {lineWidth: 0})).join('---\n')
}

const labelsText = (labels: Record<string, string> | undefined) =>
  Object.entries(labels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',')

function conditionsText(c: RoleConditions | undefined): string {
  if (!c) return ''
  const parts: string[] = []
  if (c.workload_identity_labels) {
    parts.push(`workload_identity_labels ${Object.entries(c.workload_identity_labels).map(([k, v]) => `${k}=${[v].flat().join('|')}`).join(',')}`)
  }
  for (const rule of c.rules ?? []) parts.push(`${rule.verbs.join('/')} ${rule.resources.join('/')}`)
  for (const entry of c.spiffe ?? []) parts.push(`spiffe ${entry.path}`)
  return parts.join('; ')
}

export function toText(kind: Kind, resources: Resource[]): string {
  switch (kind) {
    case 'workload_identity':
      return renderTable(
        ['NAME', 'SPIFFE ID PATH', 'LABELS'],
        (resources as WorkloadIdentity[]).map((r) => [r.metadata.name, r.spec.spiffe.id, labelsText(r.metadata.labels)]),
      )
    case 'role':
      return renderTable(
        ['NAME', 'ALLOW', 'DENY'],
        (resources as Role[]).map((r) => [r.metadata.name, conditionsText(r.spec.allow), conditionsText(r.spec.deny)]),
      )
    case 'bot':
    case 'user':
      return renderTable(
        [kind.toUpperCase(), 'ROLES'],
        (resources as (Bot | User)[]).map((r) => [r.metadata.name, r.spec.roles.join(',')]),
      )
    case 'token':
      return renderTable(
        ['ID', 'BOT', 'JOIN METHOD', 'EXPIRES'],
        (resources as Token[]).map((r) => [tokenId(r), r.spec.bot_name ?? '', r.spec.join_method, r.metadata.expires ?? 'never']),
      )
    case 'integration':
      return renderTable(
        ['NAME', 'SUB KIND', 'ROLE ARN'],
        (resources as Integration[]).map((r) => [r.metadata.name, r.sub_kind, r.spec.aws_oidc.role_arn]),
      )
  }
}
