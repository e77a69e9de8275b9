/**
 * The resource kinds an admin applies with `wid create -f`, as TypeScript types. Field
 * names follow Teleport's Workload Identity resources so that their documents apply
 * verbatim. The JSON Schemas in schemas/ are the authority on what is valid; these types
 * describe what a document looks like after it passed validation.
 */

export interface Metadata {
  name: string
  description?: string
  labels?: Record<string, string>
  /** RFC 3339; tokens only. */
  expires?: string
  /** The backend revision the resource was read at; set on read, ignored on write. */
  revision?: number
}

interface ResourceBase<K extends string, V extends string, S> {
  kind: K
  version: V
  sub_kind?: string
  metadata: Metadata
  spec: S
}

/** One attribute test of a workload identity rule. Exactly one operator is set. */
export interface Condition {
  attribute: string
  eq?: {value: string}
  not_eq?: {value: string}
  in?: {values: string[]}
  not_in?: {values: string[]}
}

export interface WorkloadIdentitySpec {
  rules?: {allow?: {conditions?: Condition[]}[]}
  spiffe: {
    /** Path of the SPIFFE ID (starts with `/`); may hold `{{ attribute }}` templates. */
    id: string
    hint?: string
    x509?: {
      dns_sans?: string[]
      subject_template?: {common_name?: string; organization?: string; organizational_unit?: string}
      /** Go-style duration; default 24h, at most 336h. */
      maximum_ttl?: string
    }
    jwt?: {
      extra_claims?: Record<string, unknown>
      /** Go-style duration; default and at most 24h. */
      maximum_ttl?: string
    }
  }
}

export type WorkloadIdentity = ResourceBase<'workload_identity', 'v1', WorkloadIdentitySpec>

/** Label values: one value or several; `*` and `^regex$` are patterns. */
export type LabelValues = string | string[]

export interface RoleConditions {
  workload_identity_labels?: Record<string, LabelValues>
  rules?: {resources: string[]; verbs: string[]}[]
  spiffe?: {path: string; dns_sans?: string[]; ip_sans?: string[]}[]
}

export type Role = ResourceBase<'role', 'v6' | 'v7', {allow?: RoleConditions; deny?: RoleConditions}>

export type Bot = ResourceBase<'bot', 'v1', {roles: string[]; traits?: {name: string; values: string[]}[]}>

export interface UserStatus {
  /**
   * A random id of this incarnation of the user, carried by its client certificates: a user
   * deleted and created again gets a new one, so logins from before are refused.
   */
  login_id?: string
  /** scrypt hash of the password, once set. */
  password_hash?: string
  /** sha256 of an unused invite token, and when it expires. */
  invite_hash?: string
  invite_expires?: string
}

export type User = ResourceBase<'user', 'v2', {roles: string[]; traits?: Record<string, string[]>}> & {status?: UserStatus}

/** The methods a bot joins with: a one-time secret, or a token its platform signed (DESIGN §4.3). */
export type JoinMethod = 'token' | DelegatedJoinMethod
export type DelegatedJoinMethod = 'kubernetes' | 'github' | 'gitlab'

export interface KubernetesJoinSpec {
  type: 'in_cluster' | 'static_jwks' | 'oidc'
  static_jwks?: {jwks: string}
  oidc?: {issuer: string}
  allow: {service_account?: string}[]
}

export type GitHubAllowRule = Partial<Record<'sub' | 'repository' | 'repository_owner' | 'workflow' | 'environment' | 'actor' | 'ref' | 'ref_type', string>>

export interface GitHubJoinSpec {
  enterprise_server_host?: string
  enterprise_slug?: string
  static_jwks?: string
  allow: GitHubAllowRule[]
}

export type GitLabAllowRule = Partial<
  Record<
    | 'sub'
    | 'project_path'
    | 'namespace_path'
    | 'pipeline_source'
    | 'environment'
    | 'ref'
    | 'ref_type'
    | 'user_login'
    | 'user_id'
    | 'user_email'
    | 'project_visibility'
    | 'deployment_tier'
    | 'ci_config_ref_uri'
    | 'ci_config_sha',
    string
  >
> & {ref_protected?: boolean; environment_protected?: boolean}

export interface GitLabJoinSpec {
  /** gitlab.com unless set. */
  domain?: string
  static_jwks?: string
  allow: GitLabAllowRule[]
}

export interface TokenSpec {
  roles: string[]
  bot_name?: string
  join_method: JoinMethod
  kubernetes?: KubernetesJoinSpec
  github?: GitHubJoinSpec
  gitlab?: GitLabJoinSpec
}

/**
 * A join token. For `join_method: token` the document's metadata.name is the secret; it is
 * stored only as a hash and the stored resource is named by the hash's first 16 hex digits.
 * A delegated method's token names no secret (what proves the bot is its platform's signed
 * token) and is stored under its name.
 */
export type Token = ResourceBase<'token', 'v2', TokenSpec> & {
  status?: {secret_hash: string}
}

export type Integration = ResourceBase<'integration', 'v1', {aws_oidc: {role_arn: string}}> & {sub_kind: 'aws-oidc'}

export type Resource = WorkloadIdentity | Role | Bot | User | Token | Integration
export type Kind = Resource['kind']

export const KINDS: readonly Kind[] = ['workload_identity', 'role', 'bot', 'user', 'token', 'integration']

/** The shortest join token (a token's metadata.name in a document): no shorter text given for a token can be one. */
export const MIN_TOKEN_LENGTH = 16

/** What role rules grant verbs on: every kind, the audit log and its retention (cluster_audit_config), bots' instances and the CAs. */
export type RuleResource = Kind | 'audit' | 'bot_instance' | 'cert_authority' | 'cluster_audit_config'

export type Verb = 'list' | 'read' | 'create' | 'update' | 'delete'
