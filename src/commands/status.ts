import {ClusterCommand} from '../base-command.js'
import type {RotationStatus} from '../lib/auth/rotation.js'
import type {RemoteCluster} from '../lib/cluster/remote.js'

function rotationLine(r: RotationStatus): string {
  const policy = r.automatic
  if (r.phase === 'standby' && policy) return `${r.type} CA rotated automatically, each key living ${policy.caTtl} (next key prepared at ${policy.prepares}, signs from ${policy.activates}; signing ${r.signing})`
  const next = r.schedule && Object.entries(r.schedule).find(([, at]) => Date.parse(at) > Date.now())
  const also = policy && r.mode !== 'automatic' ? `; then automatically, each key living ${policy.caTtl}` : ''
  return `${r.type} CA in phase ${r.phase} (${r.mode ?? 'manual'}${next ? `, ${next[0]} at ${next[1]}` : ''}${also}; signing ${r.signing})`
}

/**
 * A trusted key's row: during a rotation of its CA, which key signs and which one the
 * rotation brings (the other is the one it replaces), so both pins can be checked.
 */
function keyRows(label: string, keys: string[], rotation: RotationStatus | undefined): [string, string][] {
  const rotating = rotation && rotation.phase !== 'standby' && rotation.next !== undefined
  return keys.map((key, i): [string, string] => {
    const roles = rotating ? [...(key === rotation.signing ? ['signs'] : []), key === rotation.next ? 'new' : 'old'] : []
    return [i === 0 ? label : '', roles.length > 0 ? `${key} (${roles.join(', ')})` : key]
  })
}

export default class Status extends ClusterCommand {
  static override description = 'Shows the cluster name (trust domain), the wid version, the pins of the trusted SPIFFE CAs and of the host CA that wid login pins (sha256 of their SubjectPublicKeyInfo), the JWT-SVID key ids, each CA rotation under way (its phase and the key that signs; during a rotation each pin or key id says whether it signs and whether it is the new or the old one; --json lists them all) and each CA rotated automatically (its ca_ttl and when its next key is prepared), the JWT issuer, and where the data lives. When logged in to a server: the server that answered (and every server of the login, when it lists several), your user, roles and when the login expires (--local shows the embedded cluster).'
  static override enableJsonFlag = true
  static override examples = ['<%= config.bin %> status', "<%= config.bin %> status --json | jq -r '.caPins[0]'"]
  static override summary = 'Show the cluster and its trust material.'

  async run() {
    await this.parse(Status)
    const cluster = await this.cluster()
    const remote = cluster.mode === 'remote' ? (cluster as RemoteCluster) : undefined
    const {caller, ...clusterStatus} = await cluster.status()
    const status = {
      version: this.config.version,
      mode: cluster.mode,
      ...clusterStatus,
      // the server that answered the call just made; the roles held now, as the server sees them, rather than those of the login
      ...(remote ? {login: {proxy: remote.profile.proxy, servers: [...remote.servers.addresses], answered: remote.servers.answered, user: remote.profile.user, roles: caller?.roles ?? remote.profile.roles, expires: remote.profile.expires}} : {}),
    }
    const rotation = (type: string) => status.rotations?.find((r) => r.type === type)
    const rows: [string, string][] = [
      ['Cluster', status.clusterName],
      ['Version', status.version],
      ['Mode', status.login ? `remote (${status.login.answered})` : status.mode],
      ...(status.login
        ? ([
            ...(status.login.servers.length > 1 ? [['Servers', status.login.servers.join(', ')]] : []),
            ['User', `${status.login.user} (roles: ${status.login.roles.join(', ') || 'none'})`],
            ['Login expires', status.login.expires],
          ] as [string, string][])
        : []),
      ['Public address', status.publicAddr],
      ['JWT issuer', status.jwtIssuer],
      ...keyRows('Host CA pin', status.hostCaPins ?? [], rotation('host')),
      ...keyRows('CA pin', status.caPins, rotation('spiffe')),
      ...keyRows('JWT key id', status.jwtKeyIds, rotation('jwt')),
      ...(status.rotations ?? [])
        .filter((r) => r.phase !== 'standby' || r.automatic)
        .map((r, i, all): [string, string] => [i === 0 ? (all.length > 1 ? 'Rotations' : 'Rotation') : '', rotationLine(r)]),
      ['Backend', `${status.backend.kind} (${status.backend.location})`],
      ...(status.dataDir ? [['Data directory', status.dataDir] as [string, string]] : []),
    ]
    const width = Math.max(...rows.map(([k]) => k.length)) + 2
    this.log(rows.map(([k, v]) => `${k ? `${k}:` : ''}`.padEnd(width) + v).join('\n'))
    return status
  }
}
