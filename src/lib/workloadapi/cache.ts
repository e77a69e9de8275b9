/**
 * The SVIDs the Workload API hands out, cached per (selector, the workload attributes that
 * matter). Which attributes matter is the server's answer (`dependsOn`: those the identity's
 * rules and templates refer to), so workloads that differ only in, say, their pid share one
 * SVID and one request. X.509-SVIDs that an open stream holds are renewed at half their life
 * (or the renewal interval, the earlier); JWT-SVIDs are cached per audience until half life.
 */
import {EventEmitter} from 'node:events'
import type {Attributes} from '../auth/attributes.js'
import type {SvidItem, SvidItemResult} from '../auth/bot-join.js'
import type {JwtSvidResponse, X509SvidResponse} from '../auth/issuance.js'
import type {SvidSelector} from '../auth/workload-issuance.js'
import {exportPkcs8Der, exportSpkiDer, generateKeyPair} from '../crypto/keys.js'
import {decodePem, encodePem} from '../crypto/pem.js'
import {WidError, knownCode} from '../errors.js'

export type WorkloadAttributes = NonNullable<Attributes['workload']>

export interface CachedX509Svid {
  spiffeId: string
  hint: string
  /** Leaf first, DER each. */
  certificates: Uint8Array[]
  /** PKCS#8 DER. */
  key: Uint8Array
  /** The trust domain's CA certificates, DER each. */
  bundle: Uint8Array[]
  notAfter: Date
}

export interface CachedJwtSvid {
  spiffeId: string
  hint: string
  token: string
  expiresAt: Date
}

/** A set of X.509-SVIDs for workloads with equal values of `dependsOn`; the first is the default. */
export interface X509Entry {
  svids: CachedX509Svid[]
  refreshAt: number
}

export interface CacheOptions {
  selector: SvidSelector
  ttlSeconds: number
  renewalIntervalMs: number
  issue(items: SvidItem[]): Promise<SvidItemResult[]>
  now?: () => number
  /** Told of a background renewal that failed (the last good SVIDs stay until they expire). */
  onRenewalError?: (error: WidError) => void
}

const FIRST_RETRY_MS = 1000
/** Until the server has said which attributes matter, every one but the pid is assumed to. */
const ASSUMED_DEPENDS = ['workload.unix.attested', 'workload.unix.uid', 'workload.unix.gid', 'workload.unix.binary_path', 'workload.unix.binary_hash']

function attributeValue(workload: WorkloadAttributes | undefined, name: string): unknown {
  const field = name.slice('workload.unix.'.length) as keyof NonNullable<WorkloadAttributes['unix']>
  return name.startsWith('workload.unix.') ? workload?.unix?.[field] : undefined
}

function keyOf(workload: WorkloadAttributes | undefined, depends: string[]): string {
  return JSON.stringify(depends.map((name) => [name, attributeValue(workload, name) ?? null]))
}

function ders(pems: string[]): Uint8Array[] {
  return pems.flatMap((pem) => decodePem(pem).map((block) => block.der))
}

/** An item's answers as a list (one identity, or every one a label selector matched). */
function answers<T>(result: SvidItemResult | undefined, one: 'x509' | 'jwt', all: 'x509s' | 'jwts'): {svids: T[]; dependsOn: string[]} {
  if (result && 'error' in result) throw new WidError(knownCode(result.error.code), result.error.message)
  const answer = result as unknown as (Record<string, T | T[] | undefined> & {dependsOn: string[]}) | undefined
  const single = answer?.[one] as T | undefined
  const list = single ? [single] : (answer?.[all] as T[] | undefined)
  if (!answer || !list) throw new WidError('internal', 'workload api: the cluster answered no result for this item')
  return {svids: list, dependsOn: answer.dependsOn}
}

interface Slot<T> {
  key: string
  depends: string[]
  workload: WorkloadAttributes | undefined
  value: T
  refreshAt: number
  expiresAt: number
  holders: number
  timer?: NodeJS.Timeout
  retryMs: number
  renewing?: boolean
}

export class SvidCache extends EventEmitter<{x509: [key: string, entry: X509Entry]; revoked: [key: string, error: WidError]}> {
  private readonly options: CacheOptions
  private readonly now: () => number
  /** The attributes the server last said matter for this selector. */
  private depends?: string[]
  private readonly x509Slots = new Map<string, Slot<X509Entry>>()
  private readonly x509InFlight = new Map<string, Promise<Slot<X509Entry>>>()
  private readonly jwtSlots = new Map<string, Slot<CachedJwtSvid[]>>()
  private readonly jwtInFlight = new Map<string, Promise<Slot<CachedJwtSvid[]>>>()
  private closed = false

  constructor(options: CacheOptions) {
    super()
    // Every open stream listens: hundreds are expected, not a leak.
    this.setMaxListeners(0)
    this.options = options
    this.now = options.now ?? Date.now
  }

  private refreshTime(issuedAt: number, expiresAt: number): number {
    return issuedAt + Math.min((expiresAt - issuedAt) / 2, this.options.renewalIntervalMs)
  }

  private selectorItem(): Pick<SvidItem, 'name' | 'labels'> & {all?: true} {
    const {name, labels} = this.options.selector
    return name !== undefined ? {name} : {labels, all: true}
  }

  private async issueX509(workload: WorkloadAttributes | undefined): Promise<{entry: X509Entry; dependsOn: string[]; expiresAt: number}> {
    const keys = await generateKeyPair('ec-p256')
    const publicKey = encodePem('PUBLIC KEY', await exportSpkiDer(keys.publicKey))
    const key = await exportPkcs8Der(keys.privateKey)
    const item = {type: 'x509', ...this.selectorItem(), publicKey, ttlSeconds: this.options.ttlSeconds, ...(workload ? {workload} : {})} as SvidItem
    const issuedAt = this.now()
    const [result] = await this.options.issue([item])
    const {svids, dependsOn} = answers<X509SvidResponse>(result, 'x509', 'x509s')
    const cached = svids.map((svid) => ({
      spiffeId: svid.spiffeId,
      hint: svid.hint ?? '',
      certificates: ders(svid.certificates),
      key,
      bundle: ders(svid.bundle),
      notAfter: new Date(svid.notAfter),
    }))
    const expiresAt = Math.min(...cached.map((svid) => svid.notAfter.getTime()))
    return {entry: {svids: cached, refreshAt: this.refreshTime(issuedAt, expiresAt)}, dependsOn, expiresAt}
  }

  private fresh<T>(slot: Slot<T> | undefined): slot is Slot<T> {
    return slot !== undefined && (slot.holders > 0 ? slot.expiresAt : slot.refreshAt) > this.now()
  }

  /**
   * The X.509-SVIDs for this workload: from the cache when a workload with equal values of the
   * attributes that matter has them, else from one request shared by everyone asking at once.
   */
  async x509(workload: WorkloadAttributes | undefined): Promise<{key: string; entry: X509Entry}> {
    for (;;) {
      const depends = this.depends ?? ASSUMED_DEPENDS
      const key = keyOf(workload, depends)
      const slot = this.x509Slots.get(key)
      if (this.fresh(slot)) return {key, entry: slot.value}
      let pending = this.x509InFlight.get(key)
      if (!pending) {
        pending = this.fillX509(workload).finally(() => this.x509InFlight.delete(key))
        this.x509InFlight.set(key, pending)
      }
      const filled = await pending
      // The answer may say that an attribute this workload differs in matters (its pid, say).
      if (keyOf(workload, filled.depends) === filled.key) return {key: filled.key, entry: filled.value}
    }
  }

  private async fillX509(workload: WorkloadAttributes | undefined): Promise<Slot<X509Entry>> {
    const {entry, dependsOn, expiresAt} = await this.issueX509(workload)
    this.depends = dependsOn
    const key = keyOf(workload, dependsOn)
    const old = this.x509Slots.get(key)
    const slot: Slot<X509Entry> = {key, depends: dependsOn, workload, value: entry, refreshAt: entry.refreshAt, expiresAt, holders: old?.holders ?? 0, retryMs: FIRST_RETRY_MS}
    if (old?.timer) clearTimeout(old.timer)
    this.x509Slots.set(key, slot)
    this.sweep()
    if (slot.holders > 0) {
      this.schedule(slot)
      // Streams that held the entry it replaces (expired while the cluster was away) get it now.
      this.emit('x509', key, entry)
    }
    return slot
  }

  /** A stream holds the entry under `key`: it is renewed in the background until released. */
  hold(key: string): () => void {
    const slot = this.x509Slots.get(key)
    if (!slot) throw new WidError('internal', 'workload api: no cached SVIDs to hold')
    slot.holders += 1
    if (slot.holders === 1) this.schedule(slot)
    let released = false
    return () => {
      if (released) return
      released = true
      const current = this.x509Slots.get(key)
      if (!current) return
      current.holders -= 1
      if (current.holders === 0 && current.timer) {
        clearTimeout(current.timer)
        current.timer = undefined
      }
    }
  }

  private schedule(slot: Slot<X509Entry>): void {
    if (this.closed) return
    if (slot.timer) clearTimeout(slot.timer)
    slot.timer = setTimeout(() => void this.renew(slot), Math.max(0, slot.refreshAt - this.now()))
  }

  private async renew(slot: Slot<X509Entry>): Promise<void> {
    slot.timer = undefined
    // One renewal at a time: SIGUSR1 during a renewal does not start another.
    if (slot.renewing) return
    slot.renewing = true
    try {
      await this.renewOnce(slot)
    } finally {
      slot.renewing = false
    }
  }

  private async renewOnce(slot: Slot<X509Entry>): Promise<void> {
    try {
      const {entry, dependsOn, expiresAt} = await this.issueX509(slot.workload)
      if (this.closed || this.x509Slots.get(slot.key) !== slot) return
      this.depends = dependsOn
      Object.assign(slot, {value: entry, refreshAt: entry.refreshAt, expiresAt, retryMs: FIRST_RETRY_MS, depends: dependsOn})
      if (slot.holders > 0) this.schedule(slot)
      this.emit('x509', slot.key, entry)
    } catch (error) {
      if (this.closed || this.x509Slots.get(slot.key) !== slot) return
      const failure = error instanceof WidError ? error : new WidError('internal', (error as Error).message)
      this.options.onRenewalError?.(failure)
      if (failure.code === 'access_denied' || failure.code === 'not_found') {
        // The identity was withdrawn for these workloads: their streams end.
        this.x509Slots.delete(slot.key)
        this.emit('revoked', slot.key, failure)
        return
      }
      // Held entries are retried for as long as they are held, past their expiry too: the
      // streams get SVIDs again as soon as the cluster answers.
      if (slot.holders === 0) return
      slot.timer = setTimeout(() => void this.renew(slot), slot.retryMs * (0.8 + Math.random() * 0.4))
      slot.retryMs = Math.min(slot.retryMs * 2, 60_000)
    }
  }

  /**
   * SIGUSR1, or a CA that signs with a new key: the X.509-SVIDs that streams hold are renewed
   * now and those nobody holds dropped; cached JWT-SVIDs are dropped (issued anew when asked for).
   */
  renewNow(kinds: {x509: boolean; jwt: boolean}): void {
    if (kinds.jwt) this.jwtSlots.clear()
    if (!kinds.x509) return
    for (const [key, slot] of this.x509Slots) {
      if (slot.holders === 0) {
        this.x509Slots.delete(key)
        continue
      }
      if (slot.timer) clearTimeout(slot.timer)
      slot.timer = undefined
      void this.renew(slot)
    }
  }

  /** JWT-SVIDs for these audiences, cached until half their life. */
  async jwt(workload: WorkloadAttributes | undefined, audiences: string[]): Promise<CachedJwtSvid[]> {
    const audience = JSON.stringify([...audiences].sort())
    for (;;) {
      const key = `${audience}|${keyOf(workload, this.depends ?? ASSUMED_DEPENDS)}`
      const slot = this.jwtSlots.get(key)
      if (this.fresh(slot)) return slot.value
      let pending = this.jwtInFlight.get(key)
      if (!pending) {
        pending = this.fillJwt(workload, audiences, audience).finally(() => this.jwtInFlight.delete(key))
        this.jwtInFlight.set(key, pending)
      }
      const filled = await pending
      if (`${audience}|${keyOf(workload, filled.depends)}` === filled.key) return filled.value
    }
  }

  private async fillJwt(workload: WorkloadAttributes | undefined, audiences: string[], audience: string): Promise<Slot<CachedJwtSvid[]>> {
    const item = {type: 'jwt', ...this.selectorItem(), audiences, ttlSeconds: this.options.ttlSeconds, ...(workload ? {workload} : {})} as SvidItem
    const issuedAt = this.now()
    const [result] = await this.options.issue([item])
    const {svids, dependsOn} = answers<JwtSvidResponse>(result, 'jwt', 'jwts')
    this.depends = dependsOn
    const value = svids.map((svid) => ({spiffeId: svid.spiffeId, hint: svid.hint ?? '', token: svid.token, expiresAt: new Date(svid.expiresAt)}))
    const expiresAt = Math.min(...value.map((svid) => svid.expiresAt.getTime()))
    const key = `${audience}|${keyOf(workload, dependsOn)}`
    const slot: Slot<CachedJwtSvid[]> = {key, depends: dependsOn, workload, value, refreshAt: this.refreshTime(issuedAt, expiresAt), expiresAt, holders: 0, retryMs: FIRST_RETRY_MS}
    this.jwtSlots.set(key, slot)
    this.sweep()
    return slot
  }

  /** Entries that nobody holds and that are due for renewal are dropped; held ones stay, renewing. */
  private sweep(): void {
    for (const slots of [this.x509Slots, this.jwtSlots] as Array<Map<string, Slot<unknown>>>) {
      for (const [key, slot] of slots) if (slot.holders === 0 && !this.fresh(slot)) slots.delete(key)
    }
  }

  close(): void {
    this.closed = true
    for (const slot of this.x509Slots.values()) if (slot.timer) clearTimeout(slot.timer)
    this.x509Slots.clear()
    this.jwtSlots.clear()
  }
}
