import {ClusterCommand} from '../base-command.js'

export default class Status extends ClusterCommand {
  static override description = 'Shows the cluster name (trust domain), the wid version, the pins of the trusted SPIFFE CAs and of the host CA that wid login pins (sha256 of their SubjectPublicKeyInfo), the JWT-SVID key ids, the JWT issuer, and where the data lives. When logged in to a server: the proxy, your user, roles and when the login expires (--local shows the embedded cluster).'
  static override enableJsonFlag = true
  static override examples = ['<%= config.bin %> status', "<%= config.bin %> status --json | jq -r '.caPins[0]'"]
  static override summary = 'Show the cluster and its trust material.'

  async run() {
    await this.parse(Status)
    const cluster = await this.cluster()
    const login = 'profile' in cluster ? (cluster as {profile: {proxy: string; user: string; roles: string[]; expires: string}}).profile : undefined
    const {caller, ...clusterStatus} = await cluster.status()
    const status = {
      version: this.config.version,
      mode: cluster.mode,
      ...clusterStatus,
      // the roles held now, as the server sees them, rather than those of the login
      ...(login ? {login: {proxy: login.proxy, user: login.user, roles: caller?.roles ?? login.roles, expires: login.expires}} : {}),
    }
    const rows: [string, string][] = [
      ['Cluster', status.clusterName],
      ['Version', status.version],
      ['Mode', status.login ? `remote (${status.login.proxy})` : status.mode],
      ...(status.login
        ? ([
            ['User', `${status.login.user} (roles: ${status.login.roles.join(', ') || 'none'})`],
            ['Login expires', status.login.expires],
          ] as [string, string][])
        : []),
      ['Public address', status.publicAddr],
      ['JWT issuer', status.jwtIssuer],
      ...(status.hostCaPins ?? []).map((pin, i): [string, string] => [i === 0 ? 'Host CA pin' : '', pin]),
      ...status.caPins.map((pin, i): [string, string] => [i === 0 ? 'CA pin' : '', pin]),
      ...status.jwtKeyIds.map((kid, i): [string, string] => [i === 0 ? 'JWT key id' : '', kid]),
      ['Backend', `${status.backend.kind} (${status.backend.location})`],
      ...(status.dataDir ? [['Data directory', status.dataDir] as [string, string]] : []),
    ]
    const width = Math.max(...rows.map(([k]) => k.length)) + 2
    this.log(rows.map(([k, v]) => `${k ? `${k}:` : ''}`.padEnd(width) + v).join('\n'))
    return status
  }
}
