/**
 * A BotConfig written back as tbot's v2 YAML: version, the cluster, onboarding, storage and
 * the services, plus only the fields that differ from their defaults. It reads back equal.
 */
import {stringify} from 'yaml'
import {formatDuration} from '../duration.js'
import {parseArn} from '../aws/arn.js'
import {formatEndpoint} from '../workloadapi/address.js'
import {DEFAULTS, type Attestors, type BotConfig, type Destination, type RawConfig, type RawDestination, type RawSelector, type RawService, type Selector, type ServiceConfig} from './config.js'

const rawDestination = (d: Destination): RawDestination => (d.type === 'memory' ? {type: 'memory'} : {type: 'directory', path: d.path})
const rawSelector = (s: Selector): RawSelector => ('name' in s ? {name: s.name} : {labels: s.labels})
/** The value, when it is not the default. */
const unless = <T>(value: T, defaultValue: T): T | undefined => (value === defaultValue ? undefined : value)
const duration = (seconds: number | undefined) => (seconds === undefined ? undefined : formatDuration(seconds))

function rawAttestors(a: Attestors): RawService['attestors'] {
  const kubelet = a.kubernetes?.kubelet
  return {
    unix: a.unix && {binary_hash_max_size_bytes: a.unix.binaryHashMaxSizeBytes},
    kubernetes: a.kubernetes && {
      enabled: a.kubernetes.enabled,
      kubelet: kubelet && {
        secure_port: kubelet.securePort,
        read_only_port: kubelet.readOnlyPort,
        token_path: kubelet.tokenPath,
        ca_path: kubelet.caPath,
        skip_verify: kubelet.skipVerify,
        anonymous: kubelet.anonymous,
      },
    },
    docker: a.docker,
    podman: a.podman,
    systemd: a.systemd,
  }
}

function rawService(s: ServiceConfig, n: number): RawService {
  const common = {
    type: s.type,
    name: unless(s.name, `${s.type}-${n}`),
    credential_ttl: duration(s.credentialTtlSeconds),
    renewal_interval: duration(s.renewalIntervalSeconds),
  }
  switch (s.type) {
    case 'workload-identity-x509':
      return {...common, selector: rawSelector(s.selector), destination: rawDestination(s.destination), include_federated_trust_bundles: unless(s.includeFederatedTrustBundles, false)}
    case 'workload-identity-jwt':
      return {...common, selector: rawSelector(s.selector), destination: rawDestination(s.destination), audiences: s.audiences}
    case 'workload-identity-api': {
      const attestors = Object.keys(s.attestors).some((k) => s.attestors[k as keyof Attestors] !== undefined) ? rawAttestors(s.attestors) : undefined
      return {...common, listen: formatEndpoint(s.listen), selector: rawSelector(s.selector), attestors}
    }
    case 'workload-identity-aws-roles-anywhere':
      return {
        ...common,
        selector: rawSelector(s.selector),
        destination: rawDestination(s.destination),
        role_arn: s.roleArn,
        profile_arn: s.profileArn,
        trust_anchor_arn: s.trustAnchorArn,
        region: unless(s.region, parseArn(s.trustAnchorArn, 'trust_anchor_arn').region),
        session_duration: duration(unless(s.sessionDurationSeconds, DEFAULTS.sessionDurationSeconds)),
        session_renewal_interval: duration(unless(s.sessionRenewalIntervalSeconds, DEFAULTS.sessionRenewalIntervalSeconds)),
        credential_profile_name: unless(s.credentialProfileName, DEFAULTS.credentialProfileName),
        artifact_name: unless(s.artifactName, DEFAULTS.artifactName),
        overwrite_credential_file: unless(s.overwriteCredentialFile, false),
      }
    case 'spiffe-svid': {
      const {dns, ip} = s.svid.sans
      const sans = dns.length || ip.length ? {...(dns.length ? {dns} : {}), ...(ip.length ? {ip} : {})} : undefined
      return {
        ...common,
        destination: rawDestination(s.destination),
        svid: {path: s.svid.path, hint: s.svid.hint, sans},
        jwts: s.jwts.length ? s.jwts.map((j) => ({audience: j.audience, file_name: j.fileName})) : undefined,
      }
    }
  }
}

/** The configuration as tbot's YAML would hold it (a token read from a file is given as the file). */
export function toRawConfig(config: BotConfig): RawConfig {
  const ordered = [...config.services.filter((s) => s.type !== 'spiffe-svid'), ...config.services.filter((s) => s.type === 'spiffe-svid')]
  const services = ordered.map((s, i) => rawService(s, i + 1))
  const {onboarding: o} = config
  return {
    version: 'v2',
    proxy_server: config.proxyServer,
    auth_server: config.authServer,
    onboarding: {
      join_method: o.joinMethod,
      token: o.tokenFile ?? o.token,
      ca_pins: o.caPins.length ? o.caPins : undefined,
      ca_path: o.caPath,
      kubernetes: o.kubernetes && {token_path: o.kubernetes.tokenPath},
      gitlab: o.gitlab && {token_env_var_name: o.gitlab.tokenEnvVarName},
    },
    storage: rawDestination(config.storage),
    credential_ttl: duration(unless(config.credentialTtlSeconds, DEFAULTS.credentialTtlSeconds)),
    renewal_interval: duration(unless(config.renewalIntervalSeconds, DEFAULTS.renewalIntervalSeconds)),
    oneshot: unless(config.oneshot, false),
    debug: unless(config.debug, false),
    diag_addr: config.diagAddr,
    services: services.filter((s) => s.type !== 'spiffe-svid'),
    outputs: services.some((s) => s.type === 'spiffe-svid') ? services.filter((s) => s.type === 'spiffe-svid') : undefined,
  }
}

/** tbot v2 YAML that parseBotConfig reads back to an equal configuration. */
export function renderConfig(config: BotConfig): string {
  return stringify(toRawConfig(config), {lineWidth: 0})
}
