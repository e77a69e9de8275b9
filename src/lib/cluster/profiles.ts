/**
 * Client identities for remote mode, one per proxy in `$WID_HOME/profiles/<proxy>/`:
 * the private key (0600, generated here and never sent), the client certificate, the
 * pinned host CA, and what the login said. A login to several servers of one cluster is
 * kept under the first address and lists them all; `last-server` names the one that
 * answered last, which the next command tries first. `$WID_HOME/current-profile` names the one
 * commands use. `profiles/last-login.json` (proxy and user, no secret) outlives `wid logout`:
 * a WID_HOME that has been logged in to a server never gets a local cluster implicitly.
 */
import {createPrivateKey, randomBytes, X509Certificate} from 'node:crypto'
import {existsSync, lstatSync, promises as fs, type Stats} from 'node:fs'
import {join} from 'node:path'
import {WidError} from '../errors.js'
import {ensureDirectory, writeFileAtomic} from '../output/files.js'
import {fileKind} from '../output/paths.js'
import {checkPrivateDirectory} from '../output/private-dir.js'
import {ServerList} from './failover.js'

export interface ProfileInfo {
  /** The first address given at login, which names the profile. */
  proxy: string
  /** Every server's address, `proxy` first, for a login to several (see failover.ts). */
  proxies?: string[]
  clusterName: string
  user: string
  roles: string[]
  /** When the client certificate expires. */
  expires: string
  /** Whether the server must also match the proxy's host name (a public-CA chain was pinned). */
  verifyHostname: boolean
  /** The pin trusted at login (of the top of the chain the server presents); older profiles lack it. */
  caPin?: string
}

export interface ClientProfile extends ProfileInfo {
  key: string
  certificate: string
  hostAuthorities: string[]
  /** The server that answered last (`last-server`), if kept. */
  answered?: string
}

const CURRENT = 'current-profile'
const PROFILES = 'profiles'
const LAST_LOGIN = 'last-login.json'
const LAST_SERVER = 'last-server'
const PROXY = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/

/** profiles/<host_port>: only ever a name made from a well-formed HOST:PORT, never `.` or `..`. */
function profileDir(home: string, proxy: string): string {
  if (!PROXY.test(proxy) || /^\.+:/.test(proxy)) throw new WidError('state', `login: ${join(home, CURRENT)} names "${proxy}", which is not HOST:PORT; run wid login again`)
  return join(home, PROFILES, proxy.replace(/[^A-Za-z0-9.-]/g, '_'))
}

/** Writes the profile into a fresh directory and swaps it in, so a failure leaves no half profile. */
export async function saveProfile(home: string, profile: ClientProfile): Promise<string> {
  const dir = profileDir(home, profile.proxy)
  const staging = `${dir}.${randomBytes(4).toString('hex')}.tmp`
  const info: ProfileInfo = {
    proxy: profile.proxy,
    ...(profile.proxies ? {proxies: profile.proxies} : {}),
    clusterName: profile.clusterName,
    user: profile.user,
    roles: profile.roles,
    expires: profile.expires,
    verifyHostname: profile.verifyHostname,
    ...(profile.caPin ? {caPin: profile.caPin} : {}),
  }
  await ensureDirectory(staging)
  try {
    await writeFileAtomic(join(staging, 'key.pem'), profile.key, 0o600)
    await writeFileAtomic(join(staging, 'cert.pem'), profile.certificate, 0o600)
    await writeFileAtomic(join(staging, 'host-ca.pem'), profile.hostAuthorities.join(''), 0o600)
    await writeFileAtomic(join(staging, 'profile.json'), JSON.stringify(info, null, 2) + '\n', 0o600)
    if (profile.answered !== undefined) await writeFileAtomic(join(staging, LAST_SERVER), profile.answered + '\n', 0o600)
    await writeFileAtomic(join(home, CURRENT), profile.proxy + '\n', 0o600, {force: true})
    await fs.rm(dir, {recursive: true, force: true})
    await fs.rename(staging, dir)
    await recordLogin(home, {proxy: profile.proxy, ...(profile.proxies ? {proxies: profile.proxies} : {}), user: profile.user})
  } finally {
    await fs.rm(staging, {recursive: true, force: true})
  }
  return dir
}

const PROFILE_FILES = ['profile.json', 'key.pem', 'cert.pem', 'host-ca.pem', LAST_SERVER] as const

/**
 * A login kept where someone else can change it could send us to their server (a planted
 * current-profile, host-ca.pem or pin) or hand them our key: WID_HOME, profiles/ and the
 * profile's own directory must be private (see private-dir.ts, each checked as the directory
 * itself, so a sticky one will not do), no file in it writable by group or others, and, as
 * ssh refuses an unprotected private key, key.pem open to nobody but us.
 */
function checkProfilePrivate(home: string, dir: string): void {
  for (const path of [home, join(home, PROFILES), dir]) checkPrivateDirectory(path, {prefix: 'login', ...(path === home ? {label: 'WID_HOME'} : {})})
  const uid = process.geteuid?.()
  for (const name of PROFILE_FILES) {
    const path = join(dir, name)
    let stat: Stats
    try {
      stat = lstatSync(path)
    } catch {
      // Missing: the profile is damaged, which reading it reports.
      continue
    }
    if (!stat.isFile()) throw new WidError('state', `login: ${path} is ${fileKind(stat)}, not a regular file; log in again`)
    const mode = (stat.mode & 0o7777).toString(8).padStart(4, '0')
    if (uid !== undefined && stat.uid !== uid && stat.uid !== 0) throw new WidError('bad_input', `login: ${path} is owned by another user (uid ${stat.uid}); log in again`)
    if (name === 'key.pem' && (stat.mode & 0o077) !== 0) {
      throw new WidError('bad_input', `login: the private key ${path} is readable or writable by group or others (mode ${mode}); chmod 600 ${path}, or log in again`)
    }
    if ((stat.mode & 0o022) !== 0) throw new WidError('bad_input', `login: ${path} is writable by group or others (mode ${mode}); chmod go-w ${path}, or log in again`)
  }
}

function checkProfile(info: ProfileInfo, key: string, certificate: string, authorities: string[]): void {
  if (typeof info.proxy !== 'string' || typeof info.user !== 'string' || typeof info.expires !== 'string' || !Array.isArray(info.roles) || typeof info.verifyHostname !== 'boolean') {
    throw new Error('profile.json')
  }
  if (!validProxies(info.proxy, info.proxies)) throw new Error('profile.json')
  const cert = new X509Certificate(certificate)
  if (!cert.checkPrivateKey(createPrivateKey(key))) throw new Error('key')
  if (authorities.length === 0) throw new Error('host-ca.pem')
  authorities.forEach((pem) => new X509Certificate(pem))
}

/** The profile commands should use, if someone logged in. */
export async function currentProfile(home: string): Promise<ClientProfile | undefined> {
  let proxy: string
  try {
    proxy = (await fs.readFile(join(home, CURRENT), 'utf8')).trim()
  } catch {
    return undefined
  }
  checkPrivateDirectory(home, {prefix: 'login', label: 'WID_HOME'})
  const dir = profileDir(home, proxy)
  checkProfilePrivate(home, dir)
  try {
    const info = JSON.parse(await fs.readFile(join(dir, 'profile.json'), 'utf8')) as ProfileInfo
    const [key, certificate, hostCa] = await Promise.all(['key.pem', 'cert.pem', 'host-ca.pem'].map((f) => fs.readFile(join(dir, f), 'utf8')))
    const hostAuthorities = hostCa!.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? []
    checkProfile(info, key!, certificate!, hostAuthorities)
    // Only a preference among the listed servers: a file that names another is ignored.
    const answered = await fs.readFile(join(dir, LAST_SERVER), 'utf8').then(
      (text) => text.trim(),
      () => undefined,
    )
    return {...info, key: key!, certificate: certificate!, hostAuthorities, ...(answered !== undefined ? {answered} : {})}
  } catch {
    throw new WidError('state', `login: the profile for ${proxy} in ${dir} is damaged; run wid login --proxy ${proxy} again`)
  }
}

/** The profile's servers, from the one that answered last; another one answering is remembered for the next command. */
export function profileServers(home: string, profile: ClientProfile): ServerList {
  const dir = profileDir(home, profile.proxy)
  return new ServerList(profile.proxies ?? [profile.proxy], profile.answered, async (address) => {
    // Never a profile directory of its own: a logout meanwhile leaves nothing behind.
    if (existsSync(join(dir, 'profile.json'))) await writeFileAtomic(join(dir, LAST_SERVER), address + '\n', 0o600, {force: true})
  })
}

/**
 * The CA pin trusted at the last login to `proxy`, if a profile for it is kept: a later
 * login needs neither --ca-pin nor the question, and refuses a server that presents another CA.
 */
export async function rememberedPin(home: string, proxy: string): Promise<string | undefined> {
  const dir = profileDir(home, proxy)
  if (!existsSync(dir)) return undefined
  // A pin that someone else could have planted is no pin: refused, never trusted.
  checkProfilePrivate(home, dir)
  try {
    const {caPin} = JSON.parse(await fs.readFile(join(dir, 'profile.json'), 'utf8')) as ProfileInfo
    return typeof caPin === 'string' && /^sha256:[0-9a-f]{64}$/i.test(caPin) ? caPin.toLowerCase() : undefined
  } catch {
    return undefined
  }
}

/** Forgets the current profile (and its key), keeping the record of the login; returns the proxy it was for. */
export async function removeCurrentProfile(home: string): Promise<string | undefined> {
  const proxy = await fs.readFile(join(home, CURRENT), 'utf8').then(
    (p) => p.trim(),
    () => undefined,
  )
  if (proxy === undefined) return undefined
  // A current-profile that does not name a HOST:PORT is removed on its own; nothing else is touched.
  const dir = PROXY.test(proxy) && !/^\.+:/.test(proxy) ? profileDir(home, proxy) : undefined
  if (dir) {
    // A login made before last-login.json existed is recorded now.
    const {user, proxies} = await fs.readFile(join(dir, 'profile.json'), 'utf8').then(
      (text) => JSON.parse(text) as Partial<ProfileInfo>,
      () => ({}) as Partial<ProfileInfo>,
    )
    await recordLogin(home, {proxy, ...(validProxies(proxy, proxies) && proxies ? {proxies} : {}), ...(typeof user === 'string' ? {user} : {})})
    await fs.rm(dir, {recursive: true, force: true})
  }
  await fs.rm(join(home, CURRENT), {force: true})
  return proxy
}

export interface LoginRecord {
  proxy: string
  /** Every server of a login to several, `proxy` first. */
  proxies?: string[]
  user?: string
}

/** Whether `proxies` is absent, or a list of HOST:PORTs that starts with `proxy`. */
function validProxies(proxy: string, proxies: unknown): boolean {
  return proxies === undefined || (Array.isArray(proxies) && proxies[0] === proxy && proxies.every((p) => typeof p === 'string' && PROXY.test(p)))
}

async function recordLogin(home: string, record: LoginRecord): Promise<void> {
  await writeFileAtomic(join(home, PROFILES, LAST_LOGIN), JSON.stringify(record) + '\n', 0o600, {force: true})
}

/**
 * Whether `home` has been logged in to a server: `current` names the proxy of the login in
 * force, `last` what the last login recorded (absent for one made before it was recorded).
 * Undefined for a WID_HOME that never was.
 */
export async function serverLogin(home: string): Promise<{current?: string; last?: LoginRecord} | undefined> {
  const current = await fs.readFile(join(home, CURRENT), 'utf8').then(
    (text) => text.trim(),
    () => undefined,
  )
  const profiles = await fs.stat(join(home, PROFILES)).then(
    (stat) => stat.isDirectory(),
    () => false,
  )
  if (current === undefined && !profiles) return undefined
  const last = await fs.readFile(join(home, PROFILES, LAST_LOGIN), 'utf8').then(
    (text) => JSON.parse(text) as LoginRecord,
    () => undefined,
  )
  const valid = typeof last?.proxy === 'string' && PROXY.test(last.proxy) && validProxies(last.proxy, last.proxies) && (last.user === undefined || (typeof last.user === 'string' && /^\S+$/.test(last.user)))
  return {...(current !== undefined ? {current} : {}), ...(valid ? {last} : {})}
}
