/**
 * The writer thread of the embedded backend (SqliteOptions.writerThread): a second
 * connection, on a thread of its own, that commits a server's writes in order, so that
 * the event loop does not wait for fsync (synchronous=FULL) while other requests could run.
 * This module is also the thread's code: the thread runs this file again, told by its
 * environment which database to open.
 */
import type {DatabaseSync} from 'node:sqlite'
import type {MessagePort, Worker} from 'node:worker_threads'
import {isWidError, WidError, type ErrorCode} from '../errors.js'
import type {Condition, Operation} from './backend.js'
import {applyDeleteRange, applyWrite, connect, prepareStatements, type Statements} from './sqlite-statements.js'

/**
 * Set in a writer thread's environment to the database path. An environment variable rather
 * than workerData so that ordinary runs need not load node:worker_threads (1.5 ms at
 * start-up) to find out that they are not a writer thread.
 */
const WRITER_THREAD_ENV = 'WID_SQLITE_WRITER_THREAD'

/** What the thread is asked to do: an atomic write, or a range deletion (Backend.deleteRange). */
export type WriteTask =
  | {type: 'write'; conditions: Condition[]; operations: Operation[]}
  | {type: 'deleteRange'; from: string; before: string; limit: number}

type WriteRequest = WriteTask & {id: number}

/** An error as it crosses from the writer thread: a WidError keeps its code, others what storageError needs. */
type WriteReply = {id: number; result: number} | {id: number; error: {message: string; widCode?: ErrorCode; code?: string; errcode?: number}}

type Waiter = {resolve: (result: number) => void; reject: (error: unknown) => void}

/** Runs one task on a connection: what the thread does, and what a backend without a thread does itself. */
export function runTask(db: DatabaseSync, statements: Statements, task: WriteTask): number {
  return task.type === 'write'
    ? applyWrite(db, statements, task.conditions, task.operations)
    : applyDeleteRange(db, statements, task.from, task.before, task.limit)
}

/**
 * A thread that applies the writes of one backend through its own connection, in order.
 * If the thread dies, the writes it had not answered fail (whether they committed is
 * unknown) and the next write starts a new thread.
 */
export class WriterThread {
  private readonly path: string
  private worker: Promise<Worker> | undefined
  private readonly pending = new Map<number, Waiter>()
  private readonly inFlight = new Set<Promise<number>>()
  private nextId = 0
  private closed = false

  private constructor(path: string) {
    this.path = path
  }

  /** Starts the thread and waits until its connection is open, so that a store it cannot open fails here. */
  static async start(path: string): Promise<WriterThread> {
    const writer = new WriterThread(path)
    await writer.ensureWorker()
    return writer
  }

  private ensureWorker(): Promise<Worker> {
    this.worker ??= this.spawn().catch((error: unknown) => {
      this.worker = undefined
      throw error
    })
    return this.worker
  }

  private async spawn(): Promise<Worker> {
    const {Worker} = await import('node:worker_threads')
    const worker = new Worker(new URL(import.meta.url), {name: 'wid-sqlite', env: {...process.env, [WRITER_THREAD_ENV]: this.path}})
    await new Promise<void>((resolve, reject) => {
      const settle = (error?: unknown) => {
        worker.off('message', onReady)
        worker.off('error', settle)
        worker.off('exit', onExit)
        if (error === undefined) resolve()
        else reject(error)
      }
      const onReady = (ready: {ready: true} | {error: string}) =>
        settle('ready' in ready ? undefined : new WidError('state', `backend: the writer thread cannot open ${this.path}: ${ready.error}`))
      const onExit = (code: number) => settle(new WidError('internal', `backend: the writer thread of ${this.path} exited at start (code ${code})`))
      worker.on('message', onReady)
      worker.on('error', settle)
      worker.on('exit', onExit)
    })
    worker.on('message', (reply: WriteReply) => {
      const waiter = this.pending.get(reply.id)
      this.pending.delete(reply.id)
      if ('result' in reply) return waiter?.resolve(reply.result)
      const {message, widCode, ...details} = reply.error
      waiter?.reject(widCode ? new WidError(widCode, message) : Object.assign(new Error(message), details))
    })
    worker.on('error', (error) => this.lost(worker, `failed: ${error.message}`))
    worker.on('exit', (code) => this.lost(worker, `exited (code ${code})`))
    return worker
  }

  /** The thread is gone: what it had not answered fails, and the next write starts another. */
  private lost(worker: Worker, why: string): void {
    void this.worker?.then((current) => {
      if (current !== worker) return
      this.worker = undefined
      const error = new WidError('internal', `backend: the writer thread of ${this.path} ${why}; the write may or may not have been applied`)
      for (const waiter of this.pending.values()) waiter.reject(error)
      this.pending.clear()
    })
  }

  /** Runs the task on the thread: the new revision of a write, the number of keys a deleteRange deleted. */
  run(task: WriteTask): Promise<number> {
    if (this.closed) return Promise.reject(new WidError('unavailable', `backend: ${this.path} is closed`))
    const id = this.nextId++
    const done = this.ensureWorker().then(
      (worker) =>
        new Promise<number>((resolve, reject) => {
          this.pending.set(id, {resolve, reject})
          worker.postMessage({...task, id} satisfies WriteRequest)
        }),
    )
    this.inFlight.add(done)
    const settled = () => void this.inFlight.delete(done)
    done.then(settled, settled)
    return done
  }

  /** Refuses new writes, waits for those in flight, then stops the thread. */
  async close(): Promise<void> {
    this.closed = true
    await Promise.allSettled(this.inFlight)
    const worker = await this.worker?.catch(() => undefined)
    this.worker = undefined
    await worker?.terminate()
  }
}

/** The body of a writer thread: runs each request in order and answers with its result or its error. */
async function runWriterThread(path: string, parentPort: MessagePort): Promise<void> {
  let db: DatabaseSync
  let statements: Statements
  try {
    db = await connect(path)
    statements = prepareStatements(db)
  } catch (error) {
    parentPort.postMessage({error: (error as Error).message})
    return
  }
  parentPort.on('message', (request: WriteRequest) => {
    let reply: WriteReply
    try {
      reply = {id: request.id, result: runTask(db, statements, request)}
    } catch (error) {
      const {message, code, errcode} = error as {message?: string; code?: string; errcode?: number}
      reply = {id: request.id, error: {message: message ?? String(error), code, errcode, ...(isWidError(error) ? {widCode: error.code} : {})}}
    }
    parentPort.postMessage(reply)
  })
  parentPort.postMessage({ready: true})
}

const writerThreadOf = process.env[WRITER_THREAD_ENV]
if (writerThreadOf) {
  const {isMainThread, parentPort} = await import('node:worker_threads')
  if (!isMainThread && parentPort) await runWriterThread(writerThreadOf, parentPort)
}
