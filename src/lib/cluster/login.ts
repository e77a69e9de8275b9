/**
 * The client side of `wid login`: find the cluster, pin the CA at the top of the chain its
 * server presents (after the user confirms the pin, or because they gave it), then log in
 * with a password or invite for a certificate on a key generated here.
 */
import {X509Certificate} from 'node:crypto'
import {connect, rootCertificates, type DetailedPeerCertificate} from 'node:tls'
import type {LoginResult} from '../auth/auth-server.js'
import {encodePem} from '../crypto/pem.js'
import {exportPkcs8Pem, exportSpkiDer, generateKeyPair, spkiPin} from '../crypto/keys.js'
import {badInput, WidError} from '../errors.js'
import {readFirstLine} from '../output/read.js'
import {saveProfile, type ClientProfile} from './profiles.js'
import {httpRequest} from '../http-client.js'
import {certifiesKey, postOnce, proxyUrl} from './api-client.js'
import {connectionReason, NotProcessed, ServerList, splitAddresses} from './failover.js'

export const DEFAULT_PROXY_PORT = 3443

/** `host`, `host:port` or `https://host:port` → `host:port`. */
export function normalizeProxy(value: string): string {
  const text = value.trim().replace(/^https:\/\//, '').replace(/\/$/, '')
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(text)
  const port = Number(match?.[2] ?? DEFAULT_PROXY_PORT)
  if (!match || port < 1 || port > 65535) throw badInput(`login: invalid --proxy "${value}" (expected HOST[:PORT], a port from 1 to 65535)`)
  return `${match[1]}:${match[2] ?? DEFAULT_PROXY_PORT}`
}

/** A comma-separated --proxy: the servers of one cluster, each as normalizeProxy makes it. */
export function parseProxies(value: string): ServerList {
  return new ServerList(splitAddresses(value, normalizeProxy))
}

function hostAndPort(proxy: string): {host: string; port: number} {
  const colon = proxy.lastIndexOf(':')
  return {host: proxy.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(proxy.slice(colon + 1))}
}

/**
 * Refuses an invite given as the value of --invite, as it once was: a command line is
 * visible to every user of the host (ps, /proc/PID/cmdline), who could redeem the invite
 * first with a password of their own. Checked before the flags are parsed, so that no
 * parser message ("unexpected argument …") repeats the value; neither does this one.
 */
export function refuseInviteValue(argv: string[]): void {
  for (const [i, arg] of argv.entries()) {
    if (arg === '--') return
    const next = argv[i + 1]
    if (arg.startsWith('--invite=') || (arg === '--invite' && next !== undefined && !next.startsWith('-'))) {
      throw badInput('login: --invite takes no value: a command line is visible to every user of this host (ps); type the invite at the prompt of --invite, or give --invite-file PATH (if the invite is then refused as not valid, someone else may have used it: tell an admin)')
    }
  }
}

/** The longest invite file read: an invite is 32 hex digits. */
const MAX_INVITE_FILE_BYTES = 4096

/**
 * The invite in the first line of `path` (trimmed), for scripts: a regular file, or a pipe
 * such as bash's `<(printf '%s\n' "$INVITE")` closed by its writer within 10 s. Not `-`:
 * with --password-stdin, standard input carries the password.
 */
export async function readInviteFile(path: string): Promise<string> {
  if (path === '-') throw badInput('login: --invite-file cannot be - (standard input carries the password); give the path of a file')
  return readFirstLine(path, {prefix: 'login', label: 'invite file', what: 'an invite file', maxBytes: MAX_INVITE_FILE_BYTES, trim: true})
}

export interface ClusterIdentity {
  /** PEM of the certificate at the top of the chain the server presents. */
  authority: string
  pin: string
  clusterName: string
  /**
   * Whether the server's certificate must also match the proxy's host name: yes unless the
   * pinned certificate is a private root (self-signed, not a public CA), which only this
   * cluster's certificates chain to.
   */
  verifyHostname: boolean
}

function isPrivateRoot(certificate: X509Certificate, pem: string): boolean {
  return certificate.issuer === certificate.subject && certificate.verify(certificate.publicKey) && !rootCertificates.includes(pem.trim())
}

/** Connection options that trust only the pinned certificate (and, for public CAs, check the host name). */
export function pinnedConnect(identity: {authority: string; verifyHostname: boolean}): {ca: string[]; allowPartialTrustChain: true; checkServerIdentity?: () => undefined} {
  return identity.verifyHostname
    ? {ca: [identity.authority], allowPartialTrustChain: true}
    : {ca: [identity.authority], allowPartialTrustChain: true, checkServerIdentity: () => undefined}
}

/**
 * Connects without trusting anything yet, to learn which CA the server's chain ends in.
 * Nothing is sent but a request for the cluster's name, so every failure lets a ServerList
 * ask the next server.
 */
export async function discoverCluster(proxy: string): Promise<ClusterIdentity> {
  const {host, port} = hostAndPort(proxy)
  const top = await new Promise<DetailedPeerCertificate>((resolve, reject) => {
    // An empty trust store: the chain stays as the server sent it, never completed from local roots.
    const socket = connect({host, port, ca: [], rejectUnauthorized: false, timeout: 10_000, servername: /^[\d.]+$|:/.test(host) ? undefined : host})
    socket.once('timeout', () => {
      socket.destroy()
      reject(new NotProcessed(`login: ${proxy} did not answer within 10s`, 'timed out'))
    })
    socket.once('error', (error) => {
      const reason = connectionReason(error)
      reject(new NotProcessed(`login: cannot reach ${proxy}: ${reason}`, reason))
    })
    socket.once('secureConnect', () => {
      let certificate = socket.getPeerCertificate(true)
      while (certificate.issuerCertificate && certificate.issuerCertificate.fingerprint256 !== certificate.fingerprint256) certificate = certificate.issuerCertificate
      socket.end()
      resolve(certificate)
    })
  })
  if (!top.raw) throw new NotProcessed(`login: ${proxy} presented no certificate`, 'presented no certificate')
  const authority = encodePem('CERTIFICATE', new Uint8Array(top.raw))
  const certificate = new X509Certificate(top.raw)
  const spki = certificate.publicKey.export({type: 'spki', format: 'der'})
  const verifyHostname = !isPrivateRoot(certificate, authority)
  try {
    const answer = await httpRequest(`${proxyUrl(proxy)}/webapi/find`, {tls: pinnedConnect({authority, verifyHostname}), timeoutMs: 10_000})
    const find = JSON.parse(answer.text) as {clusterName?: unknown}
    // Shown in the trust question: only trust-domain characters, never terminal control codes.
    const clusterName = String(find.clusterName ?? 'unknown').replace(/[^a-z0-9._-]/g, '?').slice(0, 255)
    return {authority, pin: spkiPin(new Uint8Array(spki)), clusterName, verifyHostname}
  } catch (error) {
    const reason = `not a wid server (${connectionReason(error)})`
    throw new NotProcessed(`login: ${proxy} is ${reason}`, reason)
  }
}

export interface LoginOptions {
  home: string
  /** The cluster's servers; the one whose CA was pinned answered last. */
  servers: ServerList
  user: string
  password: string
  invite?: string
  ttlSeconds?: number
  identity: ClusterIdentity
}

export async function login(options: LoginOptions): Promise<ClientProfile> {
  const keys = await generateKeyPair('ec-p256')
  const publicKey = encodePem('PUBLIC KEY', await exportSpkiDer(keys.publicKey))
  const body = {user: options.user, password: options.password, invite: options.invite, publicKey, ttlSeconds: options.ttlSeconds}
  // A login counts failed passwords and spends invites: it goes to another server only if certainly unsent (see failover.ts).
  const answer = await options.servers.call('login', (proxy) => postOnce(proxy, '/v1/login', pinnedConnect(options.identity), body, 'login'))
  const result = answer as unknown as LoginResult
  const valid =
    !!result &&
    typeof result.certificate === 'string' &&
    typeof result.notAfter === 'string' &&
    typeof result.clusterName === 'string' &&
    typeof result.user === 'string' &&
    Array.isArray(result.roles) &&
    Array.isArray(result.hostAuthorities) &&
    certifiesKey(result.certificate, publicKey)
  const {addresses, answered} = options.servers
  if (!valid) throw new WidError('unavailable', `login: ${answered} answered the login with something that is not a certificate for our key`)
  const profile: ClientProfile = {
    proxy: addresses[0]!,
    ...(addresses.length > 1 ? {proxies: [...addresses]} : {}),
    answered,
    clusterName: result.clusterName,
    user: result.user,
    roles: result.roles,
    expires: result.notAfter,
    verifyHostname: options.identity.verifyHostname,
    caPin: options.identity.pin,
    key: await exportPkcs8Pem(keys.privateKey),
    certificate: result.certificate,
    hostAuthorities: result.hostAuthorities.includes(options.identity.authority) ? result.hostAuthorities : [...result.hostAuthorities, options.identity.authority],
  }
  await saveProfile(options.home, profile)
  return profile
}
