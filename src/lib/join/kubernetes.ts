/**
 * The kubernetes join method: a service account token that the cluster projected into a pod
 * (audience = the wid cluster name), checked with the Kubernetes cluster's JWKS or its OIDC
 * issuer. It must be bound to a pod; the rule names the service account as "namespace:name".
 */
import type {KubernetesJoinSpec} from '../resources/types.js'
import {firstMatch, issuedAtOf, type CheckContext, type DelegatedJoin} from './allow.js'
import {verifyIdToken, type IssuerKeys, type JwtCheck} from './jwt.js'
import {JoinRefused} from './refused.js'

const SUBJECT = /^system:serviceaccount:([^:]+):([^:]+)$/

interface KubernetesClaims {
  sub?: unknown
  iat?: unknown
  'kubernetes.io'?: {namespace?: unknown; serviceaccount?: {name?: unknown}; pod?: {name?: unknown}}
}

const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined)

export async function check(
  idToken: string,
  spec: KubernetesJoinSpec,
  context: CheckContext & Omit<JwtCheck, 'issuer' | 'keys'>,
  issuerKeys: IssuerKeys,
): Promise<DelegatedJoin> {
  const keys = spec.type === 'oidc' ? {issuer: spec.oidc!.issuer} : {jwks: spec.static_jwks!.jwks, where: `spec.kubernetes.static_jwks of the token "${context.tokenName}"`}
  const payload = (await verifyIdToken(idToken, {...context, keys, ...(spec.type === 'oidc' ? {issuer: spec.oidc!.issuer} : {})}, issuerKeys)) as KubernetesClaims
  const claims = payload['kubernetes.io']
  const subject = SUBJECT.exec(text(payload.sub) ?? '')
  const namespace = subject?.[1] ?? text(claims?.namespace)
  const name = subject?.[2] ?? text(claims?.serviceaccount?.name)
  const pod = text(claims?.pod?.name)
  if (namespace === undefined || name === undefined) throw new JoinRefused('join: the ID token names no service account (sub system:serviceaccount:<namespace>:<name>); use the projected service account token')
  if (pod === undefined) {
    throw new JoinRefused('join: the ID token is not bound to a pod (no kubernetes.io.pod.name); use a projected service account token mounted in the pod', {
      method: 'kubernetes',
      token: context.tokenName,
      claims: {service_account: `${namespace}:${name}`},
    })
  }
  const matched = firstMatch('kubernetes', spec.allow, {service_account: `${namespace}:${name}`}, context)
  // The service account, not the pod: a pod's replacement renews the instance its predecessor joined.
  return {...matched, attributes: {'service_account.namespace': namespace, 'service_account.name': name, 'pod.name': pod}, subject: `system:serviceaccount:${namespace}:${name}`, issuedAt: issuedAtOf(payload)}
}
