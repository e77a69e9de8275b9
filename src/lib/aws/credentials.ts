/**
 * What `credential_process` prints (the AWS CLI and SDKs read it), and a small cache next
 * to the SVID so that SDKs calling the process often do not mint a session every time.
 * The cache's name is computable from public facts (ARNs, endpoint, certificate), so it is
 * read and written only in a directory nobody else can change: elsewhere another user could
 * plant credentials of their own, or read ours.
 */
import {createHash} from 'node:crypto'
import {join} from 'node:path'
import {WidError} from '../errors.js'
import {writeFileAtomic} from '../output/files.js'
import {checkPrivateDirectory} from '../output/private-dir.js'
import {readBounded} from '../output/read.js'

export interface AwsCredentials {
  Version: 1
  AccessKeyId: string
  SecretAccessKey: string
  SessionToken: string
  Expiration: string
}

/** Cached credentials are used until this long before they expire. */
export const CACHE_MARGIN_SECONDS = 5 * 60

function cachePath(dir: string, key: unknown): string {
  const digest = createHash('sha256').update(JSON.stringify(key)).digest('hex').slice(0, 16)
  return join(dir, `.wid-aws-credentials-${digest}.json`)
}

interface CacheEntry {
  /** sha256 of what the credentials were minted from (the token, or the certificate). */
  source: string
  credentials: AwsCredentials
}

function usable(value: unknown, now: Date): value is AwsCredentials {
  const c = value as Partial<AwsCredentials> | null
  return (
    !!c &&
    c.Version === 1 &&
    typeof c.AccessKeyId === 'string' &&
    typeof c.SecretAccessKey === 'string' &&
    typeof c.SessionToken === 'string' &&
    typeof c.Expiration === 'string' &&
    Date.parse(c.Expiration) - now.getTime() > CACHE_MARGIN_SECONDS * 1000
  )
}

/** The largest cache file read: an entry is well under 4 KiB. */
const MAX_CACHE_BYTES = 64 * 1024

/**
 * Returns cached credentials for `key` in `dir` while they have more than five minutes left
 * and were minted from the same `source` (a re-issued SVID means a new session), else
 * fetches, caches (mode 0600) and returns new ones. A cache that cannot be read or written
 * is skipped: credentials still come back, just uncached. In a directory that someone else
 * could change (see private-dir.ts) no cache is read or written at all, and `warn` is told
 * why and how to fix it.
 */
export async function cachedCredentials(
  dir: string,
  key: unknown,
  source: string | Uint8Array,
  now: Date,
  fetch: () => Promise<AwsCredentials>,
  warn: (message: string) => void,
): Promise<AwsCredentials> {
  try {
    checkPrivateDirectory(dir, {prefix: 'aws'})
  } catch (error) {
    if (!(error instanceof WidError)) throw error
    warn(`${error.message} (until then, credentials are not cached)`)
    return fetch()
  }
  const path = cachePath(dir, key)
  const sourceHash = createHash('sha256').update(source).digest('hex')
  try {
    const text = await readBounded(path, {prefix: 'aws', maxBytes: MAX_CACHE_BYTES, what: 'a credentials cache'})
    const cached = JSON.parse(text?.toString('utf8') ?? 'null') as CacheEntry
    if (cached.source === sourceHash && usable(cached.credentials, now)) return cached.credentials
  } catch {
    // no cache yet, or an unreadable one: fetch below
  }
  const credentials = await fetch()
  const entry: CacheEntry = {source: sourceHash, credentials}
  await writeFileAtomic(path, JSON.stringify(entry) + '\n', 0o600, {force: true}).catch(() => undefined)
  return credentials
}
