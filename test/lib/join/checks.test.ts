/** ID tokens of the delegated join methods checked against token resources (src/lib/join/). */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {check as checkGithub} from '../../../src/lib/join/github.js'
import {check as checkGitlab} from '../../../src/lib/join/gitlab.js'
import {IssuerKeys} from '../../../src/lib/join/jwt.js'
import {check as checkKubernetes} from '../../../src/lib/join/kubernetes.js'
import type {GitHubJoinSpec, KubernetesJoinSpec} from '../../../src/lib/resources/types.js'
import {tempDir} from '../../helpers/cli.js'
import {rejection} from '../../helpers/errors.js'
import {hmacToken, jwksOf, signingKey, signToken, startOidcIssuer, unsignedToken, type OidcIssuer, type SigningKey} from '../../helpers/oidc-issuer.js'

const NOW = new Date('2026-11-23T10:00:00Z')
const T = NOW.getTime() / 1000
const GITHUB = 'https://token.actions.githubusercontent.com'
const context = {tokenName: 'gh', audience: 'example.org', now: NOW}

const githubClaims = (extra: Record<string, unknown> = {}) => ({
  iss: GITHUB,
  aud: 'example.org',
  sub: 'repo:acme/app:ref:refs/heads/main',
  repository: 'acme/app',
  repository_owner: 'acme',
  ref: 'refs/heads/main',
  ref_type: 'branch',
  workflow: 'deploy',
  run_attempt: '1',
  iat: T - 10,
  nbf: T - 10,
  exp: T + 300,
  ...extra,
})

describe('checking a GitHub Actions ID token against static_jwks', () => {
  let key: SigningKey
  let spec: GitHubJoinSpec
  const keys = new IssuerKeys()

  beforeAll(async () => {
    key = await signingKey('gh-1')
    spec = {static_jwks: jwksOf([key]), allow: [{repository: 'acme/other'}, {repository: 'acme/app', ref: 'refs/heads/main'}]}
  })

  it('answers the token string and boolean claims as join.github.* and the first rule that matched', async () => {
    const joined = await checkGithub(await signToken(key, githubClaims({private: false})), spec, context, keys)
    expect(joined.rule).toBe(1)
    expect(joined.claims).toEqual({repository: 'acme/app', ref: 'refs/heads/main'})
    expect(joined.attributes).toMatchObject({repository: 'acme/app', repository_owner: 'acme', run_attempt: '1', private: false, sub: 'repo:acme/app:ref:refs/heads/main'})
    expect(joined.attributes).not.toHaveProperty('exp')
  })

  it.each([
    [
      'a claim no rule allows',
      async () => signToken(key, githubClaims({ref: 'refs/heads/dev'})),
      'join: the ID token (ref "refs/heads/dev", repository "acme/app") matches no allow rule of the token "gh"; check spec.github.allow',
    ],
    [
      'another audience',
      async () => signToken(key, githubClaims({aud: 'sts.amazonaws.com'})),
      'join: the ID token\'s audience is "sts.amazonaws.com", which does not include the cluster name "example.org"; request the token for the audience example.org',
    ],
    ['an expired token', async () => signToken(key, githubClaims({exp: T - 121})), 'join: the ID token expired at 2026-11-23T09:57:59.000Z (2 minutes of leeway allowed); use a fresh token'],
    [
      'a token not yet valid',
      async () => signToken(key, githubClaims({nbf: T + 121})),
      'join: the ID token is not valid before 2026-11-23T10:02:01.000Z (2 minutes of leeway allowed); check the clocks of the issuer and the cluster',
    ],
    [
      'a header whose alg is deeply nested',
      async () => {
        const header = `{"alg":${'['.repeat(5000)}"ES256"${']'.repeat(5000)},"kid":"gh-1"}`
        return `${Buffer.from(header).toString('base64url')}.${Buffer.from(JSON.stringify(githubClaims())).toString('base64url')}.c2ln`
      },
      'join: the ID token is signed with a value that is not a string, which is not accepted (only RS256, RS384, RS512, ES256, ES384, ES512, PS256, PS384, PS512)',
    ],
    [
      'a header whose kid is long',
      async () => signToken(key, githubClaims(), {kid: 'k'.repeat(11_000)}),
      `join: the ID token is signed with the key "${'k'.repeat(64)}…", which is not one of the keys of spec.github.static_jwks of the token "gh"; check that the token is from that issuer`,
    ],
    [
      'a not-before no date can hold',
      async () => signToken(key, githubClaims({nbf: 1e300})),
      'join: the ID token is not valid before 1e+300 (2 minutes of leeway allowed); check the clocks of the issuer and the cluster',
    ],
    [
      'another issuer',
      async () => signToken(key, githubClaims({iss: 'https://token.actions.example.com'})),
      `join: the ID token's issuer is "https://token.actions.example.com", not "${GITHUB}"; check the token resource's issuer settings`,
    ],
    [
      'a bad signature',
      async () => {
        const [header, , signature] = (await signToken(key, githubClaims())).split('.')
        return `${header}.${Buffer.from(JSON.stringify(githubClaims({workflow: 'tampered'}))).toString('base64url')}.${signature}`
      },
      'join: the ID token\'s signature does not verify with the key "gh-1" of spec.github.static_jwks of the token "gh"; the token was altered or not signed by that issuer',
    ],
    [
      'an unknown kid',
      async () => signToken(await signingKey('gh-2'), githubClaims()),
      'join: the ID token is signed with the key "gh-2", which is not one of the keys of spec.github.static_jwks of the token "gh"; check that the token is from that issuer',
    ],
    ['alg none', async () => unsignedToken(githubClaims()), 'join: the ID token is signed with "none", which is not accepted (only RS256, RS384, RS512, ES256, ES384, ES512, PS256, PS384, PS512)'],
    ['HS256', async () => hmacToken(githubClaims(), 'gh-1'), 'join: the ID token is signed with "HS256", which is not accepted (only RS256, RS384, RS512, ES256, ES384, ES512, PS256, PS384, PS512)'],
    ['garbage', async () => 'not-a-jwt', 'join: the ID token is not a signed JWT; pass the whole token as its platform issued it'],
    ['no expiry', async () => signToken(key, githubClaims({exp: undefined})), 'join: the ID token has no expiry (exp); the issuer must set one'],
  ])('refuses %s in one line that does not repeat the token', async (_what, make, message) => {
    const token = await make()
    const error = await rejection(checkGithub(token, spec, context, keys))
    expect({code: error.code, message: error.message}).toEqual({code: 'access_denied', message})
    expect(error.message).not.toContain(token)
  })

  it('refuses in one line a token whose key in the JWKS cannot be used (a malformed JWK)', async () => {
    const broken = {...spec, static_jwks: JSON.stringify({keys: [{kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA', kid: 'gh-1', alg: 'ES256'}]})}
    const error = await rejection(checkGithub(await signToken(key, githubClaims()), broken, context, keys))
    expect([error.code, error.message]).toEqual(['access_denied', expect.stringMatching(/^join: the key "gh-1" of spec\.github\.static_jwks of the token "gh" cannot be used \(\w+\); check the issuer's published keys$/)])
  })

  it('accepts a token 2 minutes past its expiry, and one valid 2 minutes from now (leeway)', async () => {
    await expect(checkGithub(await signToken(key, githubClaims({exp: T - 119})), spec, context, keys)).resolves.toMatchObject({rule: 1})
    await expect(checkGithub(await signToken(key, githubClaims({nbf: T + 119})), spec, context, keys)).resolves.toMatchObject({rule: 1})
  })
})

describe('keys from an issuer over HTTPS (OIDC discovery)', () => {
  const tmp = tempDir()
  let issuer: OidcIssuer
  let first: SigningKey
  const clock = {ms: 0}
  let keys: IssuerKeys

  beforeAll(async () => {
    first = await signingKey('k8s-1', 'RS256')
    issuer = await startOidcIssuer(tmp.path, [first])
    keys = new IssuerKeys({ca: [issuer.ca], clock: () => clock.ms})
  })
  afterAll(async () => {
    await issuer.close()
    tmp.cleanup()
  })

  const spec = (): KubernetesJoinSpec => ({type: 'oidc', oidc: {issuer: `${issuer.origin}/k8s`}, allow: [{service_account: 'ci:builder'}]})
  const podClaims = (extra: Record<string, unknown> = {}) => ({
    iss: `${issuer.origin}/k8s`,
    aud: ['example.org'],
    sub: 'system:serviceaccount:ci:builder',
    'kubernetes.io': {namespace: 'ci', serviceaccount: {name: 'builder', uid: 'u1'}, pod: {name: 'builder-7d9f', uid: 'p1'}},
    iat: T,
    exp: T + 600,
    ...extra,
  })

  it('fetches the keys once, answers the service account and pod as join.kubernetes.*, and fetches again for a key it does not hold', async () => {
    const joined = await checkKubernetes(await signToken(first, podClaims()), spec(), {...context, tokenName: 'k8s'}, keys)
    expect(joined).toEqual({attributes: {'service_account.namespace': 'ci', 'service_account.name': 'builder', 'pod.name': 'builder-7d9f'}, rule: 0, claims: {service_account: 'ci:builder'}, subject: 'system:serviceaccount:ci:builder', issuedAt: T})
    await checkKubernetes(await signToken(first, podClaims()), spec(), {...context, tokenName: 'k8s'}, keys)
    expect(issuer.jwksFetches).toBe(1)
    // When the issuer rotates in a new key, a token signed with it is checked after one fetch more
    const second = await signingKey('k8s-2')
    issuer.keys = [first, second]
    clock.ms += 10_000
    await expect(checkKubernetes(await signToken(second, podClaims()), spec(), {...context, tokenName: 'k8s'}, keys)).resolves.toMatchObject({rule: 0})
    expect(issuer.jwksFetches).toBe(2)
    // And a kid it does not publish is refused; asked again at once, the keys are not fetched again
    const stranger = await signingKey('k8s-3')
    for (let i = 0; i < 2; i++) {
      const error = await rejection(checkKubernetes(await signToken(stranger, podClaims()), spec(), {...context, tokenName: 'k8s'}, keys))
      expect(error.message).toBe(`join: the ID token is signed with the key "k8s-3", which is not one of the keys of the issuer ${issuer.origin}/k8s; check that the token is from that issuer`)
    }
    expect(issuer.jwksFetches).toBe(2)
  })

  it('while the issuer is down, uses the last keys it fetched for a day, asking it again at most every 10 s', async () => {
    const own = new IssuerKeys({ca: [issuer.ca], clock: () => clock.ms})
    const check = async () => checkKubernetes(await signToken(first, podClaims()), spec(), {...context, tokenName: 'k8s'}, own)
    await expect(check()).resolves.toMatchObject({rule: 0})
    issuer.down = true
    try {
      clock.ms += 3600_000 // the keys are due to be fetched again
      await expect(check()).resolves.toMatchObject({rule: 0})
      await expect(check()).resolves.toMatchObject({rule: 0})
      expect(issuer.refused).toBe(1)
      clock.ms += 10_000
      await expect(check()).resolves.toMatchObject({rule: 0})
      expect(issuer.refused).toBe(2)
      clock.ms += 24 * 3600_000 // a day later the old keys no longer serve
      const error = await rejection(check())
      expect([error.code, error.message]).toEqual(['unavailable', `join: the keys of the issuer ${issuer.origin}/k8s could not be fetched: ${issuer.origin}/k8s/.well-known/openid-configuration answered HTTP 503`])
      // and the failure is answered again without asking, for 10 s
      expect((await rejection(check())).message).toBe(error.message)
      expect(issuer.refused).toBe(3)
    } finally {
      issuer.down = false
    }
  })

  it('refuses a token not bound to a pod, and another service account naming it', async () => {
    const unbound = podClaims({'kubernetes.io': {namespace: 'ci', serviceaccount: {name: 'builder'}}})
    expect((await rejection(checkKubernetes(await signToken(first, unbound), spec(), {...context, tokenName: 'k8s'}, keys))).message).toBe(
      'join: the ID token is not bound to a pod (no kubernetes.io.pod.name); use a projected service account token mounted in the pod',
    )
    const other = podClaims({sub: 'system:serviceaccount:ci:deployer'})
    expect((await rejection(checkKubernetes(await signToken(first, other), spec(), {...context, tokenName: 'k8s'}, keys))).message).toBe(
      'join: the ID token (service_account "ci:deployer") matches no allow rule of the token "k8s"; check spec.kubernetes.allow',
    )
  })

  it('says the keys cannot be fetched when the issuer is not trusted (no CA given)', async () => {
    const error = await rejection(checkKubernetes(await signToken(first, podClaims()), spec(), {...context, tokenName: 'k8s'}, new IssuerKeys()))
    expect(error.code).toBe('unavailable')
    expect(error.message).toMatch(new RegExp(`^join: the keys of the issuer ${issuer.origin}/k8s could not be fetched: ${issuer.origin}/k8s/.well-known/openid-configuration: .*certificate`))
  })

  it('checks a GitLab token against the instance at its domain, with boolean claims compared as such', async () => {
    const domain = issuer.origin.slice('https://'.length)
    const claims = {iss: issuer.origin, aud: 'example.org', sub: 'project_path:acme/app:ref_type:branch:ref:main', project_path: 'acme/app', namespace_path: 'acme', ref_protected: 'true', exp: T + 60}
    const spec = {domain, allow: [{project_path: 'acme/app', ref_protected: true}]}
    const joined = await checkGitlab(await signToken(first, claims), spec, {...context, tokenName: 'gl'}, keys)
    expect(joined).toMatchObject({rule: 0, claims: {project_path: 'acme/app', ref_protected: 'true'}, attributes: {namespace_path: 'acme'}})
    const unprotected = await signToken(first, {...claims, ref_protected: 'false'})
    expect((await rejection(checkGitlab(unprotected, spec, {...context, tokenName: 'gl'}, keys))).message).toBe(
      'join: the ID token (project_path "acme/app", ref_protected "false") matches no allow rule of the token "gl"; check spec.gitlab.allow',
    )
  })
})
