/**
 * What tells the server that a CA changed (a rotation step, made by this server, another
 * one on the same store or a local command): the authorities' revisions, read once a second
 * and at once when the store's change feed (PostgreSQL's) names one of them. Everything that
 * follows the authorities (the public documents, the TLS context) is told from here.
 */
import type {Backend} from '../backend/backend.js'
import {AUTHORITY_TYPES} from '../auth/rotation.js'
import {authorityKey, type AuthorityType} from '../services/authorities.js'

export type AuthorityListener = (changed: AuthorityType[]) => Promise<void>

export class AuthorityWatch {
  private readonly backend: Backend
  private readonly listener: AuthorityListener
  private readonly onError: (error: unknown) => void
  /** The revisions the listener has been told of. */
  private readonly told = new Map<AuthorityType, number>()
  private timer?: NodeJS.Timeout
  private feed?: {close(): Promise<void>}
  /** The check under way, and whether another was asked for meanwhile: checks never overlap. */
  private checking?: Promise<void>
  private again = false

  constructor(backend: Backend, listener: AuthorityListener, onError: (error: unknown) => void) {
    this.backend = backend
    this.listener = listener
    this.onError = onError
  }

  /** Tells the listener of every authority once (its first revision), then of each change. */
  async start(): Promise<void> {
    await this.check()
    this.timer = setInterval(() => void this.check().catch(this.onError), 1000)
    this.timer.unref()
    const watched = new Set(AUTHORITY_TYPES.map(authorityKey))
    this.feed = await this.backend.watch?.((event) => {
      if (event.type !== 'lost' && (event.type === 'resync' || event.keys.some((key) => watched.has(key)))) void this.check().catch(this.onError)
    })
  }

  stop(): void {
    clearInterval(this.timer)
    void this.feed?.close()
  }

  /** Checks now (after a rotation through this server, say): resolves once the listener has been told of what it finds. */
  changed(): Promise<void> {
    return this.check()
  }

  private check(): Promise<void> {
    if (this.checking) {
      this.again = true
      return this.checking
    }
    this.checking = (async () => {
      try {
        do {
          this.again = false
          await this.checkOnce()
        } while (this.again)
      } finally {
        this.checking = undefined
      }
    })()
    return this.checking
  }

  /** A failed listener is told again at the next check: the revisions it missed are not recorded. */
  private async checkOnce(): Promise<void> {
    const items = await Promise.all(AUTHORITY_TYPES.map((type) => this.backend.get(authorityKey(type))))
    const revisions = new Map(AUTHORITY_TYPES.map((type, i) => [type, items[i]?.revision ?? 0]))
    const changed = AUTHORITY_TYPES.filter((type) => this.told.get(type) !== revisions.get(type))
    if (changed.length === 0) return
    await this.listener(changed)
    for (const type of changed) this.told.set(type, revisions.get(type)!)
  }
}
