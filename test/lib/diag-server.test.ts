/**
 * The diagnostics listener (src/lib/diag-server.ts) keeps a bounded number of connections:
 * past it, a new connection is closed at once, and the ones it kept still answer.
 */
import {connect, type Socket} from 'node:net'
import {afterEach, describe, expect, it} from 'vitest'
import {startDiagServer, type DiagServer} from '../../src/lib/diag-server.js'

let server: DiagServer | undefined
const sockets: Socket[] = []
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy()
  await server?.close()
})

const open = (port: number) =>
  new Promise<Socket>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket))
    socket.on('error', reject)
    sockets.push(socket)
  })

/** What a connection hears to a GET of `path`: its status line, or `closed` when the listener drops it. */
const ask = (socket: Socket, path: string) =>
  new Promise<string>((resolve) => {
    let answer = ''
    socket.on('data', (data) => {
      answer += data.toString()
      if (answer.includes('\r\n')) resolve(answer.split('\r\n')[0]!)
    })
    socket.on('close', () => resolve(answer === '' ? 'closed' : answer.split('\r\n')[0]!))
    socket.write(`GET ${path} HTTP/1.1\r\nhost: x\r\n\r\n`)
  })

describe('the diagnostics listener', () => {
  it('keeps 64 connections at most: the 65th is closed, the others still answer', async () => {
    server = await startDiagServer('127.0.0.1:0', 'test', {notReady: async () => [], metrics: async () => ''})
    const kept: Socket[] = []
    for (let i = 0; i < 64; i++) kept.push(await open(server.port))
    expect(await ask(kept[0]!, '/healthz')).toBe('HTTP/1.1 200 OK')
    const extra = await open(server.port)
    expect(await ask(extra, '/healthz')).toBe('closed')
    expect(await ask(kept[63]!, '/healthz')).toBe('HTTP/1.1 200 OK')
  })
})
