/**
 * The agent's storage: a private directory (0700, files 0600) holding the bot identity as
 * one consistent file set, and a lock that keeps a second agent off it.
 */
import {promises as fs} from 'node:fs'
import {join} from 'node:path'
import {WidError} from '../errors.js'
import {ensureDirectory, ioError, writeFileSet} from '../output/files.js'
import {lockHolder, lockText} from '../output/lock-holder.js'
import {shortPath} from '../output/paths.js'
import {readBounded} from '../output/read.js'
import type {DelegatedJoinMethod} from '../resources/types.js'

const FILES = {
  meta: 'identity.json',
  certificate: 'identity.pem',
  key: 'identity_key.pem',
  authorities: 'host_ca.pem',
} as const
const LOCK = 'agent.lock'

/** What the agent keeps of its bot identity between runs. */
export interface StoredIdentity {
  proxy: string
  /**
   * The id of the one-time token it joined with (wid tokens ls): spent, so never tried again;
   * after a delegated join, the name of the token resource.
   */
  tokenId?: string
  /** The delegated method it joined by, whose fresh ID token every renewal proves; absent after a one-time token's join. */
  joinMethod?: DelegatedJoinMethod
  clusterName: string
  botName: string
  instanceId: string
  generation: number
  notAfter: string
  certificate: string
  key: string
  /**
   * The host CAs the agent trusts, the signing one first: the certificate the server's chain
   * ended in at join, then the cluster's host CAs as each renewal lists them (so that a host
   * CA rotation is followed, see cluster/advice.ts). One file of PEM certificates.
   */
  authorities: string[]
  verifyHostname: boolean
}

type Meta = Omit<StoredIdentity, 'certificate' | 'key' | 'authorities'>

export class BotStorage {
  readonly dir: string

  private constructor(dir: string) {
    this.dir = dir
  }

  /** Creates the directory (0700) if needed, refuses one that others could change, and takes the agent lock. */
  static async open(dir: string): Promise<{storage: BotStorage; release: () => Promise<void>}> {
    await ensureDirectory(dir)
    const storage = new BotStorage(dir)
    const release = await storage.lock()
    return {storage, release}
  }

  private async lock(): Promise<() => Promise<void>> {
    const path = join(this.dir, LOCK)
    for (let tries = 0; tries < 2; tries++) {
      try {
        await fs.writeFile(path, `${lockText()}\n`, {flag: 'wx', mode: 0o600})
        return () => fs.rm(path, {force: true})
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError(path, error)
      }
      const holder = lockHolder(await fs.readFile(path, 'utf8').catch(() => ''))
      if (holder.alive && holder.pid !== process.pid) {
        throw new WidError('state', `bot: the storage ${shortPath(this.dir)} is in use by another agent (process ${holder.pid}); give each agent a storage of its own`)
      }
      // Left by an agent that died (its pid may name another process by now): taken over.
      await fs.rm(path, {force: true})
    }
    throw new WidError('state', `bot: cannot take the lock ${shortPath(path)}`)
  }

  async load(): Promise<StoredIdentity | undefined> {
    const read = async (name: string) => (await readBounded(join(this.dir, name), {prefix: 'bot', maxBytes: 64 * 1024, what: 'a bot identity file'}))?.toString('utf8')
    const metaText = await read(FILES.meta)
    if (metaText === undefined) return undefined
    const [certificate, key, authority] = await Promise.all([read(FILES.certificate), read(FILES.key), read(FILES.authorities)])
    const authorities = authority?.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? []
    let meta: Meta
    try {
      meta = JSON.parse(metaText) as Meta
    } catch {
      throw new WidError('state', `bot: ${shortPath(join(this.dir, FILES.meta))} is not JSON; remove the storage directory and join again with a new token`)
    }
    if (!certificate || !key || authorities.length === 0 || typeof meta.instanceId !== 'string' || typeof meta.generation !== 'number') {
      throw new WidError('state', `bot: the identity in ${shortPath(this.dir)} is incomplete; remove the storage directory and join again with a new token`)
    }
    return {...meta, certificate, key, authorities}
  }

  async save(identity: StoredIdentity): Promise<void> {
    const {certificate, key, authorities, ...meta} = identity
    await writeFileSet(
      this.dir,
      [
        {name: FILES.meta, data: JSON.stringify(meta, null, 2) + '\n', mode: 0o600},
        {name: FILES.certificate, data: certificate, mode: 0o600},
        {name: FILES.key, data: key, mode: 0o600},
        {name: FILES.authorities, data: authorities.join(''), mode: 0o600},
      ],
      {force: true},
    )
  }
}
