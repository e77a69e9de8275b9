/**
 * The client side of `wid svid issue`: generate the key pair here, send only the public
 * key through the Cluster interface, and publish the result as one consistent file set.
 */
import {encodePem} from '../crypto/pem.js'
import {exportPkcs8Pem, exportSpkiDer, generateKeyPair, type KeyType} from '../crypto/keys.js'
import type {Cluster} from '../cluster/cluster.js'
import {badInput} from '../errors.js'
import {checkOutputDirectory, writeFileSet} from '../output/files.js'
import {checkDnsSan, checkIpSan, checkTtl, MAX_SVID_TTL_SECONDS} from '../auth/issuance.js'
import {validatePath} from '../spiffeid/index.js'
import {checkSelector, type SvidSelector} from '../auth/workload-issuance.js'

export const SVID_FILES = {
  certificate: 'svid.pem',
  key: 'svid_key.pem',
  bundle: 'svid_bundle.pem',
  jwt: 'jwt_svid',
} as const

export interface IssueToDirectoryOptions extends SvidSelector {
  type: 'x509' | 'jwt'
  outputDir: string
  ttlSeconds?: number
  dnsSans?: string[]
  ipSans?: string[]
  audiences?: string[]
  keyType?: KeyType
  force?: boolean
}

export interface IssuedSvid {
  type: 'x509' | 'jwt'
  spiffeId: string
  workloadIdentity?: string
  /** X.509: the serial in hex; JWT: the jti. */
  serial: string
  notAfter: string
  files: string[]
}

/**
 * Refuses bad requests before anything is opened or written, with the same rules the
 * cluster applies (the cluster checks again: it cannot trust its clients).
 */
export function checkIssueOptions(options: IssueToDirectoryOptions): IssueToDirectoryOptions {
  if (options.path === undefined && options.name === undefined && options.labels === undefined) {
    throw badInput('svid: give the SPIFFE ID path to issue (e.g. wid svid issue --output DIR /svc/foo), or --name or --labels of a workload identity')
  }
  checkSelector(options)
  if (options.path !== undefined) {
    validatePath(options.path)
    if (options.path === '') throw badInput('spiffeid: path must have a leading slash')
    // By path the limit is fixed; a workload identity's own maximum is checked by the cluster.
    checkTtl(options.ttlSeconds, MAX_SVID_TTL_SECONDS)
  } else if (options.dnsSans?.length || options.ipSans?.length) {
    throw badInput('svid: SANs of a workload identity come from its spec.spiffe.x509.dns_sans; --dns-san and --ip-san apply to SPIFFE ID paths only')
  }
  if (options.outputDir.trim() === '') throw badInput('svid: --output must not be empty')
  options.dnsSans?.forEach(checkDnsSan)
  options.ipSans?.forEach(checkIpSan)
  if (options.type === 'jwt') {
    if (!options.audiences?.length) throw badInput('svid: a JWT-SVID needs at least one --audience')
    if (options.keyType !== undefined) throw badInput('svid: --key-type applies to X.509-SVIDs only (a JWT-SVID is signed by the cluster)')
    if (options.dnsSans?.length || options.ipSans?.length) throw badInput('svid: --dns-san and --ip-san apply to X.509-SVIDs only')
  } else if (options.audiences?.length) {
    throw badInput('svid: --audience applies to JWT-SVIDs only (add --type jwt)')
  }
  return options
}

function selectorOf(options: SvidSelector): SvidSelector {
  return {
    ...(options.path !== undefined ? {path: options.path} : {}),
    ...(options.name !== undefined ? {name: options.name} : {}),
    ...(options.labels !== undefined ? {labels: options.labels} : {}),
  }
}

export async function issueSvidToDirectory(cluster: Cluster, options: IssueToDirectoryOptions): Promise<IssuedSvid> {
  await checkOutputDirectory(options.outputDir)
  if (options.type === 'jwt') {
    const jwt = await cluster.issueJwtSvid({...selectorOf(options), audiences: options.audiences ?? [], ttlSeconds: options.ttlSeconds})
    const files = await writeFileSet(options.outputDir, [{name: SVID_FILES.jwt, data: jwt.token, mode: 0o600}], options)
    return {type: 'jwt', spiffeId: jwt.spiffeId, ...(jwt.workloadIdentity ? {workloadIdentity: jwt.workloadIdentity} : {}), serial: jwt.jti, notAfter: jwt.expiresAt, files}
  }
  const keys = await generateKeyPair(options.keyType ?? 'ec-p256')
  const svid = await cluster.issueX509Svid({
    ...selectorOf(options),
    publicKey: encodePem('PUBLIC KEY', await exportSpkiDer(keys.publicKey)),
    ttlSeconds: options.ttlSeconds,
    dnsSans: options.dnsSans,
    ipSans: options.ipSans,
  })
  const files = await writeFileSet(
    options.outputDir,
    [
      {name: SVID_FILES.certificate, data: svid.certificates.join(''), mode: 0o600},
      {name: SVID_FILES.key, data: await exportPkcs8Pem(keys.privateKey), mode: 0o600},
      {name: SVID_FILES.bundle, data: svid.bundle.join(''), mode: 0o600},
    ],
    options,
  )
  return {type: 'x509', spiffeId: svid.spiffeId, ...(svid.workloadIdentity ? {workloadIdentity: svid.workloadIdentity} : {}), serial: svid.serial, notAfter: svid.notAfter, files}
}
