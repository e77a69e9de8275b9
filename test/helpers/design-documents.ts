/** The resource documents of DESIGN §1, verbatim, as the tests apply them. */
export const WORKLOAD_IDENTITY = `kind: workload_identity
version: v1
metadata:
  name: example-workload-identity
  labels:
    example: getting-started
spec:
  spiffe:
    id: /svc/example-service
`
export const ISSUER_ROLE = `kind: role
version: v6
metadata:
  name: example-workload-identity-issuer
spec:
  allow:
    workload_identity_labels:
      example: ["getting-started"]
    rules:
      - resources: [workload_identity]
        verbs: [list, read]
`
export const LEGACY_ROLE = `kind: role
version: v6
metadata:
  name: example-service-legacy
spec:
  allow:
    spiffe:
      - path: /svc/example-service
`
export const INTEGRATION = `kind: integration
sub_kind: aws-oidc
version: v1
metadata:
  name: my-integration
spec:
  aws_oidc:
    role_arn: "arn:aws:iam::123456789012:role/teleport-oidc-integration-role"
`

