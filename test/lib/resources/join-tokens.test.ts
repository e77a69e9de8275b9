import {describe, expect, it} from 'vitest'
import {readResources} from '../../../src/lib/resources/validate.js'
import {rejection} from '../../helpers/errors.js'

const JWKS = JSON.stringify({keys: [{kty: 'EC', crv: 'P-256', x: 'x', y: 'y', kid: 'k'}]})

const token = (spec: string, name = 'ci-join') => `kind: token
version: v2
metadata:
  name: ${name}
spec:
  roles: [Bot]
  bot_name: ci
${spec}`

describe('token resources of the delegated join methods (issue 13 item 1)', () => {
  it('accepts each method as Teleport writes it', async () => {
    const documents = [
      token(`  join_method: kubernetes\n  kubernetes:\n    type: static_jwks\n    static_jwks:\n      jwks: |\n        ${JWKS}\n    allow: [{service_account: "ci:builder"}]\n`),
      token(`  join_method: kubernetes\n  kubernetes:\n    type: oidc\n    oidc: {issuer: "https://oidc.example.com/k8s"}\n    allow: [{service_account: "ci:builder"}]\n`),
      token(`  join_method: github\n  github:\n    enterprise_server_host: ghe.example.com:8443\n    allow: [{repository: acme/app, ref: refs/heads/main, ref_type: branch}]\n`),
      token(`  join_method: github\n  github:\n    enterprise_slug: acme\n    static_jwks: '${JWKS}'\n    allow: [{repository_owner: acme}, {sub: "repo:acme/app:environment:prod"}]\n`),
      token(`  join_method: gitlab\n  gitlab:\n    domain: gitlab.example.com\n    allow: [{project_path: acme/app, ref_protected: true}, {namespace_path: acme}]\n`),
    ]
    const checked = await readResources(documents.join('---\n'), 'tokens.yaml')
    expect(checked.map((c) => c.resource.spec)).toMatchObject([
      {join_method: 'kubernetes', kubernetes: {type: 'static_jwks', static_jwks: {jwks: `${JWKS}\n`}}},
      {join_method: 'kubernetes', kubernetes: {oidc: {issuer: 'https://oidc.example.com/k8s'}}},
      {join_method: 'github', github: {enterprise_server_host: 'ghe.example.com:8443'}},
      {join_method: 'github', github: {enterprise_slug: 'acme'}},
      {join_method: 'gitlab', gitlab: {allow: [{ref_protected: true}, {namespace_path: 'acme'}]}},
    ])
  })

  it.each([
    [
      'a GitHub rule that could match any workflow',
      token(`  join_method: github\n  github:\n    allow:\n      - {repository: acme/app}\n      - {ref: refs/heads/main}\n`),
      'tokens.yaml:12:9: spec.github.allow[1]: names none of repository, repository_owner or sub; such a rule would admit any GitHub Actions workflow',
    ],
    [
      'a GitLab rule that could match any job',
      token(`  join_method: gitlab\n  gitlab:\n    allow: [{ref_protected: true}]\n`),
      'tokens.yaml:10:13: spec.gitlab.allow[0]: names none of project_path, namespace_path or sub; such a rule would admit any GitLab CI job',
    ],
    [
      'a Kubernetes rule with no service account',
      token(`  join_method: kubernetes\n  kubernetes:\n    type: oidc\n    oidc: {issuer: "https://k8s.example.com"}\n    allow: [{}]\n`),
      'tokens.yaml:12:13: spec.kubernetes.allow[0]: names none of service_account; such a rule would admit any service account of the cluster',
    ],
    [
      'a service account that is not namespace:name',
      token(`  join_method: kubernetes\n  kubernetes:\n    type: oidc\n    oidc: {issuer: "https://k8s.example.com"}\n    allow: [{service_account: builder}]\n`),
      'tokens.yaml:12:31: spec.kubernetes.allow[0].service_account: must be "namespace:name" (the service account the pod runs as)',
    ],
    [
      'an empty allow list',
      token(`  join_method: github\n  github:\n    allow: []\n`),
      'tokens.yaml:10:12: spec.github.allow: must have at least 1 item(s)',
    ],
    [
      'an unknown allow field',
      token(`  join_method: github\n  github:\n    allow: [{repository: acme/app, repo: acme/app}]\n`),
      'tokens.yaml:10:36: spec.github.allow[0].repo: unknown field (allowed: sub, repository, repository_owner, workflow, environment, actor, ref, ref_type)',
    ],
    [
      'a method without its section',
      token(`  join_method: gitlab\n`),
      'tokens.yaml:6:3: spec.gitlab: missing required field (join_method gitlab is configured there)',
    ],
    [
      'another method’s section',
      token(`  join_method: gitlab\n  gitlab: {allow: [{sub: x}]}\n  github: {allow: [{sub: x}]}\n`),
      'tokens.yaml:10:11: spec.github: is only for join_method github (this token\'s is gitlab)',
    ],
    [
      'in_cluster',
      token(`  join_method: kubernetes\n  kubernetes: {type: in_cluster, allow: [{service_account: "a:b"}]}\n`),
      'tokens.yaml:9:22: spec.kubernetes.type: in_cluster is not supported (it needs the TokenReview API of the cluster wid runs in); use static_jwks or oidc',
    ],
    [
      'static_jwks that is not a JWKS',
      token(`  join_method: gitlab\n  gitlab: {static_jwks: '{"keys": []}', allow: [{sub: x}]}\n`),
      'tokens.yaml:9:25: spec.gitlab.static_jwks: is not a JWKS: it must be {"keys": [...]} with at least one key that has a "kty"',
    ],
    [
      'an issuer that is not https',
      token(`  join_method: kubernetes\n  kubernetes: {type: oidc, oidc: {issuer: "http://k8s.example.com"}, allow: [{service_account: "a:b"}]}\n`),
      'tokens.yaml:9:43: spec.kubernetes.oidc.issuer: must be an https:// URL with no query or fragment (the issuer exactly as the tokens name it)',
    ],
    [
      'a slug with a server host',
      token(`  join_method: github\n  github: {enterprise_server_host: ghe.example.com, enterprise_slug: acme, allow: [{sub: x}]}\n`),
      'tokens.yaml:9:70: spec.github.enterprise_slug: cannot be set with enterprise_server_host (a slug is for GitHub Enterprise Cloud, a host for GitHub Enterprise Server)',
    ],
    [
      'a delegated token without a bot',
      `kind: token\nversion: v2\nmetadata: {name: ci}\nspec:\n  roles: [Bot]\n  join_method: github\n  github: {allow: [{sub: x}]}\n`,
      'tokens.yaml:5:3: spec.bot_name: missing required field (the bot that joins with join_method github)',
    ],
    [
      'a delegated token named like a stored hash',
      token(`  join_method: github\n  github: {allow: [{sub: x}]}\n`, 'a'.repeat(64)),
      `tokens.yaml:4:9: metadata.name: must not be only hex digits (8 or more), the form of a one-time token's id and stored hash`,
    ],
    [
      'a delegated token named like a one-time token\'s id prefix',
      token(`  join_method: github\n  github: {allow: [{sub: x}]}\n`, '052d1475'),
      `tokens.yaml:4:9: metadata.name: must not be only hex digits (8 or more), the form of a one-time token's id and stored hash`,
    ],
  ])('refuses %s at file:line:col', async (_what, text, message) => {
    expect(await rejection(readResources(text, 'tokens.yaml'))).toMatchObject({code: 'bad_input', message})
  })
})
