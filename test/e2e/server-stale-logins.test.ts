/**
 * Logins that are no longer valid, refused by `wid server` on every request: one past its
 * expiry (on a connection kept alive since, or on a TLS session resumed after it) and one
 * of a user reset since.
 */
import {connect, type ConnectionOptions, type TLSSocket} from 'node:tls'
import {join} from 'node:path'
import {Client} from 'undici'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {expectOneLineError, tempDir, widIn} from '../helpers/cli.js'
import {inviteFile, loginProfile, startWidServer, type WidServer} from '../helpers/server.js'

const PASSWORD = 'correct horse battery staple'
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** One HTTP/1.1 POST on a TLS connection of our own, which the server then closes. */
function postOnSocket(socket: TLSSocket, method: string): Promise<{status: number; body: {error?: {code: string; message: string}}}> {
  return new Promise((resolve, reject) => {
    let text = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => (text += chunk))
    socket.once('error', reject)
    socket.once('end', () => {
      const [head = '', body = ''] = text.split('\r\n\r\n')
      resolve({status: Number(head.split(' ')[1]), body: JSON.parse(body)})
    })
    socket.write(`POST /v1/${method} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}`)
  })
}

function tlsConnect(options: ConnectionOptions): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({...options, checkServerIdentity: () => undefined}, () => resolve(socket))
    socket.once('error', reject)
  })
}

describe('wid server refuses logins that are no longer valid', () => {
  const tmp = tempDir()
  const serverHome = join(tmp.path, 'server')
  const admin = widIn(serverHome)
  let server: WidServer
  let pin: string

  const login = async (home: string, user: string, extra: string[]) =>
    widIn(home)(['login', '--proxy', `127.0.0.1:${server.port}`, '--user', user, '--ca-pin', pin, '--password-stdin', ...extra], {input: `${PASSWORD}\n`})

  beforeAll(async () => {
    expect((await admin(['init', '--cluster-name', 'example.org'])).code).toBe(0)
    server = await startWidServer(serverHome)
    pin = JSON.parse((await admin(['status', '--json'])).stdout).hostCaPins[0]
  })
  afterAll(async () => {
    await server?.stop()
    tmp.cleanup()
  })

  it('a login past its expiry, on a connection kept alive since and on a TLS session resumed after it', async () => {
    // Given ivy, logged in for 4 seconds
    const home = join(tmp.path, 'ivy')
    const invite = (await admin(['users', 'add', 'ivy', '--roles', 'access'])).stdout.trim()
    const loggedIn = await login(home, 'ivy', ['--invite-file', inviteFile(tmp.path, invite), '--ttl', '4s'])
    expect(loggedIn.code, loggedIn.stderr).toBe(0)
    const {key, cert, ca, expires} = loginProfile(home, server.port)
    // And one connection (an undici Client is a single one) that her certificate opened
    const client = new Client(server.url, {connect: {ca, cert, key, checkServerIdentity: () => undefined}, keepAliveTimeout: 60_000, pipelining: 1})
    let connections = 0
    client.on('connect', () => connections++)
    const call = async () => {
      const response = await client.request({path: '/v1/whoami', method: 'POST', headers: {'content-type': 'application/json'}, body: '{}'})
      return {status: response.statusCode, body: (await response.body.json()) as {error?: {code: string; message: string}}}
    }
    expect((await call()).status).toBe(200)
    // And a TLS session saved from another connection made before the expiry
    const first = await tlsConnect({host: '127.0.0.1', port: server.port, ca, cert, key})
    let session: Buffer | undefined
    first.on('session', (ticket: Buffer) => (session = ticket))
    expect((await postOnSocket(first, 'whoami')).status).toBe(200)
    expect(session).toBeDefined()
    try {
      // When she keeps the connection busy until after the certificate's notAfter
      while (Date.now() <= Date.parse(expires) + 1500) {
        await call()
        await sleep(200)
      }
      const late = await call()
      // Then the same connection is refused, with advice
      expect(connections).toBe(1)
      expect(late).toEqual({status: 401, body: {error: {code: 'access_denied', message: 'api: your client certificate has expired; run wid login'}}})
      // And a new connection resuming the earlier session (no certificate sent at all) is refused too
      const resumed = await tlsConnect({host: '127.0.0.1', port: server.port, ca, session})
      expect(resumed.isSessionReused()).toBe(true)
      expect(await postOnSocket(resumed, 'whoami')).toEqual({status: 401, body: {error: {code: 'access_denied', message: 'api: your client certificate has expired; run wid login'}}})
    } finally {
      await client.close()
    }
  })

  it('whoami and exportTrust refuse the login of a user who was reset since, as every other method does', async () => {
    // Given hank, logged in, for whom whoami and exportTrust answer
    const home = join(tmp.path, 'hank')
    const invite = (await admin(['users', 'add', 'hank', '--roles', 'access'])).stdout.trim()
    expect((await login(home, 'hank', ['--invite-file', inviteFile(tmp.path, invite)])).code).toBe(0)
    const {key, cert, ca} = loginProfile(home, server.port)
    const client = new Client(server.url, {connect: {ca, cert, key, checkServerIdentity: () => undefined}})
    const call = async (method: string, body: object) => {
      const response = await client.request({path: `/v1/${method}`, method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify(body)})
      return {status: response.statusCode, body: (await response.body.json()) as {result?: unknown; error?: {code: string; message: string}}}
    }
    try {
      expect(await call('whoami', {})).toMatchObject({status: 200, body: {result: {kind: 'user', name: 'hank'}}})
      expect((await call('exportTrust', {type: 'jwks'})).status).toBe(200)
      // When an admin resets hank on the server host
      expect((await admin(['users', 'reset', 'hank'])).code).toBe(0)
      // Then his login is refused by both, with the words every other method uses
      const stale = {code: 'access_denied', message: 'auth: user "hank" was reset, or removed and added again, since this login; run wid login'}
      expect(await call('whoami', {})).toEqual({status: 403, body: {error: stale}})
      for (const type of ['tls-spiffe', 'jwks', 'spiffe-bundle']) expect(await call('exportTrust', {type})).toEqual({status: 403, body: {error: stale}})
      // And wid auth export says so in one line, with exit 5
      const exported = await widIn(home)(['auth', 'export', '--type', 'tls-spiffe'])
      expect([exported.code, expectOneLineError(exported)]).toEqual([5, stale.message])
    } finally {
      await client.close()
    }
  })
})
