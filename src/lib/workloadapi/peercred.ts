/**
 * The kernel's credentials of the process at the other end of a unix socket
 * (getsockopt SO_PEERCRED): who connected, as recorded by connect(2), never what the client
 * says. Node has no API for it, so libc's getsockopt is called through koffi, loaded on the
 * first call so that commands which serve no Workload API never load it.
 */
import {createRequire} from 'node:module'
import type {Socket} from 'node:net'
import {WidError} from '../errors.js'

export interface PeerCredentials {
  pid: number
  uid: number
  gid: number
}

const SOL_SOCKET = 1
const SO_PEERCRED = 17
const SO_DOMAIN = 39
/** Linux 6.5+: a pidfd of the process that connected, which keeps naming it after it exits. */
const SO_PEERPIDFD = 77
const ENOPROTOOPT = 92
const SYS_PIDFD_SEND_SIGNAL = 424
const ESRCH = 3
const EPERM = 1
const AF_UNIX = 1
const UCRED_SIZE = 12

interface Libc {
  getsockoptCred(fd: number, level: number, name: number, value: Partial<PeerCredentials>, length: number[]): number
  getsockoptInt(fd: number, level: number, name: number, value: number[], length: number[]): number
  pidfdSendSignal(number: number, pidfd: number, signal: number, info: null, flags: number): number
  close(fd: number): number
  errno(): number
}

let libc: Libc | undefined

function loadLibc(): Libc {
  if (libc) return libc
  // koffi ships as CommonJS with prebuilt binaries; required synchronously so that the
  // credentials are taken in the same tick as the caller asks for them
  const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi')
  const lib = koffi.load('libc.so.6')
  const ucred = koffi.struct({pid: 'int32', uid: 'uint32', gid: 'uint32'})
  const length = koffi.inout(koffi.pointer('uint32'))
  libc = {
    getsockoptCred: lib.func('getsockopt', 'int', ['int', 'int', 'int', koffi.out(koffi.pointer(ucred)), length]),
    getsockoptInt: lib.func('getsockopt', 'int', ['int', 'int', 'int', koffi.out(koffi.pointer('int32')), length]),
    pidfdSendSignal: lib.func('syscall', 'long', ['long', 'int', 'int', 'void *', 'uint']),
    close: lib.func('close', 'int', ['int']),
    errno: () => koffi.errno(),
  }
  return libc
}

function socketFd(socket: Socket): number {
  const fd = (socket as unknown as {_handle?: {fd?: unknown}})._handle?.fd
  if (typeof fd !== 'number' || fd < 0) throw new WidError('unavailable', 'workloadapi: peer credentials: the socket has no file descriptor (closed, or not a connected socket)')
  return fd
}

function failed(what: string, errno: number): WidError {
  return new WidError('io', `workloadapi: peer credentials: getsockopt(${what}) failed with errno ${errno}`)
}

/** The pid, uid and gid of the process that connected `socket`; refuses anything but a connected unix socket. */
export function peerCredentials(socket: Socket): PeerCredentials {
  const fd = socketFd(socket)
  const {getsockoptCred, getsockoptInt, errno} = loadLibc()
  const domain = [0]
  if (getsockoptInt(fd, SOL_SOCKET, SO_DOMAIN, domain, [4]) !== 0) throw failed('SO_DOMAIN', errno())
  if (domain[0] !== AF_UNIX) throw new WidError('bad_input', `workloadapi: peer credentials need a unix socket, not address family ${domain[0]} (TCP callers get no attestation)`)
  const cred: Partial<PeerCredentials> = {}
  const length = [UCRED_SIZE]
  if (getsockoptCred(fd, SOL_SOCKET, SO_PEERCRED, cred, length) !== 0) throw failed('SO_PEERCRED', errno())
  if (length[0] !== UCRED_SIZE || typeof cred.pid !== 'number' || typeof cred.uid !== 'number' || typeof cred.gid !== 'number') {
    throw new WidError('internal', `workloadapi: peer credentials: getsockopt(SO_PEERCRED) returned ${length[0]} bytes, expected ${UCRED_SIZE}`)
  }
  // 0: the peer is in a pid namespace this process cannot see, or it is not a connected peer
  if (cred.pid <= 0) throw new WidError('access_denied', 'workloadapi: peer credentials: the peer has no pid visible from here (another pid namespace, or not connected)')
  return {pid: cred.pid, uid: cred.uid, gid: cred.gid}
}

/**
 * A pidfd of the process that connected `socket` (SO_PEERPIDFD, Linux 6.5+), or undefined on
 * an older kernel. Unlike the pid, it cannot come to name another process: once the one that
 * connected has exited, `peerProcessRunning` says so even if its pid was reused meanwhile.
 * The caller closes it with `closePeerProcess`.
 */
export function peerProcess(socket: Socket): number | undefined {
  const {getsockoptInt, errno} = loadLibc()
  const pidfd = [-1]
  if (getsockoptInt(socketFd(socket), SOL_SOCKET, SO_PEERPIDFD, pidfd, [4]) !== 0) {
    const code = errno()
    if (code === ENOPROTOOPT) return undefined
    throw failed('SO_PEERPIDFD', code)
  }
  return pidfd[0]
}

/** Whether the process of a pidfd from `peerProcess` has not exited (signal 0: nothing is sent). */
export function peerProcessRunning(pidfd: number): boolean {
  const {pidfdSendSignal, errno} = loadLibc()
  if (pidfdSendSignal(SYS_PIDFD_SEND_SIGNAL, pidfd, 0, null, 0) === 0) return true
  const code = errno()
  if (code === ESRCH) return false
  // EPERM: it runs, as another user whom we may not signal
  if (code === EPERM) return true
  throw new WidError('io', `workloadapi: peer process: pidfd_send_signal failed with errno ${code}`)
}

export function closePeerProcess(pidfd: number): void {
  loadLibc().close(pidfd)
}
