/**
 * Workload API endpoint addresses, as go-spiffe reads `SPIFFE_ENDPOINT_SOCKET`:
 * `unix:///ABSOLUTE/PATH` or `tcp://IP:PORT`. The URI is split the way Go's net/url splits it
 * (scheme, opaque part, user info, host, path, query, fragment) and each refusal uses
 * go-spiffe's wording. Stricter than go-spiffe in four ways that a socket needs: a unix path
 * must be absolute with no host (`unix://foo` is a mistake, not a socket), it must fit a
 * sockaddr_un, an IPv6 address must be in brackets, and a port must be 1–65535.
 */
import {isIP} from 'node:net'
import {badInput, WidError} from '../errors.js'

export type Endpoint = {network: 'unix'; path: string} | {network: 'tcp'; host: string; port: number}

/** The two accepted forms, for a hint after a refusal. */
export const ENDPOINT_FORMS = 'unix:///ABSOLUTE/PATH or tcp://IP:PORT, e.g. unix:///run/wid/workload.sock'

/** sockaddr_un's sun_path is 108 bytes on Linux, the last one a NUL. */
const MAX_UNIX_PATH_BYTES = 107

interface UriParts {
  scheme: string
  opaque: string
  userInfo: string | undefined
  /** Undefined when the URI has no `//` authority. */
  host: string | undefined
  path: string
  query: string | undefined
  fragment: string | undefined
}

const invalidUri = (reason: string): WidError => badInput(`workload endpoint socket is not a valid URI: ${reason}`)

function unescape(text: string): string {
  if (!text.includes('%')) return text
  const bad = /%(?![0-9a-fA-F]{2})/.exec(text)
  if (bad) throw invalidUri(`invalid URL escape "${text.slice(bad.index, bad.index + 3)}"`)
  try {
    return decodeURIComponent(text)
  } catch {
    throw invalidUri(`invalid URL escape in "${text}"`)
  }
}

/** RFC 3986 as Go's url.Parse applies it: the scheme is case-insensitive, a path not starting with `/` after a scheme is opaque. */
function splitUri(value: string): UriParts {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) throw invalidUri('invalid control character in URL')
  let rest = value
  let fragment: string | undefined
  let query: string | undefined
  const hash = rest.indexOf('#')
  if (hash >= 0) [rest, fragment] = [rest.slice(0, hash), rest.slice(hash + 1)]
  const question = rest.indexOf('?')
  if (question >= 0) [rest, query] = [rest.slice(0, question), rest.slice(question + 1)]
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(rest)
  if (rest.startsWith(':')) throw invalidUri('missing protocol scheme')
  if (!scheme) return {scheme: '', opaque: '', userInfo: undefined, host: undefined, path: rest, query, fragment}
  rest = rest.slice(scheme[0].length)
  const parts: UriParts = {scheme: scheme[1]!.toLowerCase(), opaque: '', userInfo: undefined, host: undefined, path: '', query, fragment}
  if (rest !== '' && !rest.startsWith('/')) return {...parts, opaque: rest}
  if (rest.startsWith('//')) {
    const end = rest.indexOf('/', 2)
    const authority = end < 0 ? rest.slice(2) : rest.slice(2, end)
    rest = end < 0 ? '' : rest.slice(end)
    const at = authority.lastIndexOf('@')
    parts.userInfo = at < 0 ? undefined : authority.slice(0, at)
    parts.host = authority.slice(at + 1)
  }
  return {...parts, path: unescape(rest)}
}

function unixEndpoint(uri: UriParts): Endpoint {
  const fail = (what: string): never => {
    throw badInput(`workload endpoint unix socket ${what}`)
  }
  if (uri.opaque !== '') fail('URI must not be opaque')
  if (uri.userInfo !== undefined) fail('URI must not include user info')
  if (!uri.host && uri.path === '') fail('URI must include a path')
  if (uri.query !== undefined) fail('URI must not include query values')
  if (uri.fragment !== undefined) fail('URI must not include a fragment')
  if (uri.host) fail('path is not absolute')
  if (uri.path === '/') fail('URI must include a path')
  const bytes = Buffer.byteLength(uri.path)
  if (bytes > MAX_UNIX_PATH_BYTES) fail(`path is too long (${bytes} bytes; a unix socket path has at most ${MAX_UNIX_PATH_BYTES})`)
  return {network: 'unix', path: uri.path}
}

function tcpEndpoint(uri: UriParts): Endpoint {
  const fail = (what: string): never => {
    throw badInput(`workload endpoint tcp socket URI ${what}`)
  }
  if (uri.opaque !== '') fail('must not be opaque')
  if (uri.userInfo !== undefined) fail('must not include user info')
  if (!uri.host) fail('must include a host')
  if (uri.path !== '') fail('must not include a path')
  if (uri.query !== undefined) fail('must not include query values')
  if (uri.fragment !== undefined) fail('must not include a fragment')
  const hostPort = /^(?:\[([^\]]*)\]|([^:[\]]*))(?::(.*))?$/.exec(uri.host!)
  const host = hostPort?.[1] ?? hostPort?.[2] ?? ''
  const port = hostPort?.[3]
  const family = host.includes('%') || port?.includes(':') ? 0 : isIP(host)
  if (family === 0 || (family === 6) !== (hostPort?.[1] !== undefined)) fail('host component must be an IP:port')
  if (port !== undefined && !/^\d*$/.test(port)) throw invalidUri(`invalid port ":${port}" after host`)
  if (!port) fail('host component must include a port')
  const number = Number(port)
  if (!(number >= 1 && number <= 65535)) fail('port must be between 1 and 65535')
  return {network: 'tcp', host, port: number}
}

/** Parses a Workload API address; refusals are bad_input with go-spiffe's wording. */
export function parseEndpoint(value: string): Endpoint {
  const uri = splitUri(value)
  if (uri.scheme === 'unix') return unixEndpoint(uri)
  if (uri.scheme === 'tcp') return tcpEndpoint(uri)
  throw badInput('workload endpoint socket URI must have a "tcp" or "unix" scheme')
}

/** The address as a URI that parseEndpoint reads back. */
export function formatEndpoint(endpoint: Endpoint): string {
  if (endpoint.network === 'tcp') return `tcp://${endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}`
  return `unix://${endpoint.path.replace(/[%?#]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`
}

/** The target string grpc-js dials for the address. */
export function grpcTarget(endpoint: Endpoint): string {
  if (endpoint.network === 'unix') return `unix://${endpoint.path}`
  return endpoint.host.includes(':') ? `ipv6:[${endpoint.host}]:${endpoint.port}` : `ipv4:${endpoint.host}:${endpoint.port}`
}
