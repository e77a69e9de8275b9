/**
 * Terraform (HCL) text for the resources wid prints. In HCL every quoted string is a
 * template: `${...}` and `%{...}` in it are evaluated by `terraform apply`. Values that come
 * from users (audiences, issuer URLs, ARNs, names) are therefore escaped as `$${` and `%%{`,
 * which HCL reads back as the literal text.
 */

/** A Terraform identifier from any name: letters, digits, underscores, not starting with a digit. */
export function terraformName(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9_]/g, '_').replace(/^(?=\d)/, '_')
  return cleaned || 'wid'
}

/** HCL's escapes are JSON's but for \b and \f, which it spells as \u escapes. */
const HCL_ESCAPE: Record<string, string> = {'\\b': '\\u0008', '\\f': '\\u000c'}

/**
 * JSON text (a string, or a whole document for `jsonencode(...)`) made safe as HCL: no
 * template sequence survives in any string, keys included.
 */
export function hcl(json: string): string {
  return json.replace(/\\[\\"bfnrtu]|[$%]\{/g, (token) => HCL_ESCAPE[token] ?? (token.endsWith('{') ? `${token[0]}${token}` : token))
}

/** A quoted HCL string holding exactly `value`. */
export function hclString(value: string): string {
  return hcl(JSON.stringify(value))
}
