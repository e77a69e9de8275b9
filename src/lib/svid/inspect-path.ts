/**
 * `wid svid inspect FILE|DIR`: finds the SVID files, reads them and inspects them. A
 * directory is read the way `wid svid issue` writes it; a file is a certificate PEM
 * (which may also hold the key), with svid_key.pem and svid_bundle.pem beside it used
 * when present. Only regular files of bounded size are read (see output/read.ts); --bundle
 * may also be a pipe.
 */
import {promises as fs} from 'node:fs'
import {dirname, join} from 'node:path'
import {WidError} from '../errors.js'
import {MiB, readBounded} from '../output/read.js'
import {SVID_FILES} from './issue.js'
import {inspectX509Svid, type X509SvidInspection} from './inspect.js'
import {SpiffeId} from '../spiffeid/index.js'

export interface JwtSvidSummary {
  file: string
  spiffeId: string | undefined
  issuer: string | undefined
  audiences: string[]
  expiresAt: string | undefined
  secondsLeft: number | undefined
  problems: string[]
}

export interface SvidInspection {
  certificateFile?: string
  keyFile?: string
  bundleFile?: string
  x509?: X509SvidInspection
  jwt?: JwtSvidSummary
  valid: boolean
}

/** An SVID, key or JWT-SVID file is a few kilobytes; a bundle may hold many CA certificates. */
export const SVID_FILE_LIMIT = MiB
export const BUNDLE_LIMIT = 4 * MiB
/** How long --bundle may take to arrive through a pipe (`--bundle <(wid auth export --type tls-spiffe)`). */
export const BUNDLE_PIPE_TIMEOUT_MS = 10_000

async function readIfExists(path: string, options: {bundle?: boolean; pipe?: boolean} = {}): Promise<string | undefined> {
  const data = await readBounded(path, {
    prefix: 'svid',
    maxBytes: options.bundle ? BUNDLE_LIMIT : SVID_FILE_LIMIT,
    what: options.bundle ? 'a bundle' : 'an SVID file',
    ...(options.pipe ? {pipeTimeoutMs: BUNDLE_PIPE_TIMEOUT_MS} : {}),
  })
  return data?.toString('utf8')
}

async function readRequired(path: string, what: string, options: {bundle?: boolean; pipe?: boolean}): Promise<string> {
  const text = await readIfExists(path, options)
  if (text === undefined) throw new WidError('not_found', `svid: ${what} ${path} does not exist`)
  return text
}

/** Decodes a JWT-SVID's claims (the signature is not checked here: that needs the issuer's keys). */
export function summarizeJwtSvid(file: string, token: string, now: Date): JwtSvidSummary {
  const problems: string[] = []
  const parts = token.trim().split('.')
  const decode = (part: string | undefined): Record<string, unknown> => {
    try {
      const value = JSON.parse(Buffer.from(part ?? '', 'base64url').toString('utf8'))
      if (parts.length === 3 && value && typeof value === 'object' && !Array.isArray(value)) return value
    } catch {
      // reported below
    }
    throw new WidError('bad_input', `svid: ${file} is not a JWT (expected header.payload.signature)`)
  }
  const header = decode(parts[0])
  const claims = decode(parts[1])
  const alg = String(header.alg ?? '')
  if (!/^(RS|ES|PS)(256|384|512)$/.test(alg)) problems.push(`svid: JWT-SVID algorithm "${alg}" is not allowed`)
  if (header.typ !== undefined && header.typ !== 'JWT' && header.typ !== 'JOSE') problems.push(`svid: JWT-SVID typ "${String(header.typ)}" is not allowed`)
  let spiffeId: string | undefined
  try {
    spiffeId = SpiffeId.parse(String(claims.sub ?? '')).toString()
  } catch (error) {
    problems.push(`svid: JWT-SVID subject: ${(error as Error).message}`)
  }
  const audiences = Array.isArray(claims.aud) ? claims.aud.map(String) : claims.aud === undefined ? [] : [String(claims.aud)]
  if (audiences.length === 0) problems.push('svid: JWT-SVID has no audience')
  let expiresAt: string | undefined
  let secondsLeft: number | undefined
  if (typeof claims.exp === 'number' && Number.isFinite(claims.exp) && Math.abs(claims.exp) < 8.64e12) {
    expiresAt = new Date(claims.exp * 1000).toISOString()
    secondsLeft = Math.floor(claims.exp - now.getTime() / 1000)
    if (secondsLeft <= 0) problems.push(`svid: JWT-SVID expired at ${expiresAt}`)
  } else {
    problems.push(claims.exp === undefined ? 'svid: JWT-SVID has no expiry' : `svid: JWT-SVID expiry ${JSON.stringify(claims.exp)} is not a valid time`)
  }
  return {file, spiffeId, issuer: claims.iss === undefined ? undefined : String(claims.iss), audiences, expiresAt, secondsLeft, problems}
}

export interface InspectOptions {
  bundle?: string
  /** Check the SVID alone (go-spiffe's parse rules), without verifying its chain. */
  noBundle?: boolean
  now: Date
}

export async function inspectSvidPath(path: string, options: InspectOptions): Promise<SvidInspection> {
  let stat
  try {
    stat = await fs.stat(path)
  } catch {
    throw new WidError('not_found', `svid: ${path} does not exist`)
  }
  const dir = stat.isDirectory() ? path : dirname(path)
  const certificateFile = stat.isDirectory() ? join(dir, SVID_FILES.certificate) : path
  const result: SvidInspection = {valid: true}
  const certificates = await readIfExists(certificateFile)
  const jwtFile = join(dir, SVID_FILES.jwt)
  const token = stat.isDirectory() ? await readIfExists(jwtFile) : undefined
  if (certificates === undefined && token === undefined) {
    throw new WidError('not_found', `svid: no ${SVID_FILES.certificate} or ${SVID_FILES.jwt} in ${dir}`)
  }
  if (certificates !== undefined) {
    const keyFile = join(dir, SVID_FILES.key)
    const keyPem = await readIfExists(keyFile)
    const bundleFile = options.bundle ?? join(dir, SVID_FILES.bundle)
    const bundlePem = options.noBundle
      ? undefined
      : options.bundle !== undefined
        ? await readRequired(options.bundle, 'bundle', {bundle: true, pipe: true})
        : await readIfExists(bundleFile, {bundle: true})
    result.certificateFile = certificateFile
    if (keyPem !== undefined) result.keyFile = keyFile
    if (bundlePem !== undefined) result.bundleFile = bundleFile
    result.x509 = await inspectX509Svid({certificatesPem: certificates, keyPem, bundlePem, now: options.now})
    if (bundlePem === undefined && !options.noBundle) {
      result.x509.problems.push(`svid: no bundle to verify the chain against (${SVID_FILES.bundle} not found; give --bundle, or --no-bundle to check the SVID alone)`)
    }
    if (result.x509.problems.length > 0) result.valid = false
  }
  if (token !== undefined) {
    result.jwt = summarizeJwtSvid(jwtFile, token, options.now)
    if (result.jwt.problems.length > 0) result.valid = false
  }
  return result
}
