import {describe, expect, it} from 'vitest'
import {formatEndpoint, grpcTarget, parseEndpoint, type Endpoint} from '../../../src/lib/workloadapi/address.js'
import {WidError} from '../../../src/lib/errors.js'

describe('parseEndpoint: the forms SPIFFE_ENDPOINT_SOCKET takes', () => {
  const accepted: [string, Endpoint, string][] = [
    ['unix:///run/wid/workload.sock', {network: 'unix', path: '/run/wid/workload.sock'}, 'unix:///run/wid/workload.sock'],
    ['unix:/run/wid/workload.sock', {network: 'unix', path: '/run/wid/workload.sock'}, 'unix:///run/wid/workload.sock'],
    ['UNIX:///tmp/a', {network: 'unix', path: '/tmp/a'}, 'unix:///tmp/a'],
    ['unix:///tmp/with%20space', {network: 'unix', path: '/tmp/with space'}, 'unix:///tmp/with space'],
    ['tcp://127.0.0.1:8081', {network: 'tcp', host: '127.0.0.1', port: 8081}, 'ipv4:127.0.0.1:8081'],
    ['tcp://[::1]:8081', {network: 'tcp', host: '::1', port: 8081}, 'ipv6:[::1]:8081'],
    ['tcp://[2001:db8::5]:1', {network: 'tcp', host: '2001:db8::5', port: 1}, 'ipv6:[2001:db8::5]:1'],
  ]
  it.each(accepted)('accepts %s', (value, endpoint, target) => {
    expect(parseEndpoint(value)).toEqual(endpoint)
    expect(grpcTarget(endpoint)).toBe(target)
    expect(parseEndpoint(formatEndpoint(endpoint))).toEqual(endpoint)
  })

  const refused: [string, string][] = [
    ['', 'workload endpoint socket URI must have a "tcp" or "unix" scheme'],
    ['blah', 'workload endpoint socket URI must have a "tcp" or "unix" scheme'],
    ['/run/wid/workload.sock', 'workload endpoint socket URI must have a "tcp" or "unix" scheme'],
    ['http://127.0.0.1:80', 'workload endpoint socket URI must have a "tcp" or "unix" scheme'],
    ['\t', 'workload endpoint socket is not a valid URI: invalid control character in URL'],
    [':x', 'workload endpoint socket is not a valid URI: missing protocol scheme'],
    ['unix:opaque', 'workload endpoint unix socket URI must not be opaque'],
    ['unix://', 'workload endpoint unix socket URI must include a path'],
    ['unix:///', 'workload endpoint unix socket URI must include a path'],
    ['unix://foo?whatever', 'workload endpoint unix socket URI must not include query values'],
    ['unix://foo#whatever', 'workload endpoint unix socket URI must not include a fragment'],
    ['unix://john:doe@foo/path', 'workload endpoint unix socket URI must not include user info'],
    ['unix://foo', 'workload endpoint unix socket path is not absolute'],
    ['unix://workload.sock', 'workload endpoint unix socket path is not absolute'],
    ['unix://run/wid/workload.sock', 'workload endpoint unix socket path is not absolute'],
    ['unix:///tmp/%zz', 'workload endpoint socket is not a valid URI: invalid URL escape "%zz"'],
    [`unix:///${'a'.repeat(107)}`, 'workload endpoint unix socket path is too long (108 bytes; a unix socket path has at most 107)'],
    ['tcp:opaque', 'workload endpoint tcp socket URI must not be opaque'],
    ['tcp://', 'workload endpoint tcp socket URI must include a host'],
    ['tcp://1.2.3.4:5?whatever', 'workload endpoint tcp socket URI must not include query values'],
    ['tcp://1.2.3.4:5#whatever', 'workload endpoint tcp socket URI must not include a fragment'],
    ['tcp://john:doe@1.2.3.4:5/path', 'workload endpoint tcp socket URI must not include user info'],
    ['tcp://1.2.3.4:5/path', 'workload endpoint tcp socket URI must not include a path'],
    ['tcp://1.2.3.4:5/', 'workload endpoint tcp socket URI must not include a path'],
    ['tcp://foo', 'workload endpoint tcp socket URI host component must be an IP:port'],
    ['tcp://localhost:8443', 'workload endpoint tcp socket URI host component must be an IP:port'],
    ['tcp://::1:8443', 'workload endpoint tcp socket URI host component must be an IP:port'],
    ['tcp://[1.2.3.4]:5', 'workload endpoint tcp socket URI host component must be an IP:port'],
    ['tcp://[fe80::1%25eth0]:5', 'workload endpoint tcp socket URI host component must be an IP:port'],
    ['tcp://:5', 'workload endpoint tcp socket URI host component must be an IP:port'],
    ['tcp://1.2.3.4', 'workload endpoint tcp socket URI host component must include a port'],
    ['tcp://[::1]', 'workload endpoint tcp socket URI host component must include a port'],
    ['tcp://1.2.3.4:', 'workload endpoint tcp socket URI host component must include a port'],
    ['tcp://1.2.3.4:abc', 'workload endpoint socket is not a valid URI: invalid port ":abc" after host'],
    ['tcp://1.2.3.4:0', 'workload endpoint tcp socket URI port must be between 1 and 65535'],
    ['tcp://1.2.3.4:65536', 'workload endpoint tcp socket URI port must be between 1 and 65535'],
  ]
  it.each(refused)('refuses %j: %s', (value, message) => {
    let thrown: unknown
    try {
      parseEndpoint(value)
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(WidError)
    expect((thrown as WidError).code).toBe('bad_input')
    expect((thrown as WidError).message).toBe(message)
  })

  it('writes characters that would end the path escaped, and reads them back', () => {
    const endpoint: Endpoint = {network: 'unix', path: '/tmp/a?b#c%d'}
    expect(formatEndpoint(endpoint)).toBe('unix:///tmp/a%3Fb%23c%25d')
    expect(parseEndpoint(formatEndpoint(endpoint))).toEqual(endpoint)
  })
})
