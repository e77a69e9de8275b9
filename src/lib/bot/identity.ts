/**
 * The bot's own identity: joined once with a token, or by a delegated method with the ID
 * token its platform signs (the cluster's CA checked against `onboarding.ca_pins`), kept in
 * the storage, and renewed before it expires. Every renewal presents the current identity,
 * whose generation the cluster checks: a copy used from elsewhere locks the instance. After a
 * delegated join every renewal also proves a fresh ID token, and a refused identity gives way
 * to a new join by the same proof.
 */
import {statSync} from 'node:fs'
import type {BotIdentity} from '../auth/bot-join.js'
import {hashSecret} from '../crypto/secrets.js'
import {followedAuthorities, untrustedHostCa} from '../cluster/advice.js'
import {BOT_UNTRUSTED_FIX, joinBot, renewBot} from '../cluster/bot-client.js'
import {ServerList} from '../cluster/failover.js'
import {discoverCluster} from '../cluster/login.js'
import type {ClientProfile} from '../cluster/profiles.js'
import {RemoteCluster} from '../cluster/remote.js'
import {encodePem} from '../crypto/pem.js'
import {certificatePin, exportPkcs8Pem, exportSpkiDer, generateKeyPair} from '../crypto/keys.js'
import {isWidError, WidError} from '../errors.js'
import {checkPrivateDirectory} from '../output/private-dir.js'
import {readBounded} from '../output/read.js'
import {shownName} from '../resources/names.js'
import type {DelegatedJoinMethod} from '../resources/types.js'
import {requireAddresses, type BotConfig} from './config.js'
import {fetchIdToken} from './id-token.js'
import type {BotStorage, StoredIdentity} from './storage.js'

async function newKeyPair(): Promise<{key: string; publicKey: string}> {
  const keys = await generateKeyPair('ec-p256')
  return {key: await exportPkcs8Pem(keys.privateKey), publicKey: encodePem('PUBLIC KEY', await exportSpkiDer(keys.publicKey))}
}

interface Pinned {
  authority: string
  verifyHostname: boolean
  /** The cluster's name, as its discovery says: the audience of a delegated join's ID token. */
  clusterName: string
}

/**
 * The CA to trust: from `onboarding.ca_path`, else the one the server presents if its pin is
 * in `ca_pins`. The first of `servers` that answers is asked; the join then goes to it first.
 */
async function trustedAuthority(config: BotConfig, servers: ServerList): Promise<Pinned> {
  const {caPins, caPath} = config.onboarding
  if (caPath !== undefined) {
    const pem = (await readBounded(caPath, {prefix: 'bot', maxBytes: 64 * 1024, what: 'a CA certificate'}))?.toString('utf8')
    if (pem === undefined) throw new WidError('bad_input', `bot: onboarding.ca_path ${caPath} does not exist`)
    checkCaFile(caPath)
    const discovered = await servers.call('join', discoverCluster)
    if (certificatePin(pem) !== discovered.pin) {
      throw new WidError('access_denied', `bot: ${servers.answered} presents CA ${discovered.pin}, not the CA in onboarding.ca_path (${certificatePin(pem)})`)
    }
    return discovered
  }
  if (caPins.length === 0) {
    throw new WidError('bad_input', 'bot: onboarding.ca_pins (or --ca-pin) is needed to join: the cluster\'s CA pin, as wid status on the cluster shows it (hostCaPins)')
  }
  const discovered = await servers.call('join', discoverCluster)
  if (!caPins.includes(discovered.pin)) {
    throw new WidError('access_denied', `bot: ${servers.answered} presents CA ${discovered.pin}, which is not in onboarding.ca_pins (${caPins.join(', ')}); check the pin with wid status on the cluster`)
  }
  return discovered
}

/** Refuses a file another user could change (or, when `secret`, read), or one in a directory they could change. */
function checkOwnFile(file: string, what: string, secret: boolean, why: string, fix: string): void {
  checkPrivateDirectory(file, {prefix: `bot: ${what}`})
  const uid = process.geteuid?.()
  if (uid === undefined) return
  const stat = statSync(file)
  if (stat.uid !== uid && stat.uid !== 0) {
    throw new WidError('bad_input', `bot: ${what} ${file} is owned by another user (uid ${stat.uid}); give it to the agent's user (chown), or write it again`)
  }
  if ((stat.mode & (secret ? 0o077 : 0o022)) !== 0) {
    const mode = (stat.mode & 0o7777).toString(8).padStart(4, '0')
    throw new WidError('bad_input', `bot: ${what} ${file} is ${secret ? 'readable or writable' : 'writable'} by group or others (mode ${mode}), so another user could ${why}; ${fix} ${file}`)
  }
}

/**
 * As ssh refuses an unprotected private key, a join is refused with a token file that another
 * user could read (and join with first, a token being good for one join) or change (to another
 * bot's token), or that lies in a directory they could change (see private-dir.ts). Once the
 * agent has joined, the spent token's file no longer matters.
 */
const checkTokenFile = (file: string): void => checkOwnFile(file, 'token file', true, 'join with it first', 'chmod 600')

/** The CA of onboarding.ca_path decides which server the token is given to: nobody else may change it. */
const checkCaFile = (file: string): void => checkOwnFile(file, 'CA file', false, 'make the agent trust their server', 'chmod go-w')

/** The id a token goes by (wid tokens ls). */
const tokenIdOf = (token: string): string => shownName('token', hashSecret(token))

/** What the identity joined with: a one-time token's id, or a delegated method and its token resource's name. */
type Joined = Pick<StoredIdentity, 'tokenId' | 'joinMethod'>

/** The host CAs trusted until now, and whether the server must match the proxy's host name. */
interface Trusted {
  authorities: string[]
  verifyHostname: boolean
}

/** What the agent keeps of a join's or a renewal's answer: with the cluster's host CAs, if they follow those it trusted (see cluster/advice.ts). */
function stored(proxy: string, issued: BotIdentity, key: string, trusted: Trusted, joined: Joined): StoredIdentity {
  return {
    proxy,
    ...(joined.tokenId === undefined ? {} : {tokenId: joined.tokenId}),
    ...(joined.joinMethod === undefined ? {} : {joinMethod: joined.joinMethod}),
    clusterName: issued.clusterName,
    botName: issued.botName,
    instanceId: issued.instanceId,
    generation: issued.generation,
    notAfter: issued.notAfter,
    certificate: issued.certificate,
    key,
    authorities: followedAuthorities(trusted.authorities, issued.hostAuthorities) ?? trusted.authorities,
    verifyHostname: trusted.verifyHostname,
  }
}

export class BotIdentityKeeper {
  private readonly storage: BotStorage
  private config: BotConfig
  private current?: StoredIdentity
  /** The key of the renewal under way, until it succeeds (see renew). */
  private pending?: {key: string; publicKey: string}
  private remote?: RemoteCluster
  private serverList?: ServerList

  /** Told when the cluster's answers say the identity should be renewed now to follow a CA rotation (the agent renews it). */
  onStale?: () => void

  /** Told when the cluster refused the identity (removed, locked as copied, another subject) and a delegated method joins again. */
  onRejoin?: (instanceId: string, reason: string) => void

  constructor(storage: BotStorage, config: BotConfig) {
    this.storage = storage
    this.config = config
  }

  /** A reloaded configuration applies from the next renewal. */
  reconfigure(config: BotConfig): void {
    this.config = config
  }

  get identity(): StoredIdentity | undefined {
    return this.current
  }

  /** The cluster's servers, as configured at start (a reload cannot change them): the one that answered last is tried first. */
  private servers(): ServerList {
    return (this.serverList ??= new ServerList(requireAddresses(this.config)))
  }

  /**
   * Makes sure there is a usable identity: the stored one if it is for these servers and not
   * expired (then renewed at once, which also proves it is not a copy), else a new join. A
   * stored identity the cluster refuses (its instance removed or locked) gives way to a join
   * with a new token, which is how the refusal says to come back, or by a delegated method,
   * which proves itself again (and says why, if it cannot).
   */
  async ensure(now = new Date()): Promise<StoredIdentity> {
    // An identity is kept under the first address it joined through; any of the servers listed now will do.
    const ours = (identity: StoredIdentity | undefined) => identity !== undefined && this.servers().addresses.includes(identity.proxy)
    const kept = this.current ?? (await this.storage.load())
    if (kept && ours(kept) && Date.parse(kept.notAfter) > now.getTime()) {
      this.current = kept
      try {
        return await this.renew()
      } catch (refused) {
        const {joinMethod, token} = this.config.onboarding
        // With a delegated method, the renewal has joined again already (see renew); the
        // one-time token it joined with is spent: only a new one is worth a join.
        if (!isWidError(refused) || refused.code !== 'access_denied' || joinMethod !== 'token' || !token || tokenIdOf(token) === kept.tokenId) throw refused
        return this.join(undefined).catch((error: unknown) => {
          throw isWidError(error) ? new WidError(error.code, `${refused.message}; a join with onboarding.token was refused too: ${error.message}`) : error
        })
      }
    }
    return this.join(ours(kept) ? kept : undefined)
  }

  /** A join with the token, or by the delegated method; `expired`: the identity it replaces, whose one-time token is spent. */
  private async join(expired: StoredIdentity | undefined): Promise<StoredIdentity> {
    const {joinMethod, token} = this.config.onboarding
    if (joinMethod !== 'token') return this.joinDelegated(joinMethod, token!)
    if (!token || (expired && tokenIdOf(token) === expired.tokenId)) {
      throw new WidError(
        'bad_input',
        expired
          ? `bot: the identity in ${this.storage.dir} has expired and onboarding.token holds no new token to join again (the one it joined with is spent); add a new token (wid bots add or wid tokens add)`
          : 'bot: onboarding.token (or --token) is needed to join the first time',
      )
    }
    if (this.config.onboarding.tokenFile !== undefined) checkTokenFile(this.config.onboarding.tokenFile)
    const servers = this.servers()
    const pinned = await trustedAuthority(this.config, servers)
    const {key, publicKey} = await newKeyPair()
    const issued = await servers.call('join', (proxy) => joinBot(proxy, pinned, {token, publicKey, ttlSeconds: this.config.credentialTtlSeconds}))
    return this.keep(stored(servers.addresses[0]!, issued, key, {authorities: [pinned.authority], verifyHostname: pinned.verifyHostname}, {tokenId: tokenIdOf(token)}))
  }

  /** A join proving an ID token of `method`, for the audience of the cluster's name, against the token resource `name`. */
  private async joinDelegated(method: DelegatedJoinMethod, name: string): Promise<StoredIdentity> {
    const servers = this.servers()
    const pinned = await trustedAuthority(this.config, servers)
    const idToken = await fetchIdToken(method, this.config.onboarding, pinned.clusterName)
    const {key, publicKey} = await newKeyPair()
    const issued = await servers.call('join', (proxy) => joinBot(proxy, pinned, {method, token: name, idToken, publicKey, ttlSeconds: this.config.credentialTtlSeconds}))
    return this.keep(stored(servers.addresses[0]!, issued, key, {authorities: [pinned.authority], verifyHostname: pinned.verifyHostname}, {tokenId: name, joinMethod: method}))
  }

  /**
   * A new certificate for a new key, presenting the current one. The key is kept until the
   * renewal succeeds: one whose answer was lost (a dropped connection, a server killed after
   * its write) is asked again for the same key, which the cluster answers again instead of
   * taking the bot for a copy of itself. (It is kept in memory only: a copy of the storage
   * must not hold it.) After a delegated join it proves a fresh ID token. With a delegated
   * method configured, an identity the cluster refuses (its instance removed or locked, say)
   * gives way to a new join by that method's proof.
   */
  async renew(): Promise<StoredIdentity> {
    const current = this.current
    if (!current) return this.ensure()
    try {
      return await this.renewOnce(current)
    } catch (refused) {
      const {joinMethod, token} = this.config.onboarding
      if (joinMethod === 'token' || !isWidError(refused) || refused.code !== 'access_denied') throw refused
      this.onRejoin?.(current.instanceId, refused.message)
      return this.joinDelegated(joinMethod, token!)
    }
  }

  private async renewOnce(current: StoredIdentity): Promise<StoredIdentity> {
    this.pending ??= await newKeyPair()
    const {key, publicKey} = this.pending
    const pinned = {authority: current.authorities.join(''), verifyHostname: current.verifyHostname}
    const idToken = current.joinMethod === undefined ? undefined : await fetchIdToken(current.joinMethod, this.config.onboarding, current.clusterName)
    const body = {publicKey, ...(idToken === undefined ? {} : {idToken}), ttlSeconds: this.config.credentialTtlSeconds}
    // A renewal moves a bot instance to its next generation: another server is asked only if none saw it (see failover.ts).
    const issued = await this.servers().call('renew', (proxy) => renewBot(proxy, pinned, {certificate: current.certificate, key: current.key}, body))
    return this.keep(stored(current.proxy, issued, key, current, current))
  }

  private async keep(identity: StoredIdentity): Promise<StoredIdentity> {
    await this.storage.save(identity)
    const previous = this.remote
    this.current = identity
    this.pending = undefined
    this.remote = undefined
    await previous?.close()
    return identity
  }

  /** The cluster as this bot: a new connection pool for each identity, so a renewed certificate is used at once. */
  cluster(): RemoteCluster {
    const identity = this.current
    if (!identity) throw new WidError('unavailable', 'bot: not joined yet')
    if (!this.remote) {
      const profile: ClientProfile = {
        proxy: identity.proxy,
        clusterName: identity.clusterName,
        user: `bot-${identity.botName}`,
        roles: [],
        expires: identity.notAfter,
        verifyHostname: identity.verifyHostname,
        key: identity.key,
        certificate: identity.certificate,
        hostAuthorities: identity.authorities,
      }
      this.remote = new RemoteCluster(profile, this.servers())
      this.remote.untrusted = (proxy) => untrustedHostCa('bot', proxy, 'this bot identity', BOT_UNTRUSTED_FIX)
      // A CA rotation to follow (new host CAs, or a certificate of a client CA key that no longer signs): the renewal carries both
      this.remote.onAdvice = async () => this.onStale?.()
    }
    return this.remote
  }

  async close(): Promise<void> {
    await this.remote?.close()
  }
}
