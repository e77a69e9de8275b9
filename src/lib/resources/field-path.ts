/** Where a field lies in a resource, and how messages name it (no YAML machinery, so issuance can use it). */
export type FieldPath = (string | number)[]

/** `spec.rules.allow[0].conditions[1]` */
export function formatPath(path: FieldPath): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('')
}
