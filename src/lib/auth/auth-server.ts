/**
 * The cluster's brain: every rule about who gets what, over the services, with no I/O of
 * its own. LocalCluster calls it in-process as the local admin; the server (later) calls
 * the same methods with an authenticated caller.
 */
import type {Backend} from '../backend/backend.js'
import {buildJwks} from '../bundle/jwks.js'
import {buildSpiffeBundle} from '../bundle/spiffe-bundle.js'
import {spkiPin} from '../crypto/keys.js'
import {readCertificateFields} from '../crypto/certificate.js'
import {WidError} from '../errors.js'
import {getAuthority, getAuthorityItem, parseAuthority, trustedKeys, type AuthorityType, type CertAuthority} from '../services/authorities.js'
import {getClusterConfig, type ClusterConfig} from '../services/cluster-config.js'
import {TrustDomain} from '../spiffeid/index.js'
import {certificateDer, jwtSigner, x509Signer} from './authorities.js'
import {
  issueJwt,
  issueX509,
  MAX_SVID_TTL_SECONDS,
  type JwtSvidRequest,
  type JwtSvidResponse,
  type X509SvidRequest,
  type X509SvidResponse,
} from './issuance.js'

/** Who is asking. The local admin may do anything; other kinds arrive with access control. */
export interface Caller {
  kind: 'admin'
  name: string
}

export const TRUST_EXPORT_TYPES = ['tls-spiffe', 'jwks', 'spiffe-bundle'] as const
export type TrustExportType = (typeof TRUST_EXPORT_TYPES)[number]

export interface ClusterStatus {
  clusterName: string
  publicAddr: string
  jwtIssuer: string
  /** `sha256:<hex>` of each trusted X.509 CA's SubjectPublicKeyInfo. */
  caPins: string[]
  jwtKeyIds: string[]
  backend: {kind: string; location: string}
  /** Where the cluster's state lives, when the caller can see it (local mode). */
  dataDir?: string
}

export class AuthServer {
  private readonly backend: Backend
  private readonly config: ClusterConfig
  private readonly trustDomain: TrustDomain
  private readonly now: () => Date
  private readonly x509Signer = new AuthorityCache('spiffe', (authority) => ({
    signer: x509Signer(authority),
    bundle: trustedKeys(authority).map((k) => k.certificate!),
  }))
  private readonly jwtSigner = new AuthorityCache('jwt', jwtSigner)

  private constructor(backend: Backend, config: ClusterConfig, now: () => Date) {
    this.backend = backend
    this.config = config
    this.trustDomain = TrustDomain.parse(config.clusterName)
    this.now = now
  }

  static async open(backend: Backend, now: () => Date = () => new Date()): Promise<AuthServer> {
    const config = await getClusterConfig(backend)
    if (!config) throw new WidError('state', 'auth: the cluster is not initialised (run wid init)')
    return new AuthServer(backend, config, now)
  }

  get jwtIssuer(): string {
    return `${this.config.publicAddr}/workload-identity`
  }

  async status(): Promise<ClusterStatus> {
    const spiffe = await getAuthority(this.backend, 'spiffe')
    const jwt = await getAuthority(this.backend, 'jwt')
    return {
      clusterName: this.config.clusterName,
      publicAddr: this.config.publicAddr,
      jwtIssuer: this.jwtIssuer,
      caPins: trustedKeys(spiffe.authority).map((k) => spkiPin(readCertificateFields(certificateDer(k)).subjectPublicKeyInfo)),
      jwtKeyIds: trustedKeys(jwt.authority).map((k) => k.kid ?? ''),
      backend: {kind: this.backend.kind, location: this.backend.location},
    }
  }

  async issueX509Svid(_caller: Caller, request: X509SvidRequest): Promise<X509SvidResponse> {
    const {signer, bundle} = await this.x509Signer.get(this.backend)
    return issueX509({trustDomain: this.trustDomain, signer, bundle, now: this.now()}, request, MAX_SVID_TTL_SECONDS)
  }

  async issueJwtSvid(_caller: Caller, request: JwtSvidRequest): Promise<JwtSvidResponse> {
    const signer = await this.jwtSigner.get(this.backend)
    return issueJwt({trustDomain: this.trustDomain, issuer: this.jwtIssuer, signer, now: this.now()}, request, MAX_SVID_TTL_SECONDS)
  }

  /** Public trust material only: CA certificates and public keys, never a private key. */
  async exportTrust(type: TrustExportType): Promise<string> {
    if (type === 'tls-spiffe') {
      const {authority} = await getAuthority(this.backend, 'spiffe')
      return trustedKeys(authority)
        .map((k) => k.certificate!)
        .join('')
    }
    if (type === 'jwks') {
      const {authority} = await getAuthority(this.backend, 'jwt')
      return JSON.stringify(buildJwks(trustedKeys(authority)), null, 2) + '\n'
    }
    const spiffe = await getAuthority(this.backend, 'spiffe')
    const jwt = await getAuthority(this.backend, 'jwt')
    const bundle = buildSpiffeBundle(
      trustedKeys(spiffe.authority).map(certificateDer),
      trustedKeys(jwt.authority),
      Math.max(spiffe.revision, jwt.revision),
    )
    return JSON.stringify(bundle, null, 2) + '\n'
  }
}

/** A value derived from a stored authority, rebuilt only when the authority's revision changes. */
class AuthorityCache<T> {
  private readonly type: AuthorityType
  private readonly build: (authority: CertAuthority) => T
  private entry?: {revision: number; value: T}

  constructor(type: AuthorityType, build: (authority: CertAuthority) => T) {
    this.type = type
    this.build = build
  }

  async get(backend: Backend): Promise<T> {
    const item = await getAuthorityItem(backend, this.type)
    if (this.entry?.revision !== item.revision) this.entry = {revision: item.revision, value: this.build(parseAuthority(item))}
    return this.entry.value
  }
}
