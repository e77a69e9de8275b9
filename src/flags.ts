/** Flags defined once and reused by every command that takes them. */
import {Flags} from '@oclif/core'
import {KEY_TYPES, type KeyType} from './lib/crypto/keys.js'

export const force = Flags.boolean({char: 'f', description: 'Replace files or resources that already exist.'})

/** `--as user/NAME|bot/NAME`: rehearse what the server would let them do (local mode only; audited as the local admin). */
export const as = (what: string) =>
  Flags.string({
    description: `Rehearse access: ${what} as user/NAME or bot/NAME, with exactly the roles, rules and templates the server applies to them (local mode only; audited as you, with "as").`,
    helpValue: 'user/NAME|bot/NAME',
  })

export const keyType = (description: string, defaultValue?: KeyType) =>
  Flags.option({options: KEY_TYPES, default: defaultValue, description})()

/** A Go-style duration (8h, 90m, 1h30m); commands parse it with parseDuration so the error names the flag. */
export const duration = (description: string, defaultValue?: string) =>
  Flags.string({default: defaultValue, description, helpValue: '<duration>'})

/** `--roles a,b`: a comma-separated list of role names. */
export const roles = (description: string, required = false) => Flags.string({description, helpValue: '<role,...>', required})

export const roleChange = {
  'add-roles': Flags.string({description: 'Roles to add (comma-separated); every role must exist.', exclusive: ['set-roles'], helpValue: '<role,...>'}),
  'set-roles': Flags.string({description: 'Replace all roles with these (comma-separated); every role must exist.', exclusive: ['add-roles'], helpValue: '<role,...>'}),
}

/** The bot agent's flags, as `tbot start` names them: `wid bot start` and `wid bot configure` take the same. */
export const botFlags = {
  audience: Flags.string({description: 'Audience of the JWT-SVID to issue (repeatable): with a selector the service issues JWT-SVIDs instead of X.509-SVIDs; with --svid-path each audience adds a jwt_svid file.', multiple: true, multipleNonGreedy: true}),
  'ca-pin': Flags.string({description: 'sha256:<hex> pin of the cluster CA to trust when joining (repeatable; wid status shows it).', multiple: true, multipleNonGreedy: true}),
  'certificate-ttl': duration('How long issued credentials are valid (default: 1h).'),
  config: Flags.string({char: 'c', description: "tbot's v2 YAML configuration to read; the other flags replace its top-level fields and add a service.", helpValue: '<file>'}),
  destination: Flags.string({description: 'Directory to keep the issued SVIDs in (needs --name-selector, --label-selector or --svid-path).', helpValue: '<dir>'}),
  'diag-addr': Flags.string({description: 'HOST:PORT to serve the diagnostics endpoint on.', helpValue: '<host:port>'}),
  'join-method': Flags.option({
    description: 'How the bot joins the cluster: a one-time token, or an ID token its platform signs (kubernetes, github, gitlab) for the token resource --token names.',
    options: ['token', 'kubernetes', 'github', 'gitlab'] as const,
  })(),
  'label-selector': Flags.string({description: 'Issue from the workload identities whose labels match (k=v[,k=v]).', exclusive: ['name-selector', 'svid-path'], helpValue: '<k=v,...>'}),
  listen: Flags.string({description: 'Serve the SPIFFE Workload API here (unix:///PATH or tcp://IP:PORT) for the workload identities of --name-selector or --label-selector.', helpValue: '<address>'}),
  'name-selector': Flags.string({description: 'Issue from the workload identity of this name.', exclusive: ['label-selector', 'svid-path'], helpValue: '<name>'}),
  oneshot: Flags.boolean({description: 'Issue everything once, then exit (no renewal loop).'}),
  'proxy-server': Flags.string({description: 'Address of the cluster to join (the wid server, HOST:PORT), or several servers of one cluster, comma-separated: the agent moves to the next when one cannot be reached.', helpValue: '<host:port>[,<host:port>...]'}),
  'renewal-interval': duration('How often to renew credentials; must be below the TTL (default: 20m).'),
  storage: Flags.string({description: "Directory for the bot's own identity (default: /var/lib/wid/bot).", helpValue: '<dir>'}),
  'svid-path': Flags.string({description: 'Issue an X.509-SVID for this SPIFFE ID path into --destination (a legacy spiffe-svid output), e.g. /svc/foo.', exclusive: ['name-selector', 'label-selector'], helpValue: '<path>'}),
  token: Flags.string({description: 'Join token, or the path of a file whose first line is the token; with a delegated --join-method, the name of the token resource.', helpValue: '<token|file|name>'}),
}
