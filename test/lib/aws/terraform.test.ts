import {describe, expect, it} from 'vitest'
import {terraformOidcProvider} from '../../../src/lib/aws/oidc-provider.js'
import {hclString} from '../../../src/lib/aws/terraform.js'
import {oidcTrustPolicy, terraformRole} from '../../../src/lib/aws/trust-policy.js'
import {parseHcl as parsed} from '../../helpers/hcl.js'


describe('Terraform output escapes template sequences (issue 10 item 7)', () => {
  const HOSTILE = 'sts ${file("/etc/passwd")} %{ if true }x%{ endif }'

  it('hclString keeps the text literal: ${ and %{ become $${ and %%{, and HCL reads it back', async () => {
    expect(hclString(HOSTILE)).toBe('"sts $${file(\\"/etc/passwd\\")} %%{ if true }x%%{ endif }"')
    expect(hclString('a\\${b}\bc\fd\n')).toBe('"a\\\\$${b}\\u0008c\\u000cd\\n"')
    const tf = `locals {\n  a = ${hclString(HOSTILE)}\n  b = ${hclString('a\\${b}\bc\fd\n')}\n}\n`
    // Then the file parses, and no attribute is an expression (hcl2json shows one as "${...}")
    const locals = ((await parsed(tf)).locals as Record<string, string>[])[0]!
    expect(locals.a).toBe('sts $${file(\\"/etc/passwd\\")} %%{ if true }x%%{ endif }'.replace(/\\"/g, '"'))
    expect(Object.values(locals).every((v) => !/(^|[^$])\$\{/.test(v) && !/(^|[^%])%\{/.test(v))).toBe(true)
  })

  it('an aws_iam_role whose policy holds a hostile audience is valid HCL with nothing to evaluate', async () => {
    // Given an audience that carries template sequences
    const policy = oidcTrustPolicy({issuer: 'https://wid.example.org/workload-identity', spiffeId: 'spiffe://example.org/svc/a', audience: HOSTILE, accountId: '123456789012'})
    // When it is printed for Terraform
    const tf = terraformRole('reader', policy)
    // Then it parses, and the only expression is the jsonencode call, whose strings are all escaped
    const role = (((await parsed(tf)).resource as Record<string, Record<string, Record<string, string>[]>>).aws_iam_role!.reader!)[0]!
    expect(role.name).toBe('reader')
    expect(role.assume_role_policy).toMatch(/^\$\{jsonencode\(/)
    const inner = role.assume_role_policy!.slice(2, -1)
    expect(inner).not.toMatch(/(^|[^$])\$\{/)
    expect(inner).not.toMatch(/(^|[^%])%\{/)
    expect(inner).toContain('"wid.example.org/workload-identity:aud": "sts $${file(')
    // And with the escapes undone, the policy is exactly the JSON one
    const json = /jsonencode\(([\s\S]*)\)\n\}\n$/.exec(tf)![1]!.replace(/\$\$\{/g, '${').replace(/%%\{/g, '%{')
    expect(JSON.parse(json)).toEqual(policy)
  })

  it('an aws_iam_openid_connect_provider with a hostile audience is valid HCL with nothing to evaluate', async () => {
    const tf = terraformOidcProvider({url: 'https://wid.example.org/workload-identity', audience: HOSTILE, thumbprint: 'ab'.repeat(20)})
    const provider = Object.values(((await parsed(tf)).resource as Record<string, Record<string, Record<string, unknown>[]>>).aws_iam_openid_connect_provider!)[0]![0]!
    expect(provider.client_id_list).toEqual(['sts $${file("/etc/passwd")} %%{ if true }x%%{ endif }'])
    expect(provider.url).toBe('https://wid.example.org/workload-identity')
  })

  it('names the integration provider after its host, without a trailing underscore', () => {
    expect(terraformOidcProvider({url: 'https://wid.example.org/', audience: 'discover.teleport'})).toMatch(/^resource "aws_iam_openid_connect_provider" "wid_example_org" \{/)
  })
})
