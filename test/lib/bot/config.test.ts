/**
 * The bot agent's configuration (issue 11 items 1 and 2): tbot's v2 YAML read verbatim, every
 * refusal at file:line:col, flags as a configuration, and the YAML written back.
 */
import {chmodSync, mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {configFromFlags, mergeFlags} from '../../../src/lib/bot/config-flags.js'
import {renderConfig} from '../../../src/lib/bot/config-render.js'
import {loadBotConfig, parseBotConfig, requireAddresses, serviceTiming, type BotConfig} from '../../../src/lib/bot/config.js'
import {tempDir} from '../../helpers/cli.js'
import {rejection} from '../../helpers/errors.js'

const tmp = tempDir('wid-bot-config-')
afterAll(() => tmp.cleanup())

/** The error message a configuration gets, read as `bot.yaml`. */
const refusalOf = async (yaml: string) => (await rejection(parseBotConfig(yaml, 'bot.yaml'))).message

const X509 = (path = '/opt/x509') => `  - type: workload-identity-x509\n    selector: {name: web}\n    destination: {type: directory, path: ${path}}\n`
const ARN = {
  role: 'arn:aws:iam::123456789012:role/s3-reader',
  profile: 'arn:aws:rolesanywhere:eu-west-1:123456789012:profile/6f3a9e1c-2b4d-4c8e-9a1f-3d5e7b9c0a12',
  anchor: 'arn:aws:rolesanywhere:eu-west-1:123456789012:trust-anchor/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
}

/** Renders the configuration and reads it back. */
const roundTrip = async (config: BotConfig) => parseBotConfig(renderConfig(config), join(tmp.path, 'rendered.yaml'))

describe("tbot's v2 configuration, verbatim", () => {
  it('reads the getting-started JWT service with the defaults filled in', async () => {
    // Given the configuration of DESIGN §4.1's kind, as tbot's documentation writes it
    const yaml = `version: v2
proxy_server: example.teleport.sh:443
onboarding:
  join_method: token
  token: /tmp/token
storage:
  type: directory
  path: /var/lib/teleport/bot
services:
  - type: workload-identity-jwt
    selector:
      name: example-workload-identity
    audiences: ["sts.amazonaws.com"]
    destination:
      type: directory
      path: /opt/workload-identity
`
    // When it is read (no file /tmp/token here, so the token is the value itself)
    const config = await parseBotConfig(yaml, 'tbot.yaml')
    // Then every field is typed, with tbot's defaults
    expect(config).toEqual({
      version: 'v2',
      proxyServer: 'example.teleport.sh:443',
      onboarding: {joinMethod: 'token', token: '/tmp/token', caPins: []},
      storage: {type: 'directory', path: '/var/lib/teleport/bot'},
      credentialTtlSeconds: 3600,
      renewalIntervalSeconds: 1200,
      oneshot: false,
      debug: false,
      services: [
        {
          type: 'workload-identity-jwt',
          name: 'workload-identity-jwt-1',
          selector: {name: 'example-workload-identity'},
          audiences: ['sts.amazonaws.com'],
          destination: {type: 'directory', path: '/opt/workload-identity'},
        },
      ],
    })
    expect(requireAddresses(config)).toEqual(['example.teleport.sh:443'])
    expect(serviceTiming(config, config.services[0]!)).toEqual({credentialTtlSeconds: 3600, renewalIntervalSeconds: 1200})
  })

  it('reads a legacy spiffe-svid output with SANs and JWTs, and an x509 service by labels', async () => {
    const config = await parseBotConfig(
      `version: v2
auth_server: auth.example.com:3025
onboarding:
  token: abc123
  ca_pins: ["sha256:${'AB'.repeat(32)}"]
storage:
  type: memory
credential_ttl: 1h30m
renewal_interval: 90s
oneshot: true
debug: true
diag_addr: 127.0.0.1:3001
services:
  - type: workload-identity-x509
    name: web-svid
    selector:
      labels: {env: [prod, staging], tier: 2}
    destination: {type: directory, path: /opt/web}
    include_federated_trust_bundles: true
    credential_ttl: 10s
    renewal_interval: 2s
outputs:
  - type: spiffe-svid
    destination:
      type: directory
      path: /opt/foo
    svid:
      path: /svc/foo
      hint: foo
      sans:
        dns: [foo.example.com]
        ip: [10.0.0.7]
    jwts:
      - audience: mys3
        file_name: jwt_svid
`,
      'tbot.yaml',
    )
    expect(config).toMatchObject({
      authServer: 'auth.example.com:3025',
      onboarding: {joinMethod: 'token', token: 'abc123', caPins: [`sha256:${'ab'.repeat(32)}`]},
      storage: {type: 'memory'},
      credentialTtlSeconds: 5400,
      renewalIntervalSeconds: 90,
      oneshot: true,
      debug: true,
      diagAddr: '127.0.0.1:3001',
    })
    expect(config.services).toEqual([
      {
        type: 'workload-identity-x509',
        name: 'web-svid',
        selector: {labels: {env: ['prod', 'staging'], tier: ['2']}},
        destination: {type: 'directory', path: '/opt/web'},
        includeFederatedTrustBundles: true,
        credentialTtlSeconds: 10,
        renewalIntervalSeconds: 2,
      },
      {
        type: 'spiffe-svid',
        name: 'spiffe-svid-2',
        destination: {type: 'directory', path: '/opt/foo'},
        svid: {path: '/svc/foo', hint: 'foo', sans: {dns: ['foo.example.com'], ip: ['10.0.0.7']}},
        jwts: [{audience: 'mys3', fileName: 'jwt_svid'}],
      },
    ])
    expect(serviceTiming(config, config.services[0]!)).toEqual({credentialTtlSeconds: 10, renewalIntervalSeconds: 2})
    expect(serviceTiming(config, config.services[1]!)).toEqual({credentialTtlSeconds: 5400, renewalIntervalSeconds: 90})
    expect(await roundTrip(config)).toEqual(config)
  })

  it('reads a Roles Anywhere service, the region taken from the trust anchor', async () => {
    const yaml = `version: v2
proxy_server: wid.example.org:3443
services:
  - type: workload-identity-aws-roles-anywhere
    selector: {name: s3-reader}
    destination: {type: directory, path: /opt/aws}
    role_arn: ${ARN.role}
    profile_arn: ${ARN.profile}
    trust_anchor_arn: ${ARN.anchor}
`
    const [service] = (await parseBotConfig(yaml, 'bot.yaml')).services
    expect(service).toEqual({
      type: 'workload-identity-aws-roles-anywhere',
      name: 'workload-identity-aws-roles-anywhere-1',
      selector: {name: 's3-reader'},
      destination: {type: 'directory', path: '/opt/aws'},
      roleArn: ARN.role,
      profileArn: ARN.profile,
      trustAnchorArn: ARN.anchor,
      region: 'eu-west-1',
      sessionDurationSeconds: 6 * 3600,
      sessionRenewalIntervalSeconds: 3600,
      credentialProfileName: 'default',
      artifactName: 'aws_credentials',
      overwriteCredentialFile: false,
    })
    const custom = yaml + '    session_duration: 12h\n    session_renewal_interval: 30m\n    credential_profile_name: wid\n    artifact_name: creds\n    overwrite_credential_file: true\n'
    const config = await parseBotConfig(custom, 'bot.yaml')
    expect(config.services[0]).toMatchObject({sessionDurationSeconds: 12 * 3600, sessionRenewalIntervalSeconds: 1800, credentialProfileName: 'wid', artifactName: 'creds', overwriteCredentialFile: true})
    expect(await roundTrip(config)).toEqual(config)
  })

  it('reads a Workload API service with its attestors', async () => {
    const config = await parseBotConfig(
      `version: v2
services:
  - type: workload-identity-api
    listen: unix:///run/wid/workload.sock
    selector: {name: web}
    attestors:
      unix: {binary_hash_max_size_bytes: 1048576}
      kubernetes:
        enabled: true
        kubelet: {secure_port: 10250, skip_verify: true, token_path: /var/run/secrets/token}
      docker: {enabled: true, addr: unix:///var/run/docker.sock}
      systemd: {enabled: true}
  - type: workload-identity-api
    listen: tcp://[::1]:8443
    selector: {name: web}
`,
      'bot.yaml',
    )
    expect(config.services[0]).toMatchObject({
      listen: {network: 'unix', path: '/run/wid/workload.sock'},
      attestors: {
        unix: {binaryHashMaxSizeBytes: 1048576},
        kubernetes: {enabled: true, kubelet: {securePort: 10250, skipVerify: true, tokenPath: '/var/run/secrets/token'}},
        docker: {enabled: true, addr: 'unix:///var/run/docker.sock'},
        systemd: {enabled: true},
      },
    })
    expect(config.services[1]).toMatchObject({listen: {network: 'tcp', host: '::1', port: 8443}, attestors: {}})
    expect(await roundTrip(config)).toEqual(config)
  })

  it('reads the token from a file named by onboarding.token, relative to the configuration', async () => {
    // Given a token file beside the configuration
    const dir = join(tmp.path, 'etc')
    mkdirSync(dir)
    writeFileSync(join(dir, 'bot-token'), '  4f9c2a  \nsecond line\n', {mode: 0o600})
    const file = join(dir, 'bot.yaml')
    writeFileSync(file, `version: v2\nonboarding: {token: bot-token}\nstorage: {type: directory, path: state}\nservices:\n${X509('out')}`)
    // When it is loaded
    const config = await loadBotConfig(file)
    // Then the token is the first line, trimmed, and relative paths are the file's
    expect(config.onboarding).toEqual({joinMethod: 'token', token: '4f9c2a', tokenFile: join(dir, 'bot-token'), caPins: []})
    expect(config.storage).toEqual({type: 'directory', path: join(dir, 'state')})
    expect(config.services[0]).toMatchObject({destination: {type: 'directory', path: join(dir, 'out')}})
    // And rendering keeps the file, not the secret
    expect(renderConfig(config)).toContain(`token: ${join(dir, 'bot-token')}`)
    expect(renderConfig(config)).not.toContain('4f9c2a')
    expect(await roundTrip(config)).toEqual(config)
  })

  it('defaults the storage to /var/lib/wid/bot, also when only its type is given', async () => {
    expect((await parseBotConfig(`version: v2\nservices:\n${X509()}`, 'bot.yaml')).storage).toEqual({type: 'directory', path: '/var/lib/wid/bot'})
    expect((await parseBotConfig(`version: v2\nstorage: {type: directory}\nservices:\n${X509()}`, 'bot.yaml')).storage).toEqual({type: 'directory', path: '/var/lib/wid/bot'})
  })

  it('accepts durations as Go and Teleport write them, and a renewal of a few seconds', async () => {
    const read = (ttl: string, interval: string) => parseBotConfig(`version: v2\ncredential_ttl: ${ttl}\nrenewal_interval: ${interval}\nservices:\n${X509()}`, 'bot.yaml')
    expect(await read('1h0m0s', '20m0s')).toMatchObject({credentialTtlSeconds: 3600, renewalIntervalSeconds: 1200})
    expect(await read('10s', '2s')).toMatchObject({credentialTtlSeconds: 10, renewalIntervalSeconds: 2})
    expect(await read('1h30m', '90s')).toMatchObject({credentialTtlSeconds: 5400, renewalIntervalSeconds: 90})
  })
})

describe('refusals, one line at file:line:col', () => {
  const svid = (extra: string) => `version: v2\noutputs:\n  - type: spiffe-svid\n    destination: {type: directory, path: /opt/foo}\n${extra}`
  const rolesAnywhere = (extra: string) =>
    `version: v2\nservices:\n  - type: workload-identity-aws-roles-anywhere\n    selector: {name: s3}\n    destination: {type: directory, path: /opt/aws}\n    role_arn: ${ARN.role}\n    profile_arn: ${ARN.profile}\n    trust_anchor_arn: ${ARN.anchor}\n${extra}`
  const cases: [string, string, string][] = [
    ['another version', 'version: v1\n', `bot config: bot.yaml:1:10: version "v1" is not supported; wid reads tbot's v2 configuration (version: v2)`],
    ['no version', `services:\n${X509()}`, 'bot config: bot.yaml:1:1: version: missing required field'],
    ['an unknown top-level field', `version: v2\nproxy: x:1\nservices:\n${X509()}`, 'bot config: bot.yaml:2:1: proxy: unknown field (allowed: version, proxy_server, auth_server, onboarding, storage, credential_ttl, renewal_interval, oneshot, debug, diag_addr, services, outputs)'],
    ['an unknown destination field', 'version: v2\nservices:\n  - type: workload-identity-x509\n    selector: {name: a}\n    destination: {type: directory, pth: /x}\n', 'bot config: bot.yaml:5:36: services[0].destination.pth: unknown field (allowed: type, path)'],
    ['a field of another service type', `version: v2\nservices:\n${X509()}    audiences: [x]\n`, 'bot config: bot.yaml:6:5: services[0].audiences: unknown field (allowed: type, name, selector, destination, include_federated_trust_bundles, credential_ttl, renewal_interval)'],
    ['an unknown service type', 'version: v2\nservices:\n  - type: workload-identity-ssh\n', 'bot config: bot.yaml:3:11: services[0].type: must be one of workload-identity-x509, workload-identity-jwt, workload-identity-api, workload-identity-aws-roles-anywhere'],
    ['a missing destination', 'version: v2\nservices:\n  - type: workload-identity-x509\n    selector: {name: a}\n', 'bot config: bot.yaml:3:5: services[0].destination: missing required field'],
    ['a directory destination without a path', 'version: v2\nservices:\n  - type: workload-identity-x509\n    selector: {name: a}\n    destination: {type: directory}\n', 'bot config: bot.yaml:5:18: services[0].destination.path: missing required field (type: directory needs the path of the directory)'],
    ['a memory destination with a path', 'version: v2\nservices:\n  - type: workload-identity-x509\n    selector: {name: a}\n    destination: {type: memory, path: /x}\n', 'bot config: bot.yaml:5:39: services[0].destination.path: a memory destination has no path (remove path, or use type: directory)'],
    ['no audiences', 'version: v2\nservices:\n  - type: workload-identity-jwt\n    selector: {name: a}\n    destination: {type: directory, path: /x}\n    audiences: []\n', 'bot config: bot.yaml:6:16: services[0].audiences: must have at least 1 item(s)'],
    ['a selector with name and labels', 'version: v2\nservices:\n  - type: workload-identity-x509\n    selector: {name: a, labels: {a: b}}\n    destination: {type: directory, path: /x}\n', 'bot config: bot.yaml:4:15: services[0].selector: give name or labels, not both'],
    ['an empty selector', 'version: v2\nservices:\n  - type: workload-identity-x509\n    selector: {}\n    destination: {type: directory, path: /x}\n', 'bot config: bot.yaml:4:15: services[0].selector: give the workload identity to issue: name: NAME, or labels: {KEY: [VALUE]}'],
    ['a label selector with a mapping value', 'version: v2\nservices:\n  - type: workload-identity-x509\n    selector: {labels: {env: {a: b}}}\n    destination: {type: directory, path: /x}\n', 'bot config: bot.yaml:4:30: services[0].selector.labels.env: must be a string, a number or true/false'],
    ['two destinations in one directory', `version: v2\nservices:\n${X509('/opt/x')}  - type: workload-identity-jwt\n    audiences: [x]\n    selector: {name: a}\n    destination: {type: directory, path: /opt/x/}\n`, 'bot config: bot.yaml:9:42: services[1].destination.path: services[1] ("workload-identity-jwt-2") and services[0] ("workload-identity-x509-1") both write to /opt/x; give each service its own directory'],
    ['a destination in the storage directory', `version: v2\nstorage: {type: directory, path: /opt/x}\nservices:\n${X509('/opt/x')}`, 'bot config: bot.yaml:6:42: services[0].destination.path: /opt/x is the bot\'s storage directory; give services[0] ("workload-identity-x509-1") a directory of its own'],
    ['two services of one name', `version: v2\nservices:\n${X509('/a')}    name: web\n${X509('/b')}    name: web\n`, 'bot config: bot.yaml:10:11: services[1].name: "web" is also the name of services[0]; give each service its own name'],
    ['a name that is the default of another', `version: v2\nservices:\n${X509('/a')}${X509('/b')}    name: workload-identity-x509-1\n`, 'bot config: bot.yaml:9:11: services[1].name: "workload-identity-x509-1" is also the name of services[0]; give each service its own name'],
    ['no services and no outputs', 'version: v2\nproxy_server: wid.example.org:3443\n', 'bot config: bot.yaml:1:1: there are no services and no outputs, so the agent would do nothing: add a service (e.g. type: workload-identity-x509 with a selector and a destination), or give --destination with --name-selector, --label-selector or --svid-path'],
    ['an empty file', '# nothing\n', "bot config: bot.yaml: the file is empty (expected tbot's v2 configuration, starting with version: v2)"],
    ['two documents', `version: v2\nservices:\n${X509()}---\nversion: v2\n`, 'bot config: bot.yaml:7:1: the configuration must be a single document'],
    ['proxy_server and auth_server', `version: v2\nproxy_server: a:1\nauth_server: b:2\nservices:\n${X509()}`, 'bot config: bot.yaml:3:14: auth_server: give proxy_server or auth_server, not both'],
    ['an address without a port', `version: v2\nproxy_server: wid.example.org\nservices:\n${X509()}`, 'bot config: bot.yaml:2:15: proxy_server: invalid address "wid.example.org" (expected HOST:PORT, e.g. example.teleport.sh:443)'],
    ['a list with an address without a port', `version: v2\nproxy_server: a.example.org:3443,b.example.org\nservices:\n${X509()}`, 'bot config: bot.yaml:2:15: proxy_server: invalid address "b.example.org" (expected HOST:PORT, e.g. example.teleport.sh:443)'],
    ['an unknown join method', `version: v2\nonboarding: {join_method: iam}\nservices:\n${X509()}`, 'bot config: bot.yaml:2:27: onboarding.join_method: must be one of token, kubernetes, github, gitlab'],
    ['a delegated join without a token name', `version: v2\nonboarding: {join_method: github}\nservices:\n${X509()}`, "bot config: bot.yaml:2:13: onboarding.token: join_method github needs the name of the cluster's token resource for it (wid get token lists them; the name is not a secret)"],
    ['a delegated join naming a file', `version: v2\nonboarding: {join_method: gitlab, token: ./gitlab-ci}\nservices:\n${X509()}`, "bot config: bot.yaml:2:42: onboarding.token: must start with a letter or digit and contain only letters, digits, '.', '_', '@' and '-'"],
    ['Kubernetes settings for another method', `version: v2\nonboarding:\n  join_method: github\n  token: ci\n  kubernetes: {token_path: /t}\nservices:\n${X509()}`, 'bot config: bot.yaml:5:15: onboarding.kubernetes: applies to join_method kubernetes only, and this configuration joins by github'],
    ['GitLab settings without join_method', `version: v2\nonboarding:\n  token: abc\n  gitlab: {token_env_var_name: X}\nservices:\n${X509()}`, 'bot config: bot.yaml:4:11: onboarding.gitlab: applies to join_method gitlab only, and this configuration joins by token'],
    ['a GitLab variable that is not a name', `version: v2\nonboarding:\n  join_method: gitlab\n  token: ci\n  gitlab: {token_env_var_name: "A-B"}\nservices:\n${X509()}`, 'bot config: bot.yaml:5:32: onboarding.gitlab.token_env_var_name: must be the name of an environment variable (letters, digits and "_", not starting with a digit)'],
    ['a bad CA pin', `version: v2\nonboarding: {ca_pins: ["sha1:abc"]}\nservices:\n${X509()}`, 'bot config: bot.yaml:2:24: onboarding.ca_pins[0]: invalid CA pin "sha1:abc" (expected sha256: and 64 hex digits, as wid status shows it)'],
    ['a duration in an unknown unit', `version: v2\ncredential_ttl: 1d\nservices:\n${X509()}`, 'bot config: bot.yaml:2:17: credential_ttl: must be a duration such as 24h, 90m or 1h30m'],
    ['a zero duration', `version: v2\nrenewal_interval: 0s\nservices:\n${X509()}`, 'bot config: bot.yaml:2:19: renewal_interval: invalid duration "0s" (must be greater than zero, e.g. 8h, 90m or 1h30m)'],
    ['a renewal not below the TTL', `version: v2\ncredential_ttl: 30m\nrenewal_interval: 30m\nservices:\n${X509()}`, 'bot config: bot.yaml:3:19: renewal_interval: the renewal interval (30m) must be shorter than the credential TTL (30m), so that credentials are renewed before they expire'],
    ['a TTL below the default renewal', `version: v2\ncredential_ttl: 10m\nservices:\n${X509()}`, 'bot config: bot.yaml:2:17: credential_ttl: the renewal interval (20m) must be shorter than the credential TTL (10m), so that credentials are renewed before they expire'],
    ['a service TTL below the top-level renewal', `version: v2\nservices:\n${X509()}    credential_ttl: 5m\n`, 'bot config: bot.yaml:6:21: services[0].credential_ttl: the renewal interval (20m) must be shorter than the credential TTL (5m), so that credentials are renewed before they expire'],
    ['a service renewal above the top-level TTL', `version: v2\nservices:\n${X509()}    renewal_interval: 2h\n`, 'bot config: bot.yaml:6:23: services[0].renewal_interval: the renewal interval (2h) must be shorter than the credential TTL (1h), so that credentials are renewed before they expire'],
    ['a relative unix socket', 'version: v2\nservices:\n  - type: workload-identity-api\n    listen: unix://workload.sock\n    selector: {name: a}\n', 'bot config: bot.yaml:4:13: services[0].listen: workload endpoint unix socket path is not absolute (expected unix:///ABSOLUTE/PATH or tcp://IP:PORT, e.g. unix:///run/wid/workload.sock)'],
    ['a TCP listener by host name', 'version: v2\nservices:\n  - type: workload-identity-api\n    listen: tcp://localhost:8443\n    selector: {name: a}\n', 'bot config: bot.yaml:4:13: services[0].listen: workload endpoint tcp socket URI host component must be an IP:port (expected unix:///ABSOLUTE/PATH or tcp://IP:PORT, e.g. unix:///run/wid/workload.sock)'],
    ['an unknown attestor', 'version: v2\nservices:\n  - type: workload-identity-api\n    listen: tcp://127.0.0.1:8443\n    selector: {name: a}\n    attestors: {k8s: {enabled: true}}\n', 'bot config: bot.yaml:6:17: services[0].attestors.k8s: unknown field (allowed: unix, kubernetes, docker, podman, systemd)'],
    ['a Docker attestor over TCP', 'version: v2\nservices:\n  - type: workload-identity-api\n    listen: tcp://127.0.0.1:8443\n    selector: {name: a}\n    attestors: {docker: {enabled: true, addr: "tcp://127.0.0.1:2375"}}\n', 'bot config: bot.yaml:6:47: services[0].attestors.docker.addr: invalid address "tcp://127.0.0.1:2375" (expected unix:///PATH to the docker socket)'],
    ['an SVID path without a slash', svid('    svid: {path: svc/foo}\n'), 'bot config: bot.yaml:5:18: outputs[0].svid.path: spiffeid: path must have a leading slash'],
    ['an empty SVID path', svid('    svid: {path: ""}\n'), 'bot config: bot.yaml:5:18: outputs[0].svid.path: give the SPIFFE ID path to issue, e.g. /svc/foo'],
    ['a bad DNS SAN', svid('    svid: {path: /svc/foo, sans: {dns: ["foo..example.com"]}}\n'), 'bot config: bot.yaml:5:41: outputs[0].svid.sans.dns[0]: invalid DNS name "foo..example.com" (expected a host name such as foo.example.com; IP addresses go in ip)'],
    ['a bad IP SAN', svid('    svid: {path: /svc/foo, sans: {ip: [10.0.0.300]}}\n'), 'bot config: bot.yaml:5:40: outputs[0].svid.sans.ip[0]: invalid IP address "10.0.0.300"'],
    ['a JWT file with a slash', svid('    svid: {path: /svc/foo}\n    jwts: [{audience: a, file_name: ../jwt}]\n'), 'bot config: bot.yaml:6:37: outputs[0].jwts[0].file_name: invalid file name "../jwt" (letters, digits, \'.\', \'_\' and \'-\')'],
    ['a JWT file named as the certificate', svid('    svid: {path: /svc/foo}\n    jwts: [{audience: a, file_name: svid.pem}]\n'), 'bot config: bot.yaml:6:37: outputs[0].jwts[0].file_name: svid.pem is where the X.509-SVID goes; choose another file name, e.g. jwt_svid'],
    ['two JWTs in one file', svid('    svid: {path: /svc/foo}\n    jwts: [{audience: a, file_name: j}, {audience: b, file_name: j}]\n'), 'bot config: bot.yaml:6:66: outputs[0].jwts[1].file_name: j is given twice; each JWT-SVID needs its own file'],
    ['a JWT without a file name', svid('    svid: {path: /svc/foo}\n    jwts: [{audience: a}]\n'), 'bot config: bot.yaml:6:12: outputs[0].jwts[0].file_name: missing required field'],
    ['an output of an unknown type', 'version: v2\noutputs:\n  - type: identity\n', 'bot config: bot.yaml:3:11: outputs[0].type: must be one of spiffe-svid'],
    ['a role ARN of another service', rolesAnywhere('').replace('arn:aws:iam', 'arn:aws:s3'), 'bot config: bot.yaml:6:15: services[0].role_arn: invalid ARN "arn:aws:s3::123456789012:role/s3-reader": service is "s3", expected "iam"'],
    ['a trust anchor ARN that is a profile', rolesAnywhere('').replace('trust-anchor/', 'profile/'), 'bot config: bot.yaml:8:23: services[0].trust_anchor_arn: invalid ARN "arn:aws:rolesanywhere:eu-west-1:123456789012:profile/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d": resource type is "profile", expected "trust-anchor/<name>"'],
    ['a profile in another region', rolesAnywhere('').replace(':eu-west-1:123456789012:profile', ':us-east-1:123456789012:profile'), 'bot config: bot.yaml:7:18: services[0].profile_arn: the profile is in us-east-1 but the trust anchor in eu-west-1; Roles Anywhere needs both in one region'],
    ['a profile name that is not one', rolesAnywhere('    credential_profile_name: "x]\\n[prod"\n'), 'bot config: bot.yaml:9:30: services[0].credential_profile_name: invalid profile name "x]\n[prod" (no spaces, control characters, brackets, \'#\', \';\' or \'=\')'],
    ['a session over 12h', rolesAnywhere('    session_duration: 13h\n'), 'bot config: bot.yaml:9:23: services[0].session_duration: 13h is longer than the 12h Roles Anywhere allows'],
    ['a session shorter than its renewal', rolesAnywhere('    session_duration: 30m\n'), 'bot config: bot.yaml:9:23: services[0].session_duration: the session renewal interval (1h) must be shorter than the session duration (30m)'],
    ['a bad region', rolesAnywhere('    region: europe\n'), 'bot config: bot.yaml:9:13: services[0].region: aws: invalid region "europe" (e.g. us-east-1)'],
    ['a missing ARN', 'version: v2\nservices:\n  - type: workload-identity-aws-roles-anywhere\n    selector: {name: s3}\n    destination: {type: directory, path: /opt/aws}\n', 'bot config: bot.yaml:3:5: services[0].role_arn: missing required field'],
    ['YAML that does not parse', 'version: v2\nservices: [\n', 'bot config: bot.yaml:3:1: flow sequence in block collection must be sufficiently indented and end with a ]'],
    ['a duplicate key', `version: v2\nversion: v2\nservices:\n${X509()}`, 'bot config: bot.yaml:2:1: map keys must be unique'],
  ]
  it.each(cases)('%s', async (_what, yaml, message) => {
    expect(await refusalOf(yaml)).toBe(message)
  })

  it('refuses a token file that is not a regular file or is over 4 KiB', async () => {
    const big = join(tmp.path, 'big-token')
    writeFileSync(big, 'x'.repeat(5000))
    const empty = join(tmp.path, 'empty-token')
    writeFileSync(empty, '\n')
    const yaml = (token: string) => `version: v2\nonboarding:\n  token: ${token}\nservices:\n${X509()}`
    expect(await refusalOf(yaml(tmp.path))).toBe(`bot config: bot.yaml:3:10: onboarding.token: token file: ${tmp.path} is a directory, not a regular file`)
    expect(await refusalOf(yaml(big))).toBe(`bot config: bot.yaml:3:10: onboarding.token: token file: ${big} is larger than the 4096 bytes allowed for a join token`)
    expect(await refusalOf(yaml(empty))).toBe(`bot config: bot.yaml:3:10: onboarding.token: token file: ${empty} is empty or starts with an empty line (expected the join token on its first line)`)
  })

  it('says which file cannot be read', async () => {
    const missing = join(tmp.path, 'missing.yaml')
    const error = await rejection(loadBotConfig(missing))
    expect([error.code, error.message]).toEqual(['not_found', `bot config: cannot read ${missing}: no such file`])
    const unreadable = join(tmp.path, 'unreadable.yaml')
    writeFileSync(unreadable, 'version: v2\n')
    chmodSync(unreadable, 0)
    if (process.getuid?.() !== 0) expect((await rejection(loadBotConfig(unreadable))).message).toMatch(/^bot config: cannot read .*unreadable\.yaml: /)
  })

  it('reads several servers of one cluster, comma-separated, in their order', async () => {
    const config = await parseBotConfig(`version: v2\nproxy_server: a.example.org:3443, b.example.org:3443,a.example.org:3443\nservices:\n${X509()}`, 'bot.yaml')
    expect(config.proxyServer).toBe('a.example.org:3443,b.example.org:3443')
    expect(requireAddresses(config)).toEqual(['a.example.org:3443', 'b.example.org:3443'])
  })

  it('asks for an address only when one is needed', async () => {
    const config = await parseBotConfig(`version: v2\nservices:\n${X509()}`, 'bot.yaml')
    expect(() => requireAddresses(config)).toThrow("bot config: give the cluster's address: proxy_server (or auth_server) in the configuration, or --proxy-server; or use the embedded cluster with --local")
  })
})

describe('flags as a configuration', () => {
  it('makes an x509 service of a selector and a destination, relative paths from the working directory', async () => {
    const config = await configFromFlags({'proxy-server': 'wid.example.org:3443', token: 'abc', destination: 'out', 'name-selector': 'web', 'ca-pin': [`sha256:${'0'.repeat(64)}`]})
    expect(config).toEqual({
      version: 'v2',
      proxyServer: 'wid.example.org:3443',
      onboarding: {joinMethod: 'token', token: 'abc', caPins: [`sha256:${'0'.repeat(64)}`]},
      storage: {type: 'directory', path: '/var/lib/wid/bot'},
      credentialTtlSeconds: 3600,
      renewalIntervalSeconds: 1200,
      oneshot: false,
      debug: false,
      services: [{type: 'workload-identity-x509', name: 'workload-identity-x509-1', selector: {name: 'web'}, destination: {type: 'directory', path: join(process.cwd(), 'out')}, includeFederatedTrustBundles: false}],
    })
    expect(await roundTrip(config)).toEqual(config)
  })

  it('makes a JWT service of a label selector with audiences, and takes the timing flags', async () => {
    const config = await configFromFlags({destination: '/opt/jwt', 'label-selector': 'env=prod,team=web', audience: ['sts.amazonaws.com', 'vault'], 'certificate-ttl': '10s', 'renewal-interval': '2s', oneshot: true, storage: '/var/lib/bot', 'diag-addr': '127.0.0.1:3001'})
    expect(config).toMatchObject({credentialTtlSeconds: 10, renewalIntervalSeconds: 2, oneshot: true, storage: {type: 'directory', path: '/var/lib/bot'}, diagAddr: '127.0.0.1:3001'})
    expect(config.services).toEqual([
      {type: 'workload-identity-jwt', name: 'workload-identity-jwt-1', selector: {labels: {env: ['prod'], team: ['web']}}, destination: {type: 'directory', path: '/opt/jwt'}, audiences: ['sts.amazonaws.com', 'vault']},
    ])
    expect(await roundTrip(config)).toEqual(config)
  })

  it('makes a spiffe-svid output of --svid-path, its JWTs named by audience when there are several', async () => {
    const one = await configFromFlags({destination: '/opt/foo', 'svid-path': '/svc/foo', audience: ['mys3']})
    expect(one.services).toEqual([
      {type: 'spiffe-svid', name: 'spiffe-svid-1', destination: {type: 'directory', path: '/opt/foo'}, svid: {path: '/svc/foo', sans: {dns: [], ip: []}}, jwts: [{audience: 'mys3', fileName: 'jwt_svid'}]},
    ])
    const several = await configFromFlags({destination: '/opt/foo', 'svid-path': '/svc/foo', audience: ['mys3', 'https://vault.example.com']})
    expect((several.services[0] as {jwts: unknown}).jwts).toEqual([
      {audience: 'mys3', fileName: 'jwt_svid_mys3'},
      {audience: 'https://vault.example.com', fileName: 'jwt_svid_https___vault.example.com'},
    ])
    expect(await roundTrip(several)).toEqual(several)
  })

  it('makes a workload-identity-api service of --listen with a selector', async () => {
    const config = await configFromFlags({listen: 'unix:///run/wid/workload.sock', 'label-selector': 'example=workload-api'})
    expect(config.services).toEqual([
      {type: 'workload-identity-api', name: 'workload-identity-api-1', listen: {network: 'unix', path: '/run/wid/workload.sock'}, selector: {labels: {example: ['workload-api']}}, attestors: {}},
    ])
    expect(await roundTrip(config)).toEqual(config)
  })

  it('puts the flags over a file: top-level fields replaced, the flags\' service added', async () => {
    const file = await parseBotConfig(`version: v2\nauth_server: auth.example.com:3025\nonboarding: {token: old}\ncredential_ttl: 2h\nservices:\n${X509('/opt/a')}`, 'bot.yaml')
    const merged = await mergeFlags(file, {'proxy-server': 'wid.example.org:3443', token: 'new', 'renewal-interval': '30m', destination: '/opt/b', 'name-selector': 'api'})
    expect(merged).toMatchObject({proxyServer: 'wid.example.org:3443', onboarding: {token: 'new'}, credentialTtlSeconds: 7200, renewalIntervalSeconds: 1800})
    expect(merged.authServer).toBeUndefined()
    expect(merged.services.map((s) => s.name)).toEqual(['workload-identity-x509-1', 'workload-identity-x509-2'])
    expect(await mergeFlags(file, {})).toEqual(file)
  })

  const refused: [string, Parameters<typeof configFromFlags>[0], string][] = [
    ['nothing to do', {'proxy-server': 'wid.example.org:3443'}, 'bot config: there are no services and no outputs, so the agent would do nothing: add a service (e.g. type: workload-identity-x509 with a selector and a destination), or give --destination with --name-selector, --label-selector or --svid-path'],
    ['both selectors', {destination: '/x', 'name-selector': 'a', 'label-selector': 'a=b'}, 'bot config: give --name-selector or --label-selector, not both'],
    ['--svid-path with a selector', {destination: '/x', 'svid-path': '/svc/a', 'name-selector': 'a'}, 'bot config: --svid-path issues by SPIFFE ID path and --name-selector from a workload identity; give one of them'],
    ['--svid-path without --destination', {'svid-path': '/svc/a'}, 'bot config: --svid-path needs --destination, the directory to write the SVID into'],
    ['a selector without --destination', {'label-selector': 'a=b'}, 'bot config: --label-selector needs --destination, the directory to write the SVIDs into (or --listen, to serve them on the Workload API)'],
    ['--listen alone', {listen: 'unix:///run/w.sock'}, 'bot config: --listen needs what to serve: --name-selector or --label-selector'],
    ['--listen with --destination', {listen: 'unix:///run/w.sock', 'name-selector': 'a', destination: '/x'}, 'bot config: --listen serves the Workload API; --destination and --audience write files: give one or the other'],
    ['--listen with --svid-path', {listen: 'unix:///run/w.sock', 'svid-path': '/svc/a', destination: '/x'}, 'bot config: the Workload API (--listen) serves workload identities: give --name-selector or --label-selector, not --svid-path'],
    ['a bad --listen', {listen: 'unix://run/w.sock', 'name-selector': 'a'}, 'bot config: --listen: workload endpoint unix socket path is not absolute (expected unix:///ABSOLUTE/PATH or tcp://IP:PORT, e.g. unix:///run/wid/workload.sock)'],
    ['--destination alone', {destination: '/x'}, 'bot config: --destination needs what to issue into it: --name-selector, --label-selector or --svid-path'],
    ['--audience alone', {audience: ['a']}, 'bot config: --audience needs --name-selector, --label-selector or --svid-path'],
    ['a bad label selector', {destination: '/x', 'label-selector': 'env'}, 'bot config: invalid --label-selector "env": "env" has no "=" (expected key=value[,key=value])'],
    ['a bad address', {'proxy-server': 'wid', destination: '/x', 'name-selector': 'a'}, 'bot config: --proxy-server: invalid address "wid" (expected HOST:PORT, e.g. example.teleport.sh:443)'],
    ['a bad CA pin', {'ca-pin': ['nope'], destination: '/x', 'name-selector': 'a'}, 'bot config: --ca-pin: invalid CA pin "nope" (expected sha256: and 64 hex digits, as wid status shows it)'],
    ['a bad duration', {'certificate-ttl': '1d', destination: '/x', 'name-selector': 'a'}, 'bot config: --certificate-ttl: invalid duration "1d" (expected a duration such as 8h, 90m or 1h30m)'],
    ['a renewal not below the TTL', {'certificate-ttl': '10m', 'renewal-interval': '10m', destination: '/x', 'name-selector': 'a'}, 'bot config: --renewal-interval: the renewal interval (10m) must be shorter than the credential TTL (10m), so that credentials are renewed before they expire'],
    ['a TTL below the default renewal', {'certificate-ttl': '10m', destination: '/x', 'name-selector': 'a'}, 'bot config: --certificate-ttl: the renewal interval (20m) must be shorter than the credential TTL (10m), so that credentials are renewed before they expire'],
    ['a bad SVID path', {'svid-path': 'svc/a', destination: '/x'}, 'bot config: --svid-path: spiffeid: path must have a leading slash'],
    ['the destination in the storage', {storage: '/x', destination: '/x', 'name-selector': 'a'}, 'bot config: --destination: /x is the bot\'s storage directory; give services[0] ("workload-identity-x509-1") a directory of its own'],
  ]
  it.each(refused)('refuses %s in one line', async (_what, flags, message) => {
    expect((await rejection(configFromFlags(flags))).message).toBe(message)
  })

  it('names the file\'s field when a flag makes it wrong', async () => {
    const file = await parseBotConfig(`version: v2\ncredential_ttl: 2h\nservices:\n${X509()}    renewal_interval: 50m\n`, 'bot.yaml')
    expect((await rejection(mergeFlags(file, {'certificate-ttl': '45m'}))).message).toBe(
      'bot config: services[0].renewal_interval: the renewal interval (50m) must be shorter than the credential TTL (45m), so that credentials are renewed before they expire',
    )
  })
})

describe('delegated join methods', () => {
  it('reads the token resource name as a name (never a file), and the method\'s own settings, relative to the file', async () => {
    // Given a file beside the configuration named as the token resource is
    const dir = join(tmp.path, 'delegated')
    mkdirSync(dir)
    writeFileSync(join(dir, 'k8s'), 'not read\n')
    const file = join(dir, 'bot.yaml')
    const onboarding = (method: string, extra = '') => `version: v2\nonboarding:\n  join_method: ${method}\n  token: k8s\n${extra}services:\n${X509()}`
    // When each method is read
    const k8s = await parseBotConfig(onboarding('kubernetes', '  kubernetes: {token_path: sa/token}\n'), file)
    const gitlab = await parseBotConfig(onboarding('gitlab', '  gitlab: {token_env_var_name: CI_JOB_JWT_V2}\n'), file)
    const github = await parseBotConfig(onboarding('github'), file)
    // Then the token is the name, the token path is the file's, and the variable is as given
    expect(k8s.onboarding).toEqual({joinMethod: 'kubernetes', token: 'k8s', caPins: [], kubernetes: {tokenPath: join(dir, 'sa', 'token')}})
    expect(gitlab.onboarding).toEqual({joinMethod: 'gitlab', token: 'k8s', caPins: [], gitlab: {tokenEnvVarName: 'CI_JOB_JWT_V2'}})
    expect(github.onboarding).toEqual({joinMethod: 'github', token: 'k8s', caPins: []})
    // And each reads back equal
    for (const config of [k8s, gitlab, github]) expect(await roundTrip(config)).toEqual(config)
  })

  it('takes --join-method and --token from flags, a refusal naming the flag', async () => {
    const config = await configFromFlags({'proxy-server': 'wid.example.org:3443', 'join-method': 'github', token: 'github-ci', destination: '/opt/web', 'name-selector': 'web'})
    expect(config.onboarding).toEqual({joinMethod: 'github', token: 'github-ci', caPins: []})
    expect((await rejection(configFromFlags({'join-method': 'gitlab', destination: '/opt/web', 'name-selector': 'web'}))).message).toBe(
      "bot config: --token: join_method gitlab needs the name of the cluster's token resource for it (wid get token lists them; the name is not a secret)",
    )
  })
})

describe('the YAML written back', () => {
  it('holds version, the cluster, onboarding, storage and services, and only fields that differ from their defaults', async () => {
    const config = await configFromFlags({'proxy-server': 'wid.example.org:3443', token: 'abc', destination: '/opt/web', 'name-selector': 'web'})
    expect(renderConfig(config)).toBe(`version: v2
proxy_server: wid.example.org:3443
onboarding:
  join_method: token
  token: abc
storage:
  type: directory
  path: /var/lib/wid/bot
services:
  - type: workload-identity-x509
    selector:
      name: web
    destination:
      type: directory
      path: /opt/web
`)
  })
})
