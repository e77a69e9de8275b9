/**
 * What every command that touches cluster state talks to. LocalCluster runs the auth
 * logic in-process on the embedded store; a remote implementation sends the same calls
 * to `wid server`.
 */
import type {ClusterStatus, TrustExportType} from '../auth/auth-server.js'
import type {JwtSvidRequest, JwtSvidResponse, X509SvidRequest, X509SvidResponse} from '../auth/issuance.js'

export interface Cluster {
  readonly mode: 'local' | 'remote'
  status(): Promise<ClusterStatus>
  issueX509Svid(request: X509SvidRequest): Promise<X509SvidResponse>
  issueJwtSvid(request: JwtSvidRequest): Promise<JwtSvidResponse>
  exportTrust(type: TrustExportType): Promise<string>
  close(): Promise<void>
}
