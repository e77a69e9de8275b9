/**
 * A user's login follows the host and client CA rotations (see advice.ts), with no password:
 * its certificate is issued again by the client CA key that signs now (same key, holder and
 * expiry), and the host CAs to trust are kept, in the profile rewritten whole.
 */
import {createPrivateKey, createPublicKey} from 'node:crypto'
import {WidError} from '../errors.js'
import {followedAuthorities, signingPin, type Advice} from './advice.js'
import {certifiesKey} from './api-client.js'
import {saveProfile, type ClientProfile} from './profiles.js'
import type {RemoteCluster} from './remote.js'

export async function followLogin(home: string, cluster: RemoteCluster, advice: Advice): Promise<void> {
  const profile = cluster.profile
  const reissued = await cluster.reissueLogin()
  const publicKey = createPublicKey(createPrivateKey(profile.key)).export({type: 'spki', format: 'pem'}).toString()
  if (typeof reissued?.certificate !== 'string' || typeof reissued.notAfter !== 'string' || !Array.isArray(reissued.hostAuthorities) || !certifiesKey(reissued.certificate, publicKey)) {
    throw new WidError('unavailable', `remote: ${cluster.servers.answered} answered reissueLogin with something that is not a certificate for our key`)
  }
  // Host CAs only from a server that presents a certificate of one: one given its own (--tls-cert-file) keeps the CA pinned at login.
  const authorities = advice.hostCaPins === undefined ? undefined : followedAuthorities(profile.hostAuthorities, reissued.hostAuthorities)
  const next: ClientProfile = {
    ...profile,
    certificate: reissued.certificate,
    expires: reissued.notAfter,
    answered: cluster.servers.answered,
    // The pin a later wid login expects is the one servers present: the signing host CA's
    ...(authorities ? {hostAuthorities: authorities, caPin: signingPin(authorities)} : {}),
  }
  await saveProfile(home, next)
  cluster.useProfile(next)
}
