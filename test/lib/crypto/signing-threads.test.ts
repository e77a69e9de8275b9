/**
 * Signatures made on worker threads (src/lib/crypto/signing-threads.ts). A thread runs the
 * module's own file, which has to be JavaScript, so the build is tested (`npm test` builds
 * first), as for the SQLite writer thread.
 */
import {createPublicKey, generateKeyPairSync, verify} from 'node:crypto'
import {dirname, join} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'
import {afterEach, describe, expect, it} from 'vitest'
import type {SigningThreads as SigningThreadsType} from '../../../src/lib/crypto/signing-threads.js'
import type * as Keys from '../../../src/lib/crypto/keys.js'

const built = (file: string) => pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'dist', 'lib', 'crypto', file)).href
const {SigningThreads} = (await import(built('signing-threads.js'))) as {SigningThreads: typeof SigningThreadsType}
const {importPrivateKeyPem} = (await import(built('keys.js'))) as typeof Keys

/** A CA key as the server holds it (imported from its stored PEM), with its public key. */
function caKey(type: 'ec-p256' | 'rsa-2048') {
  const {privateKey} = type === 'ec-p256' ? generateKeyPairSync('ec', {namedCurve: 'P-256'}) : generateKeyPairSync('rsa', {modulusLength: 2048})
  return {...importPrivateKeyPem(privateKey.export({type: 'pkcs8', format: 'pem'}) as string), publicKey: createPublicKey(privateKey)}
}

const data = (i: number) => Buffer.from(`to be signed ${i} `.repeat(20))

/** Rejections as [code, message] (the build's WidError is not the sources' class). */
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: {code?: string; message: string}) => [error.code, error.message],
  )

describe('SigningThreads', () => {
  let threads: SigningThreadsType | undefined
  afterEach(async () => {
    await threads?.close()
    threads = undefined
  })

  it('signs concurrent requests with several keys, each answered with its own key', async () => {
    threads = new SigningThreads(2)
    const keys = [caKey('ec-p256'), caKey('rsa-2048')]
    const jobs = Array.from({length: 60}, (_, i) => ({i, key: keys[i % 2]!}))
    const signatures = await Promise.all(jobs.map(({i, key}) => threads!.sign(key.privateKey, key.type, data(i))))
    jobs.forEach(({i, key}, n) => {
      expect(verify('sha256', data(i), key.publicKey, signatures[n]!)).toBe(true)
      expect(verify('sha256', data(i + 1), key.publicKey, signatures[n]!)).toBe(false)
    })
  })

  it('fails only the signature that cannot be made', async () => {
    threads = new SigningThreads(1)
    const good = caKey('ec-p256')
    // an Ed25519 key cannot sign with SHA-256: the thread refuses that one item
    const ed25519 = generateKeyPairSync('ed25519').privateKey.toCryptoKey({name: 'Ed25519'}, true, ['sign'])
    const results = await Promise.allSettled([
      threads.sign(good.privateKey, good.type, data(1)),
      threads.sign(ed25519, 'ec-p256', data(2)),
      threads.sign(good.privateKey, good.type, data(3)),
    ])
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect(verify('sha256', data(3), good.publicKey, (results[2] as PromiseFulfilledResult<Uint8Array>).value)).toBe(true)
    expect(await failure(threads.sign(ed25519, 'ec-p256', data(2)))).toEqual(['internal', expect.stringMatching(/^crypto: signing failed: /)])
  })

  it('fails what a lost thread had not answered, and starts another for the next signature', async () => {
    threads = new SigningThreads(1)
    const key = caKey('ec-p256')
    await threads.sign(key.privateKey, key.type, data(0))
    const many = Array.from({length: 2000}, (_, i) => threads!.sign(key.privateKey, key.type, data(i)))
    await new Promise((resolve) => setImmediate(resolve))
    // the thread dies while it signs (as if it crashed)
    const {worker} = (threads as unknown as {threads: {worker: {terminate(): Promise<number>}}[]}).threads[0]!
    await worker.terminate()
    const outcomes = await Promise.all(many.map(failure))
    const failed = outcomes.filter((o) => o !== undefined)
    expect(failed.length).toBeGreaterThan(0)
    for (const f of failed) expect(f).toEqual(['internal', 'crypto: a signing thread exited (code 1); its signatures were not made'])
    const signature = await threads.sign(key.privateKey, key.type, data(7))
    expect(verify('sha256', data(7), key.publicKey, signature)).toBe(true)
  })

  it('finishes the signatures asked for before close, and refuses those after', async () => {
    const own = new SigningThreads(1)
    const key = caKey('ec-p256')
    const before = Array.from({length: 20}, (_, i) => own.sign(key.privateKey, key.type, data(i)))
    await own.close()
    const signatures = await Promise.all(before)
    signatures.forEach((s, i) => expect(verify('sha256', data(i), key.publicKey, s)).toBe(true))
    expect(await failure(own.sign(key.privateKey, key.type, data(0)))).toEqual(['unavailable', 'crypto: the signing threads are closed'])
  })
})
