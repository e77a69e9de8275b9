/**
 * HashiCorp's HCL parser (hcl2json: the Go hcl library compiled to WebAssembly), as a real
 * peer for the Terraform that wid prints. Loaded by a computed name: its type declarations
 * pull in the DOM library, whose CryptoKey would clash with Node's in this project's types.
 */
const MODULE = '@cdktf/hcl2json'

/** What hcl2json makes of a file: template expressions stay as their source text. */
export async function parseHcl(tf: string): Promise<Record<string, unknown>> {
  const {parse} = (await import(MODULE)) as {parse: (file: string, text: string) => Promise<Record<string, unknown>>}
  return parse('main.tf', tf)
}
