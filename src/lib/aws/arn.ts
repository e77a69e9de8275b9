/**
 * Amazon Resource Names: `arn:<partition>:<service>:<region>:<account>:<resource>`.
 * Validation says which part is wrong, since a mistyped ARN is the most common cause of an
 * AWS federation that silently does not work.
 */
import {badInput} from '../errors.js'

export interface Arn {
  partition: string
  service: string
  region: string
  account: string
  /** Everything after the fifth colon, e.g. `role/my-role`. */
  resource: string
  /** The resource type before the first `/`, e.g. `role`. */
  resourceType: string
  /** The resource id after the first `/`, e.g. `my-role`. */
  resourceId: string
}

export interface ArnExpectation {
  service: string
  resourceType?: string
  /** Whether the region part must be empty (IAM) or set (Roles Anywhere). */
  region?: 'empty' | 'required'
}

/** IAM Roles Anywhere names its trust anchors, profiles, CRLs and subjects by UUID. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

const PARTITIONS = new Set(['aws', 'aws-cn', 'aws-us-gov', 'aws-iso', 'aws-iso-b', 'aws-iso-e', 'aws-iso-f', 'aws-eusc'])
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/

export function parseArn(value: string, what: string, expected?: ArnExpectation): Arn {
  const bad = (why: string) => badInput(`${what}: invalid ARN "${value}": ${why}`)
  // (a pasted placeholder such as 6f3a9e1c-… is the usual culprit)
  const odd = /[^\x21-\x7e]/u.exec(value)
  if (odd) throw bad(`it contains ${JSON.stringify(odd[0])}, which an ARN cannot (copy the ARN AWS shows)`)
  const parts = value.split(':')
  if (parts.length < 6 || parts[0] !== 'arn') throw bad('expected arn:<partition>:<service>:<region>:<account>:<resource>')
  const [, partition = '', service = '', region = '', account = ''] = parts
  const resource = parts.slice(5).join(':')
  if (!PARTITIONS.has(partition)) throw bad(`unknown partition "${partition}" (expected aws, aws-cn or aws-us-gov)`)
  if (!/^[a-z0-9-]+$/.test(service)) throw bad(`bad service "${service}"`)
  if (expected && service !== expected.service) throw bad(`service is "${service}", expected "${expected.service}"`)
  if (region !== '' && !REGION.test(region)) throw bad(`bad region "${region}"`)
  if (expected?.region === 'empty' && region !== '') throw bad(`${service} ARNs have no region (found "${region}")`)
  if (expected?.region === 'required' && region === '') throw bad('the region is missing')
  if (!/^\d{12}$/.test(account)) throw bad(`account "${account}" must be 12 digits`)
  if (resource === '') throw bad('the resource is missing')
  const slash = resource.indexOf('/')
  const resourceType = slash === -1 ? resource : resource.slice(0, slash)
  const resourceId = slash === -1 ? '' : resource.slice(slash + 1)
  if (expected?.resourceType !== undefined) {
    if (resourceType !== expected.resourceType) throw bad(`resource type is "${resourceType}", expected "${expected.resourceType}/<name>"`)
    if (resourceId === '' || /\s/.test(resourceId)) throw bad(`the ${expected.resourceType} name is missing or has spaces`)
    if (service === 'rolesanywhere' && !UUID.test(resourceId)) throw bad(`the ${expected.resourceType} id "${resourceId}" is not a UUID (Roles Anywhere shows one, e.g. 6f3a9e1c-2b4d-4c8e-9a1f-3d5e7b9c0a12)`)
  }
  return {partition, service, region, account, resource, resourceType, resourceId}
}

export function checkRegion(region: string, flag = '--region'): string {
  if (!REGION.test(region)) throw badInput(`aws: invalid ${flag} "${region}" (e.g. us-east-1)`)
  return region
}

export function parseIamRoleArn(value: string, what: string): Arn {
  return parseArn(value, what, {service: 'iam', resourceType: 'role', region: 'empty'})
}
