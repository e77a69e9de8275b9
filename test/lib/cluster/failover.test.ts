/**
 * The rule of failover between the servers of one cluster, against real peers on loopback:
 * which failures send a request on to the next server (it certainly was not processed) and
 * which end the call (it may have been).
 */
import {readFileSync} from 'node:fs'
import {Agent} from 'node:https'
import {createServer, type Server} from 'node:https'
import type {AddressInfo} from 'node:net'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {postApi} from '../../../src/lib/cluster/api-client.js'
import {NotProcessed, ServerList, splitAddresses} from '../../../src/lib/cluster/failover.js'
import {normalizeProxy} from '../../../src/lib/cluster/login.js'
import {tempDir} from '../../helpers/cli.js'
import {openssl} from '../../helpers/openssl.js'
import {freePort} from '../../helpers/server.js'

type Mode = 'ok' | 'store-down' | 'unavailable' | 'error' | 'drop'

/** What a peer answers every POST with; `requests` counts the requests it read. */
interface Peer {
  address: string
  requests: number
}

const tmp = tempDir()
const servers: Server[] = []
let agent: Agent
let key: string
let cert: string
let other: {key: string; cert: string}

function selfSigned(name: string): {key: string; cert: string} {
  const [k, c] = [join(tmp.path, `${name}.key`), join(tmp.path, `${name}.pem`)]
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', k, '-out', c, '-subj', '/CN=127.0.0.1', '-days', '1', '-addext', 'subjectAltName=IP:127.0.0.1'])
  return {key: readFileSync(k, 'utf8'), cert: readFileSync(c, 'utf8')}
}

async function peer(mode: Mode, tls = {key, cert}): Promise<Peer> {
  const state = {address: '', requests: 0}
  const server = createServer(tls, (req, res) => {
    req.resume()
    req.on('end', () => {
      state.requests++
      const answer = (status: number, body: object) => res.writeHead(status, {'content-type': 'application/json'}).end(JSON.stringify(body))
      if (mode === 'ok') answer(200, {result: state.address})
      else if (mode === 'store-down') answer(503, {error: {code: 'unavailable', message: 'api: this server cannot reach its store; the request was not processed', processed: false}})
      else if (mode === 'unavailable') answer(503, {error: {code: 'unavailable', message: 'backend: PostgreSQL is unavailable; the write may or may not have been applied'}})
      else if (mode === 'error') answer(500, {error: {code: 'internal', message: 'internal error'}})
      else req.socket.destroy()
    })
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  state.address = `127.0.0.1:${(server.address() as AddressInfo).port}`
  return state
}

const refused = async (): Promise<string> => `127.0.0.1:${await freePort()}`

/** One API call through `list`, as RemoteCluster makes it. */
const call = (list: ServerList) => list.call('remote', (address) => postApi(address, '/v1/status', agent, {}, 'remote'))

beforeAll(() => {
  ;({key, cert} = selfSigned('trusted'))
  other = selfSigned('other')
  agent = new Agent({ca: [cert], keepAlive: true})
})
afterAll(() => {
  agent.destroy()
  for (const server of servers) {
    server.closeAllConnections()
    server.close()
  }
  tmp.cleanup()
})

describe('failover between servers', () => {
  it('moves past a server that refuses the connection, and tries the one that answered first from then on', async () => {
    const [closed, a, b] = [await refused(), await peer('ok'), await peer('ok')]
    const moves: string[] = []
    const list = new ServerList([closed, a.address, b.address], undefined, async (address) => void moves.push(address))
    expect((await call(list)).result).toBe(a.address)
    expect([list.answered, moves]).toEqual([a.address, [a.address]])
    expect((await call(list)).result).toBe(a.address)
    expect([a.requests, b.requests, moves]).toEqual([2, 0, [a.address]])
  })

  it('starts from the server that answered last, when it is listed', async () => {
    const [a, b] = [await peer('ok'), await peer('ok')]
    expect((await call(new ServerList([a.address, b.address], b.address))).result).toBe(b.address)
    expect((await call(new ServerList([a.address, b.address], '127.0.0.1:1'))).result).toBe(a.address)
  })

  it('moves past a failed TLS handshake (a certificate it does not trust)', async () => {
    const [untrusted, b] = [await peer('ok', other), await peer('ok')]
    expect((await call(new ServerList([untrusted.address, b.address]))).result).toBe(b.address)
    expect(untrusted.requests).toBe(0)
  })

  it('moves past a server that refused the request unread because its store is down (503, processed: false)', async () => {
    const [down, b] = [await peer('store-down'), await peer('ok')]
    expect((await call(new ServerList([down.address, b.address]))).result).toBe(b.address)
    expect(down.requests).toBe(1)
  })

  it.each([
    ['a 503 that does not say the request went unread', 'unavailable' as const, /the write may or may not have been applied/],
    ['a 500', 'error' as const, /^internal error$/],
    ['a connection lost after the request was sent', 'drop' as const, /^remote: cannot reach 127\.0\.0\.1:\d+: /],
  ])('stops at %s: the request may have been processed', async (_name, mode, message) => {
    const [first, b] = [await peer(mode), await peer('ok')]
    const error = await call(new ServerList([first.address, b.address])).then(() => expect.fail('a server answered'), (e: unknown) => e as Error)
    expect(error).not.toBeInstanceOf(NotProcessed)
    expect(error.message).toMatch(message)
    expect([first.requests, b.requests]).toEqual([1, 0])
  })

  it('names every server and why in one line when none answers', async () => {
    const [closed, down] = [await refused(), await peer('store-down')]
    const error = await call(new ServerList([closed, down.address])).then(() => expect.fail('a server answered'), (e: unknown) => e as Error)
    expect(error.message).toBe(`remote: cannot reach any server: ${closed} (connection refused), ${down.address} (its store is unavailable)`)
  })

  it('keeps the message of a single server', async () => {
    const closed = await refused()
    const error = await call(new ServerList([closed])).then(() => expect.fail('a server answered'), (e: unknown) => e as Error)
    expect(error.message).toBe(`remote: cannot reach ${closed}: connection refused`)
  })

  it('reads a comma-separated list, each address made whole, the same one listed twice counted once', () => {
    expect(splitAddresses('a.example.org, b.example.org:4443,a.example.org:3443', normalizeProxy)).toEqual(['a.example.org:3443', 'b.example.org:4443'])
    expect(() => splitAddresses('a.example.org,,b', normalizeProxy)).toThrow('login: invalid --proxy "" (expected HOST[:PORT], a port from 1 to 65535)')
  })
})
