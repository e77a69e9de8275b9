/** httpRequest against a local HTTPS server whose certificate openssl made (trusted through `ca`). */
import {createServer, type Server} from 'node:https'
import type {AddressInfo} from 'node:net'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {httpRequest, neverSent} from '../../src/lib/http-client.js'
import {ConnectTimeout, HttpTimeout} from '../../src/lib/http-timeouts.js'
import {tempDir} from '../helpers/cli.js'
import {openssl} from '../helpers/openssl.js'

const tmp = tempDir()
let server: Server
let base: string
let ca: string

beforeAll(async () => {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(tmp.path, 'k.pem'), '-out', join(tmp.path, 'c.pem'), '-subj', '/CN=127.0.0.1', '-days', '1', '-addext', 'subjectAltName=IP:127.0.0.1'])
  ca = readFileSync(join(tmp.path, 'c.pem'), 'utf8')
  server = createServer({key: readFileSync(join(tmp.path, 'k.pem')), cert: ca}, (req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      if (req.url === '/echo') res.writeHead(201, {'x-got': req.headers['content-type'] ?? ''}).end(`${req.method} ${body}`)
      else if (req.url === '/large') res.end('x'.repeat(2048))
      // /silent: never answers
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => {
  server.closeAllConnections()
  server.close()
  tmp.cleanup()
})

describe('httpRequest', () => {
  it('sends the body and headers and reads the answer whole', async () => {
    const answer = await httpRequest(`${base}/echo`, {method: 'POST', body: '{"a":1}', headers: {'content-type': 'application/json'}, tls: {ca}, timeoutMs: 5000})
    expect(answer).toMatchObject({status: 201, text: 'POST {"a":1}'})
    expect(answer.headers['x-got']).toBe('application/json')
  })

  it('refuses a server its ca does not vouch for', async () => {
    await expect(httpRequest(`${base}/echo`, {timeoutMs: 5000})).rejects.toThrow(/self.signed/)
  })

  it('stops reading an answer larger than maxBytes', async () => {
    await expect(httpRequest(`${base}/large`, {tls: {ca}, timeoutMs: 5000, maxBytes: 1024})).rejects.toThrow('the answer is larger than 1024 bytes')
  })

  it('gives up at the deadline when nothing answers', async () => {
    await expect(httpRequest(`${base}/silent`, {tls: {ca}, timeoutMs: 300})).rejects.toThrow('no answer within the 300 ms timeout')
  })
})

describe('neverSent', () => {
  const failure = (promise: Promise<unknown>) => promise.then(() => expect.fail('the request succeeded'), (error: unknown) => error)

  it('is true of a failure before the connection: refused, timed out connecting, a failed TLS handshake', async () => {
    const {freePort} = await import('../helpers/server.js')
    const {createServer: createTcpServer} = await import('node:net')
    const mute = createTcpServer(() => undefined)
    await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve))
    try {
      const refused = await failure(httpRequest(`https://127.0.0.1:${await freePort()}/echo`, {method: 'POST', body: '{}', tls: {ca}, timeoutMs: 5000}))
      expect((refused as {code?: string}).code).toBe('ECONNREFUSED')
      const slow = await failure(httpRequest(`https://127.0.0.1:${(mute.address() as AddressInfo).port}/echo`, {method: 'POST', body: '{}', tls: {ca}, timeoutMs: 5000, connectTimeoutMs: 200}))
      expect(slow).toBeInstanceOf(ConnectTimeout)
      const untrusted = await failure(httpRequest(`${base}/echo`, {method: 'POST', body: '{}', timeoutMs: 5000}))
      for (const error of [refused, slow, untrusted]) expect(neverSent(error)).toBe(true)
    } finally {
      mute.close()
    }
  })

  it('is false once the request may have been read: no answer in time', async () => {
    const late = await failure(httpRequest(`${base}/silent`, {method: 'POST', body: '{}', tls: {ca}, timeoutMs: 300, connectTimeoutMs: 200}))
    expect(late).toBeInstanceOf(HttpTimeout)
    expect(late).not.toBeInstanceOf(ConnectTimeout)
    expect(neverSent(late)).toBe(false)
  })
})
