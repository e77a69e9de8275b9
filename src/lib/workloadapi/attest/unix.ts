/**
 * The unix workload attestor (tbot's `unix` attestor, SPIRE's unix plugin): who is at the
 * other end of a Workload API connection, from the kernel (SO_PEERCRED) and /proc, never
 * from the client. The attributes are Teleport's WorkloadAttrs `unix` fields.
 *
 * A pid names a process only until it exits; then it can be reused. So the process's start
 * time is recorded when the credentials are taken and checked again once its executable has
 * been read: if it changed, the path and hash may be another process's and the attestation
 * fails. `stillRunning` repeats that check for a caller about to answer the process.
 */
import {readFileSync} from 'node:fs'
import {open, readlink} from 'node:fs/promises'
import type {Socket} from 'node:net'
import {join} from 'node:path'
import {WidError} from '../../errors.js'
import {closePeerProcess, peerCredentials, peerProcess, peerProcessRunning} from '../peercred.js'
import {BinaryHashCache, type BinaryHashStats} from './binary-hash.js'
import {readProcStat} from './proc.js'

/** Teleport's WorkloadAttrs unix fields, exactly as named there. */
export interface UnixWorkload {
  attested: true
  pid: number
  uid: number
  gid: number
  binary_path?: string
  binary_hash?: string
}

/** One process for its whole life: its pid and its start time (clock ticks after boot, /proc/PID/stat field 22). Not an attribute. */
export interface ProcessHandle {
  pid: number
  startTime: number
}

export interface UnixAttestation {
  /** the attributes, and nothing else: safe to send as `workload.unix` */
  unix: UnixWorkload
  process: ProcessHandle
}

export interface UnixAttestorOptions {
  /** executables larger than this get no binary_hash (tbot: 1 GiB) */
  maxHashBytes?: number
  /** how many executables' hashes are remembered */
  hashCacheEntries?: number
}

export const DEFAULT_MAX_HASH_BYTES = 1024 * 1024 * 1024
const DEFAULT_HASH_CACHE_ENTRIES = 256
const PROC = '/proc'

function exited(pid: number, when: string): WidError {
  return new WidError('access_denied', `workloadapi: attestation failed: process ${pid} exited ${when}`)
}

function isDenied(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code
  return code === 'EACCES' || code === 'EPERM'
}

function isGone(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code
  return code === 'ENOENT' || code === 'ESRCH'
}

/** Refuses a pid whose effective uid or gid (/proc/PID/status) are not those SO_PEERCRED recorded. */
function checkSameCredentials(pid: number, uid: number, gid: number): void {
  let status: string
  try {
    status = readFileSync(join(PROC, String(pid), 'status'), 'utf8')
  } catch (error) {
    if (isGone(error)) throw exited(pid, 'before it could be attested')
    throw new WidError('io', `workloadapi: cannot read the status of process ${pid}: ${(error as Error).message}`, {cause: error})
  }
  const effective = (field: string) => status.match(new RegExp(`^${field}:\\t\\d+\\t(\\d+)\\t`, 'm'))?.[1]
  if (effective('Uid') !== String(uid) || effective('Gid') !== String(gid)) {
    throw new WidError('access_denied', `workloadapi: attestation failed: process ${pid} no longer has the credentials it connected with (uid ${uid}, gid ${gid}); its pid may now be another process`)
  }
}

export class UnixAttestor {
  private readonly hashes: BinaryHashCache

  constructor(options: UnixAttestorOptions = {}) {
    const {maxHashBytes = DEFAULT_MAX_HASH_BYTES, hashCacheEntries = DEFAULT_HASH_CACHE_ENTRIES} = options
    if (!Number.isSafeInteger(maxHashBytes) || maxHashBytes < 0) throw new WidError('bad_input', `workloadapi: maxHashBytes must be a whole number of bytes, not ${maxHashBytes}`)
    if (!Number.isSafeInteger(hashCacheEntries) || hashCacheEntries < 1) throw new WidError('bad_input', `workloadapi: hashCacheEntries must be a whole number from 1, not ${hashCacheEntries}`)
    this.hashes = new BinaryHashCache(maxHashBytes, hashCacheEntries)
  }

  /** How often executables were hashed, answered from the cache, or shared a hashing under way. */
  get stats(): Readonly<BinaryHashStats> {
    return {...this.hashes.stats}
  }

  /** Attests the process that connected `socket` (a unix socket; anything else is refused). */
  async attest(socket: Socket): Promise<UnixAttestation> {
    const {pid, uid, gid} = peerCredentials(socket)
    // taken in the same tick as the pid: it names the process that connected, whatever its pid names later
    const pidfd = peerProcess(socket)
    try {
      const attestation = await this.attestPid(pid, uid, gid)
      if (pidfd !== undefined && !peerProcessRunning(pidfd)) throw exited(pid, 'before or while it was attested (its pid may now be another process)')
      return attestation
    } finally {
      if (pidfd !== undefined) closePeerProcess(pidfd)
    }
  }

  private async attestPid(pid: number, uid: number, gid: number): Promise<UnixAttestation> {
    const started = readProcStat(PROC, pid)
    if (!started) throw exited(pid, 'before it could be attested')
    const handle = {pid, startTime: started.startTime}
    // connect(2) recorded the pid; if that process exited before the connection was accepted
    // (it may have passed the socket on), the pid may name another process now: one whose
    // credentials are not those the kernel recorded is not the process that connected
    checkSameCredentials(pid, uid, gid)
    const [binaryPath, binaryHash, sameMounts] = await Promise.all([this.binaryPath(pid), this.binaryHash(pid), this.sameMounts(pid)])
    if (!this.stillRunning(handle)) throw exited(pid, 'while it was attested (its pid may now be another process)')
    const unix: UnixWorkload = {attested: true, pid, uid, gid}
    // a path is a path in the process's mount namespace: in one of its own (any user can make
    // one, in a user namespace) any file can be bind-mounted at any path, so it proves nothing here
    if (binaryPath !== undefined && sameMounts) unix.binary_path = binaryPath
    if (binaryHash !== undefined) unix.binary_hash = binaryHash
    return {unix, process: handle}
  }

  /** Whether the attested process is still alive and still the one with that pid (not a zombie, same start time). */
  stillRunning(process: ProcessHandle): boolean {
    return readProcStat(PROC, process.pid)?.startTime === process.startTime
  }

  /** Whether the process is in the agent's mount namespace (false if that cannot be read). */
  private async sameMounts(pid: number): Promise<boolean> {
    try {
      const [theirs, ours] = await Promise.all([readlink(join(PROC, String(pid), 'ns', 'mnt')), readlink(join(PROC, 'self', 'ns', 'mnt'))])
      return theirs === ours
    } catch {
      return false
    }
  }

  private async binaryPath(pid: number): Promise<string | undefined> {
    try {
      return await readlink(join(PROC, String(pid), 'exe'))
    } catch (error) {
      if (isDenied(error)) return undefined
      if (isGone(error)) throw exited(pid, 'before its executable could be read')
      throw new WidError('io', `workloadapi: cannot read the executable of process ${pid}: ${(error as Error).message}`, {cause: error})
    }
  }

  private async binaryHash(pid: number): Promise<string | undefined> {
    let file
    try {
      // the running executable itself, even if its path now names another file or none
      file = await open(join(PROC, String(pid), 'exe'), 'r')
    } catch (error) {
      if (isDenied(error)) return undefined
      if (isGone(error)) throw exited(pid, 'before its executable could be read')
      throw new WidError('io', `workloadapi: cannot open the executable of process ${pid}: ${(error as Error).message}`, {cause: error})
    }
    try {
      return await this.hashes.hash(file)
    } catch (error) {
      throw new WidError('io', `workloadapi: cannot hash the executable of process ${pid}: ${(error as Error).message}`, {cause: error})
    } finally {
      await file.close()
    }
  }
}
