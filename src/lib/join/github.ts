/**
 * The github join method: a GitHub Actions OIDC token (audience = the wid cluster name) from
 * github.com, a GitHub Enterprise Cloud slug's issuer, or a GitHub Enterprise Server, checked
 * with the issuer's published keys or the token resource's static JWKS.
 */
import type {GitHubJoinSpec} from '../resources/types.js'
import {firstMatch, proofOf, scalarClaims, type CheckContext, type DelegatedJoin} from './allow.js'
import {verifyIdToken, type IssuerKeys, type JwtCheck} from './jwt.js'

export const GITHUB_ISSUER = 'https://token.actions.githubusercontent.com'

/** The issuer a token resource expects, as Teleport derives it. */
export function githubIssuer(spec: GitHubJoinSpec): string {
  if (spec.enterprise_server_host !== undefined) return `https://${spec.enterprise_server_host}/_services/token`
  if (spec.enterprise_slug !== undefined) return `${GITHUB_ISSUER}/${spec.enterprise_slug}`
  return GITHUB_ISSUER
}

export async function check(idToken: string, spec: GitHubJoinSpec, context: CheckContext & Omit<JwtCheck, 'issuer' | 'keys'>, issuerKeys: IssuerKeys): Promise<DelegatedJoin> {
  const issuer = githubIssuer(spec)
  const keys = spec.static_jwks === undefined ? {issuer} : {jwks: spec.static_jwks, where: `spec.github.static_jwks of the token "${context.tokenName}"`}
  const payload = await verifyIdToken(idToken, {...context, issuer, keys}, issuerKeys)
  return {...firstMatch('github', spec.allow, scalarClaims(payload), context), ...proofOf(payload, 'github', context)}
}
