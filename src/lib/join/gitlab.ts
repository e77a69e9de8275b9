/**
 * The gitlab join method: a GitLab CI ID token (`id_tokens` with aud = the wid cluster name)
 * from gitlab.com or a self-managed instance, checked with the instance's published keys or
 * the token resource's static JWKS.
 */
import type {GitLabJoinSpec} from '../resources/types.js'
import {firstMatch, proofOf, scalarClaims, type CheckContext, type DelegatedJoin} from './allow.js'
import {verifyIdToken, type IssuerKeys, type JwtCheck} from './jwt.js'

export const DEFAULT_GITLAB_DOMAIN = 'gitlab.com'

export async function check(idToken: string, spec: GitLabJoinSpec, context: CheckContext & Omit<JwtCheck, 'issuer' | 'keys'>, issuerKeys: IssuerKeys): Promise<DelegatedJoin> {
  const issuer = `https://${spec.domain ?? DEFAULT_GITLAB_DOMAIN}`
  const keys = spec.static_jwks === undefined ? {issuer} : {jwks: spec.static_jwks, where: `spec.gitlab.static_jwks of the token "${context.tokenName}"`}
  const payload = await verifyIdToken(idToken, {...context, issuer, keys}, issuerKeys)
  return {...firstMatch('gitlab', spec.allow, scalarClaims(payload), context), ...proofOf(payload, 'gitlab', context)}
}
