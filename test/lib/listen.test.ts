/** HOST:PORT for wid's listeners (src/lib/listen.ts): IPv6 in brackets only, and which hosts are loopback. */
import {describe, expect, it} from 'vitest'
import {isLoopback, parseHostPort} from '../../src/lib/listen.js'

describe('parseHostPort', () => {
  it('reads a name, an IPv4 address or a bracketed IPv6 address, and a port up to 65535', () => {
    expect(parseHostPort('127.0.0.1:0')).toEqual({host: '127.0.0.1', port: 0})
    expect(parseHostPort('localhost:9090')).toEqual({host: 'localhost', port: 9090})
    expect(parseHostPort('[::1]:3443')).toEqual({host: '::1', port: 3443})
    expect(parseHostPort('[::ffff:127.0.0.1]:65535')).toEqual({host: '::ffff:127.0.0.1', port: 65535})
  })

  it('refuses brackets around what is not IPv6, a port past 65535, and anything that is not HOST:PORT', () => {
    for (const bad of ['[127.0.0.1]:0', '[localhost]:80', 'localhost:99999', ':80', '127.0.0.1', '::1:80', 'a b:80']) expect(parseHostPort(bad), bad).toBeUndefined()
  })
})

describe('isLoopback', () => {
  it('knows localhost, ::1 and 127.0.0.0/8, and no name that merely starts with 127.', () => {
    for (const host of ['localhost', '::1', '127.0.0.1', '127.1.2.3']) expect(isLoopback(host), host).toBe(true)
    for (const host of ['127.0.0.1.nip.io', '127.example.com', '10.0.0.1', '0.0.0.0', '::']) expect(isLoopback(host), host).toBe(false)
  })
})
