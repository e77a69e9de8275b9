/**
 * One address cannot take all of the server's connections, and connections that never get
 * to a request do not live long. (On Linux every 127.x.y.z reaches a server on 127.0.0.1, so
 * each client binds a source address of its own.)
 */
import {connect, type Socket} from 'node:net'
import {connect as tlsConnect} from 'node:tls'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {tempDir, widIn} from '../helpers/cli.js'
import {startWidServer, within, type WidServer} from '../helpers/server.js'

/** Concurrent connections of one address (an IPv6 address counts by its /64), as the README says. */
const PER_ADDRESS = 256

interface Raw {
  socket: Socket
  closed: boolean
}

describe('connections to the server', () => {
  const tmp = tempDir()
  const home = join(tmp.path, 'server')
  let server: WidServer

  beforeAll(async () => {
    expect((await widIn(home)(['init', '--cluster-name', 'example.org'])).code).toBe(0)
    server = await startWidServer(home)
  })
  afterAll(async () => {
    await server?.stop()
    tmp.cleanup()
  })

  /** A TCP connection from `localAddress` that sends nothing. */
  const raw = (localAddress: string): Raw => {
    const socket = connect({host: '127.0.0.1', port: server.port, localAddress})
    const entry: Raw = {socket, closed: false}
    socket.on('error', () => undefined)
    socket.on('close', () => (entry.closed = true))
    socket.resume()
    return entry
  }
  /** A TLS connection from `localAddress` (any certificate: these tests check only how the server treats connections). */
  const tls = (localAddress: string, secure: () => void) =>
    tlsConnect({socket: connect({host: '127.0.0.1', port: server.port, localAddress}), rejectUnauthorized: false}, secure)
  const healthz = (localAddress: string) =>
    new Promise<string>((resolve, reject) => {
      const socket = tls(localAddress, () => {
        socket.end('GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n')
      })
      let answer = ''
      socket.on('data', (d) => (answer += d))
      socket.on('error', reject)
      socket.on('close', () => resolve(answer.split('\r\n')[0]!))
    })

  it(`closes the connections of one address beyond ${PER_ADDRESS} at once, logging it once, while other addresses are served`, async () => {
    // Given 50 more TCP connections than the limit from one address, none starting TLS
    const flood = Array.from({length: PER_ADDRESS + 50}, () => raw('127.9.9.9'))
    try {
      const closed = () => flood.filter((c) => c.closed).length
      // Then the 50 beyond the limit are closed at once
      await within(10, () => closed() === 50, () => `${closed()} of ${flood.length} closed`)
      // And another address is served meanwhile
      expect(await healthz('127.0.0.2')).toBe('HTTP/1.1 200 OK')
      // And the others stay open (until the handshake timeout)
      expect(closed()).toBe(50)
      // And the log says so in one line, not one per connection
      await within(5, () => /connection limit/.test(server.log()), server.log)
      const lines = server.log().split('\n').filter((line) => /connection limit/.test(line))
      expect(lines).toHaveLength(1)
      expect(JSON.parse(lines[0]!)).toMatchObject({level: 40, addressGroup: '127.9.9.9', limit: PER_ADDRESS})
    } finally {
      for (const c of flood) c.socket.destroy()
    }
  })

  it('closes a connection that never starts TLS, and one that never finishes its request headers', async () => {
    // Given a connection that sends nothing, and one that sends half a request after TLS
    const silent = raw('127.0.0.3')
    const slow = {closed: false}
    const slowSocket = tls('127.0.0.4', () => {
      slowSocket.write('GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n')
    })
    let answer = ''
    slowSocket.on('data', (d) => (answer += d))
    slowSocket.on('error', () => undefined)
    slowSocket.on('close', () => (slow.closed = true))
    try {
      // Then the server closes both (after the 10 s handshake and request-header timeouts)
      await within(25, () => silent.closed && slow.closed, () => `silent closed: ${silent.closed}, slow closed: ${slow.closed}`)
      expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 408 Request Timeout')
    } finally {
      silent.socket.destroy()
      slowSocket.destroy()
    }
  })
})
