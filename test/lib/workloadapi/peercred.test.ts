import {createServer, connect, type Socket} from 'node:net'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {peerCredentials} from '../../../src/lib/workloadapi/peercred.js'
import {refusal} from '../../helpers/errors.js'
import {WorkloadServer} from './workloads.js'

describe('peerCredentials', () => {
  const server = new WorkloadServer()
  beforeAll(() => server.listen())
  afterAll(() => server.close())

  it('gives the pid, uid and gid of the process that connected, from the kernel', async () => {
    // Given two workloads run as different users
    const first = await server.connect(1000, 50)
    const second = await server.connect(1001, 1002)
    // Then each connection's credentials are its own process's
    expect(peerCredentials(first.socket)).toEqual({pid: first.child.pid, uid: 1000, gid: 50})
    expect(peerCredentials(second.socket)).toEqual({pid: second.child.pid, uid: 1001, gid: 1002})
  })

  it('refuses a TCP socket: TCP callers get no attestation', async () => {
    const tcp = createServer()
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve))
    const accepted = new Promise<Socket>((resolve) => tcp.once('connection', resolve))
    const client = connect((tcp.address() as {port: number}).port, '127.0.0.1')
    const socket = await accepted
    try {
      const error = refusal(() => peerCredentials(socket))
      expect(error.code).toBe('bad_input')
      expect(error.message).toBe('workloadapi: peer credentials need a unix socket, not address family 2 (TCP callers get no attestation)')
    } finally {
      socket.destroy()
      client.destroy()
      await new Promise((resolve) => tcp.close(resolve))
    }
  })

  it('refuses a socket that has no file descriptor', async () => {
    const {socket} = await server.connect(1000, 50)
    socket.destroy()
    const error = refusal(() => peerCredentials(socket))
    expect(error.message).toBe('workloadapi: peer credentials: the socket has no file descriptor (closed, or not a connected socket)')
  })
})
