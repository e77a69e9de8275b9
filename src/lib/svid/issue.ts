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

export const SVID_FILES = {
  certificate: 'svid.pem',
  key: 'svid_key.pem',
  bundle: 'svid_bundle.pem',
  jwt: 'jwt_svid',
} as const

export interface IssueToDirectoryOptions {
  path?: string
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
  /** X.509: the serial in hex; JWT: the jti. */
  serial: string
  notAfter: string
  files: string[]
}

export type CheckedIssueOptions = IssueToDirectoryOptions & {path: string}

/**
 * Refuses bad requests before anything is opened or written, with the same rules the
 * cluster applies (the cluster checks again: it cannot trust its clients).
 */
export function checkIssueOptions(options: IssueToDirectoryOptions): CheckedIssueOptions {
  if (options.path === undefined) throw badInput('svid: give the SPIFFE ID path to issue, e.g. wid svid issue --output DIR /svc/foo')
  validatePath(options.path)
  if (options.path === '') throw badInput('spiffeid: path must have a leading slash')
  checkTtl(options.ttlSeconds, MAX_SVID_TTL_SECONDS)
  options.dnsSans?.forEach(checkDnsSan)
  options.ipSans?.forEach(checkIpSan)
  if (options.type === 'jwt') {
    if (!options.audiences?.length) throw badInput('svid: a JWT-SVID needs at least one --audience')
    if (options.dnsSans?.length || options.ipSans?.length) throw badInput('svid: --dns-san and --ip-san apply to X.509-SVIDs only')
  } else if (options.audiences?.length) {
    throw badInput('svid: --audience applies to JWT-SVIDs only (add --type jwt)')
  }
  return options as CheckedIssueOptions
}

export async function issueSvidToDirectory(cluster: Cluster, options: CheckedIssueOptions): Promise<IssuedSvid> {
  await checkOutputDirectory(options.outputDir)
  if (options.type === 'jwt') {
    const jwt = await cluster.issueJwtSvid({path: options.path, audiences: options.audiences ?? [], ttlSeconds: options.ttlSeconds})
    const files = await writeFileSet(options.outputDir, [{name: SVID_FILES.jwt, data: jwt.token, mode: 0o600}], options)
    return {type: 'jwt', spiffeId: jwt.spiffeId, serial: jwt.jti, notAfter: jwt.expiresAt, files}
  }
  const keys = await generateKeyPair(options.keyType ?? 'ec-p256')
  const svid = await cluster.issueX509Svid({
    path: options.path,
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
  return {type: 'x509', spiffeId: svid.spiffeId, serial: svid.serial, notAfter: svid.notAfter, files}
}
