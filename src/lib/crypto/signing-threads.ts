/**
 * CA signatures computed on worker threads of this process, so that a server's event loop
 * spends its time on requests while the signatures of certificates are made on the other
 * cores. The signatures asked for while the event loop goes round once (the items of a
 * batch, and of the requests that arrived with it) travel to a thread as one message and
 * come back as one, which is what makes handing them over cheaper than signing in place.
 *
 * The key goes to the thread as a KeyObject inside the message (node:crypto clones its
 * handle in memory, within this process); it is never serialised to a file or a pipe.
 */
import type {KeyObject} from 'node:crypto'
import type {MessagePort, Worker} from 'node:worker_threads'
import {WidError} from '../errors.js'
import {keyObjectOf, keyTypeInfo, type KeyType} from './keys.js'

/**
 * Set in a signing thread's environment. An environment variable rather than workerData so
 * that the modules of an ordinary run need not load node:worker_threads to find out.
 */
const SIGNING_THREAD_ENV = 'WID_SIGNING_THREAD'

/**
 * The data to sign go packed into one buffer that is transferred, not copied: a small
 * Uint8Array is often a view of Node's 8 KiB buffer pool, which a clone would copy whole.
 */
interface SignRequest {
  id: number
  key: KeyObject
  hash: string
  packed: Uint8Array<ArrayBuffer>
  lengths: number[]
}

/** The signatures packed likewise; each item is the length of its signature, or why it failed. */
interface SignReply {
  id: number
  packed: Uint8Array<ArrayBuffer>
  results: (number | string)[]
}

function pack(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const packed = new Uint8Array(parts.reduce((n, part) => n + part.length, 0))
  let offset = 0
  for (const part of parts) {
    packed.set(part, offset)
    offset += part.length
  }
  return packed
}

interface Job {
  key: KeyObject
  hash: string
  data: Uint8Array
  resolve: (signature: Uint8Array) => void
  reject: (error: unknown) => void
}

interface Thread {
  worker: Worker
  /** Jobs sent and not answered, by message id. */
  pending: Map<number, Job[]>
  /** How many signatures it has yet to answer. */
  load: number
}

export class SigningThreads {
  private readonly count: number
  private threads: Thread[] = []
  private queue: Job[] = []
  /** A flush is scheduled or under way: jobs taken from the queue but not yet with a thread. */
  private flushing = false
  private nextId = 0
  private closed = false
  private idleWaiters: (() => void)[] = []

  /** `count` threads, started at the first signature (and again after one is lost). */
  constructor(count: number) {
    if (!Number.isInteger(count) || count < 1) throw new WidError('internal', `crypto: signing threads: count must be a positive integer, not ${count}`)
    this.count = count
  }

  /** The signature of `data` by a CA key (as signDer makes it), computed on one of the threads. */
  sign(privateKey: CryptoKey, type: KeyType, data: Uint8Array): Promise<Uint8Array> {
    if (this.closed) return Promise.reject(new WidError('unavailable', 'crypto: the signing threads are closed'))
    return new Promise((resolve, reject) => {
      this.queue.push({key: keyObjectOf(privateKey), hash: keyTypeInfo(type).hash, data, resolve, reject})
      if (!this.flushing) {
        this.flushing = true
        setImmediate(() => void this.flush())
      }
    })
  }

  /** Refuses new signatures, waits for those asked for already, then stops the threads. */
  async close(): Promise<void> {
    this.closed = true
    if (!this.idle()) await new Promise<void>((resolve) => this.idleWaiters.push(resolve))
    const threads = this.threads
    this.threads = []
    await Promise.all(threads.map((t) => t.worker.terminate()))
  }

  private idle(): boolean {
    return !this.flushing && this.queue.length === 0 && this.threads.every((t) => t.pending.size === 0)
  }

  private settled(): void {
    if (this.idleWaiters.length > 0 && this.idle()) for (const resolve of this.idleWaiters.splice(0)) resolve()
  }

  /** Sends what was queued: one message per key, each to the thread with the least to do. */
  private async flush(): Promise<void> {
    try {
      const {Worker} = await import('node:worker_threads')
      const jobs = this.queue
      this.queue = []
      try {
        while (this.threads.length < this.count) this.threads.push(this.spawn(Worker))
      } catch (error) {
        const failure = new WidError('internal', `crypto: cannot start a signing thread: ${(error as Error).message}`)
        for (const job of jobs) job.reject(failure)
        return
      }
      const byKey = new Map<KeyObject, Job[]>()
      for (const job of jobs) {
        const group = byKey.get(job.key)
        if (group) group.push(job)
        else byKey.set(job.key, [job])
      }
      for (const [key, group] of byKey) this.send(key, group)
    } finally {
      this.flushing = false
      this.settled()
    }
  }

  private send(key: KeyObject, group: Job[]): void {
    const thread = this.threads.reduce((a, b) => (b.load < a.load ? b : a))
    const id = this.nextId++
    try {
      const packed = pack(group.map((j) => j.data))
      const request: SignRequest = {id, key, hash: group[0]!.hash, packed, lengths: group.map((j) => j.data.length)}
      thread.worker.postMessage(request, [packed.buffer])
    } catch (error) {
      const failure = new WidError('internal', `crypto: cannot hand a signature to a signing thread: ${(error as Error).message}`)
      for (const job of group) job.reject(failure)
      return
    }
    thread.pending.set(id, group)
    thread.load += group.length
  }

  private spawn(WorkerClass: typeof Worker): Thread {
    const worker = new WorkerClass(new URL(import.meta.url), {name: 'wid-signing', env: {...process.env, [SIGNING_THREAD_ENV]: '1'}})
    const thread: Thread = {worker, pending: new Map(), load: 0}
    worker.on('message', (reply: SignReply) => {
      const jobs = thread.pending.get(reply.id)
      thread.pending.delete(reply.id)
      if (!jobs) return
      thread.load -= jobs.length
      let offset = 0
      jobs.forEach((job, i) => {
        const result = reply.results[i]
        if (typeof result === 'number') {
          job.resolve(reply.packed.subarray(offset, offset + result))
          offset += result
        } else {
          job.reject(new WidError('internal', `crypto: signing failed: ${result ?? 'no answer'}`))
        }
      })
      this.settled()
    })
    worker.on('error', (error) => this.lost(thread, `failed: ${error.message}`))
    worker.on('exit', (code) => this.lost(thread, `exited (code ${code})`))
    return thread
  }

  /** A thread is gone: what it had not answered fails, and the next signature starts another. */
  private lost(thread: Thread, why: string): void {
    this.threads = this.threads.filter((t) => t !== thread)
    const error = new WidError('internal', `crypto: a signing thread ${why}; its signatures were not made`)
    for (const jobs of thread.pending.values()) for (const job of jobs) job.reject(error)
    thread.pending.clear()
    thread.load = 0
    this.settled()
  }
}

/** The body of a signing thread: each message's data signed in order, each item answered on its own. */
async function runSigningThread(parentPort: MessagePort): Promise<void> {
  const {sign} = await import('node:crypto')
  parentPort.on('message', ({id, key, hash, packed, lengths}: SignRequest) => {
    const signatures: Uint8Array[] = []
    let offset = 0
    const results = lengths.map((length): number | string => {
      const data = packed.subarray(offset, offset + length)
      offset += length
      try {
        const signature = sign(hash, data, key)
        signatures.push(signature)
        return signature.length
      } catch (error) {
        return (error as Error).message
      }
    })
    const reply: SignReply = {id, packed: pack(signatures), results}
    parentPort.postMessage(reply, [reply.packed.buffer])
  })
}

if (process.env[SIGNING_THREAD_ENV]) {
  const {isMainThread, parentPort} = await import('node:worker_threads')
  if (!isMainThread && parentPort) await runSigningThread(parentPort)
}
