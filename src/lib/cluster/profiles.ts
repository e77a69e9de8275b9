/**
 * Client identities for remote mode, one per proxy in `$WID_HOME/profiles/<proxy>/`:
 * the private key (0600, generated here and never sent), the client certificate, the
 * pinned host CA, and what the login said. `$WID_HOME/current-profile` names the one
 * commands use.
 */
import {promises as fs} from 'node:fs'
import {join} from 'node:path'
import {WidError} from '../errors.js'
import {writeFileAtomic} from '../output/files.js'

export interface ProfileInfo {
  proxy: string
  clusterName: string
  user: string
  roles: string[]
  /** When the client certificate expires. */
  expires: string
}

export interface ClientProfile extends ProfileInfo {
  key: string
  certificate: string
  hostAuthorities: string[]
}

const CURRENT = 'current-profile'
const directoryName = (proxy: string) => proxy.replace(/[^A-Za-z0-9._-]/g, '_')
const profileDir = (home: string, proxy: string) => join(home, 'profiles', directoryName(proxy))

export async function saveProfile(home: string, profile: ClientProfile): Promise<string> {
  const dir = profileDir(home, profile.proxy)
  const info: ProfileInfo = {proxy: profile.proxy, clusterName: profile.clusterName, user: profile.user, roles: profile.roles, expires: profile.expires}
  await writeFileAtomic(join(dir, 'key.pem'), profile.key, 0o600, {force: true})
  await writeFileAtomic(join(dir, 'cert.pem'), profile.certificate, 0o600, {force: true})
  await writeFileAtomic(join(dir, 'host-ca.pem'), profile.hostAuthorities.join(''), 0o600, {force: true})
  await writeFileAtomic(join(dir, 'profile.json'), JSON.stringify(info, null, 2) + '\n', 0o600, {force: true})
  await writeFileAtomic(join(home, CURRENT), profile.proxy + '\n', 0o600, {force: true})
  return dir
}

/** The profile commands should use, if someone logged in. */
export async function currentProfile(home: string): Promise<ClientProfile | undefined> {
  let proxy: string
  try {
    proxy = (await fs.readFile(join(home, CURRENT), 'utf8')).trim()
  } catch {
    return undefined
  }
  const dir = profileDir(home, proxy)
  try {
    const info = JSON.parse(await fs.readFile(join(dir, 'profile.json'), 'utf8')) as ProfileInfo
    const [key, certificate, hostAuthorities] = await Promise.all(['key.pem', 'cert.pem', 'host-ca.pem'].map((f) => fs.readFile(join(dir, f), 'utf8')))
    return {...info, key: key!, certificate: certificate!, hostAuthorities: hostAuthorities!.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? []}
  } catch {
    throw new WidError('state', `login: the profile for ${proxy} in ${dir} is damaged; run wid login --proxy ${proxy} again`)
  }
}

/** Forgets the current profile (and its key); returns the proxy it was for. */
export async function removeCurrentProfile(home: string): Promise<string | undefined> {
  const profile = await fs.readFile(join(home, CURRENT), 'utf8').then(
    (p) => p.trim(),
    () => undefined,
  )
  if (profile === undefined) return undefined
  await fs.rm(profileDir(home, profile), {recursive: true, force: true})
  await fs.rm(join(home, CURRENT), {force: true})
  return profile
}
