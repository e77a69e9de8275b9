import {createHash} from 'node:crypto'
import {copyFileSync, readFileSync, realpathSync, rmSync, writeFileSync, statSync} from 'node:fs'
import {spawn} from 'node:child_process'
import {createServer, connect, type Socket} from 'node:net'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {UnixAttestor} from '../../../../src/lib/workloadapi/attest/unix.js'
import {WidError} from '../../../../src/lib/errors.js'
import {refusal, rejection} from '../../../helpers/errors.js'
import {stop, WorkloadServer} from '../workloads.js'

const node = realpathSync(process.execPath)

async function within(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 10))
}
const nodeHash = createHash('sha256').update(readFileSync(node)).digest('hex')

describe('UnixAttestor', () => {
  const server = new WorkloadServer()
  beforeAll(() => server.listen())
  afterAll(() => server.close())

  it('attests the connecting process: credentials from the kernel, its executable and its SHA-256', async () => {
    const attestor = new UnixAttestor()
    const workload = await server.connect(1000, 50)
    const {unix, process: handle} = await attestor.attest(workload.socket)
    expect(unix).toEqual({attested: true, pid: workload.child.pid, uid: 1000, gid: 50, binary_path: node, binary_hash: nodeHash})
    expect(handle.pid).toBe(workload.child.pid)
    expect(Object.keys(unix)).not.toContain('startTime')
  })

  it('hashes a binary once: a second workload running it is answered from the cache', async () => {
    const attestor = new UnixAttestor()
    const first = await attestor.attest((await server.connect(1000, 50)).socket)
    expect(attestor.stats).toEqual({computed: 1, cacheHits: 0, shared: 0})
    const second = await attestor.attest((await server.connect(1001, 1001)).socket)
    expect(attestor.stats).toEqual({computed: 1, cacheHits: 1, shared: 0})
    expect(second.unix.binary_hash).toBe(first.unix.binary_hash)
    expect(second.unix).toMatchObject({uid: 1001, gid: 1001, binary_hash: nodeHash})
  })

  it('reads a binary once for workloads attested at the same time', async () => {
    const attestor = new UnixAttestor()
    const workloads = [await server.connect(1000, 50), await server.connect(1001, 1001), await server.connect(1002, 1002)]
    const attested = await Promise.all(workloads.map((w) => attestor.attest(w.socket)))
    expect(attested.map((a) => a.unix.binary_hash)).toEqual([nodeHash, nodeHash, nodeHash])
    const {computed, cacheHits, shared} = attestor.stats
    expect(computed).toBe(1)
    expect(cacheHits + shared).toBe(2)
  })

  it('remembers as many executables as it is told (hashCacheEntries)', async () => {
    // Given two files with the same contents: two executables to the cache (another inode)
    const copy = join(server.dir, 'node-copy')
    copyFileSync(node, copy)
    const original = await server.connect(1000, 50)
    const copied = await server.connect(1000, 50, copy)
    const small = new UnixAttestor({hashCacheEntries: 1})
    const large = new UnixAttestor({hashCacheEntries: 2})
    for (const attestor of [small, large]) {
      for (const workload of [original, copied, original]) expect((await attestor.attest(workload.socket)).unix.binary_hash).toBe(nodeHash)
    }
    expect(small.stats).toEqual({computed: 3, cacheHits: 0, shared: 0})
    expect(large.stats).toEqual({computed: 2, cacheHits: 1, shared: 0})
  })

  it('refuses options that are not whole numbers', () => {
    expect(refusal(() => new UnixAttestor({maxHashBytes: -1})).message).toBe('workloadapi: maxHashBytes must be a whole number of bytes, not -1')
    expect(refusal(() => new UnixAttestor({hashCacheEntries: 0})).message).toBe('workloadapi: hashCacheEntries must be a whole number from 1, not 0')
  })

  it('gives no binary_hash for an executable larger than maxHashBytes, and no error', async () => {
    const attestor = new UnixAttestor({maxHashBytes: statSync(node).size - 1})
    const workload = await server.connect(1000, 50)
    const {unix} = await attestor.attest(workload.socket)
    expect(unix).toEqual({attested: true, pid: workload.child.pid, uid: 1000, gid: 50, binary_path: node})
    expect(attestor.stats.computed).toBe(0)
  })

  it('hashes the executable the process runs, even once its path is deleted and reused', async () => {
    // Given a workload running a copy of node, whose file is then replaced by another
    const copy = join(server.dir, 'workload-bin')
    copyFileSync(node, copy)
    const workload = await server.connect(1000, 50, copy)
    rmSync(copy)
    writeFileSync(copy, 'not what runs\n', {mode: 0o755})
    // Then the attestation is of what runs
    const {unix} = await new UnixAttestor().attest(workload.socket)
    expect(unix.binary_hash).toBe(nodeHash)
    expect(unix.binary_path).toBe(`${copy} (deleted)`)
  })

  it('gives no binary_path nor binary_hash when it may not read the executable of another user\'s process', async () => {
    // Given an attestor that is not root (this test process, for the attestation only)
    const workload = await server.connect(1001, 1001)
    const attestor = new UnixAttestor()
    process.seteuid!(1000)
    let attested
    try {
      attested = await attestor.attest(workload.socket)
    } finally {
      process.seteuid!(0)
    }
    // Then the kernel's credentials are all it can attest
    expect(attested.unix).toEqual({attested: true, pid: workload.child.pid, uid: 1001, gid: 1001})
  })

  it('gives no binary_path for a process in another mount namespace, where any path can name any file', async () => {
    // Given a workload that bind-mounts node at a trusted path in its own mount namespace (as
    // any user can, in a user namespace) and runs it from there
    const trusted = join(server.dir, 'trusted-bin')
    writeFileSync(trusted, '', {mode: 0o755})
    const workload = await server.connect(1000, 50, trusted, (argv) => ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', `mount --bind ${node} ${trusted} && exec "$@"`, 'sh', ...argv])
    // Then its path is not attested (here it names an empty file); what runs still is
    const {unix} = await new UnixAttestor().attest(workload.socket)
    expect(unix).toEqual({attested: true, pid: workload.child.pid, uid: 1000, gid: 50, binary_hash: nodeHash})
  })

  it('refuses a pid whose credentials are no longer those it connected with (its pid may be another process)', async () => {
    // Given a process that connects as root and then becomes uid 1000: to the attestor, as a
    // process of another user that reused the pid of one that connected and exited
    const script = `const s = require('node:net').connect(process.argv[1], () => { process.setgid(50); process.setuid(1000); process.stdout.write('connected\\n') }); process.stdin.on('end', () => process.exit(0)).resume()`
    const workload = await server.connect(0, 0, node, (argv) => [node, '-e', script, argv.at(-1)!])
    const error = await rejection(new UnixAttestor().attest(workload.socket))
    expect(error.code).toBe('access_denied')
    expect(error.message).toBe(`workloadapi: attestation failed: process ${workload.child.pid} no longer has the credentials it connected with (uid 0, gid 0); its pid may now be another process`)
  })

  it('refuses a process of the same user that took the pid of one that connected and exited (SO_PEERPIDFD)', async () => {
    // Given a workload that hands its connection to a child and exits, and another process of
    // the same uid and gid that then gets its pid (ns_last_pid, as root; up to a few tries if
    // something else takes the pid first)
    const script = `const s = require('node:net').connect(process.argv[1], () => { require('node:child_process').spawn('sleep', ['30'], {stdio: ['ignore', 'ignore', 'ignore', s], detached: true}).unref(); process.stdout.write('connected\\n'); process.exit(0) })`
    for (let tries = 0; ; tries++) {
      const workload = await server.connect(1000, 50, node, (argv) => ['setpriv', '--reuid', '1000', '--regid', '50', '--clear-groups', node, '-e', script, argv.at(-1)!])
      await new Promise((resolve) => (workload.child.exitCode !== null ? resolve(null) : workload.child.once('exit', resolve)))
      const pid = workload.child.pid!
      writeFileSync('/proc/sys/kernel/ns_last_pid', String(pid - 1))
      const victim = spawn('setpriv', ['--reuid', '1000', '--regid', '50', '--clear-groups', '--', node, '-e', 'setTimeout(() => {}, 30000)'], {stdio: 'ignore'})
      try {
        if (victim.pid !== pid) {
          if (tries < 20) continue
          throw new Error(`pid ${pid} was not reused in 20 tries`)
        }
        // once setpriv has become uid 1000 (before, it is root: refused for its credentials instead)
        await within(() => /^Uid:\s+1000\b/m.test(readFileSync(`/proc/${pid}/status`, 'utf8')))
        // When the connection is attested, Then it is refused: the pid now names another process
        const error = await rejection(new UnixAttestor().attest(workload.socket))
        expect([error.code, error.message]).toEqual(['access_denied', `workloadapi: attestation failed: process ${pid} exited before or while it was attested (its pid may now be another process)`])
        return
      } finally {
        victim.kill('SIGKILL')
        workload.socket.destroy()
      }
    }
  })

  it('fails for a process that exited before it was attested', async () => {
    const workload = await server.connect(1000, 50)
    await stop(workload.child, 'SIGKILL')
    const error = await rejection(new UnixAttestor().attest(workload.socket))
    expect(error.code).toBe('access_denied')
    expect(error.message).toBe(`workloadapi: attestation failed: process ${workload.child.pid} exited before it could be attested`)
  })

  it('never answers for a process that exits while it is attested', async () => {
    // Given a workload killed while its (uncached) executable is being hashed
    const workload = await server.connect(1000, 50)
    const attestor = new UnixAttestor()
    const attesting = attestor.attest(workload.socket).catch((error: unknown) => error)
    await stop(workload.child, 'SIGKILL')
    const outcome = await attesting
    // Then either the attestation failed, or it finished first and the process is seen gone
    if (outcome instanceof WidError) {
      expect(outcome.message).toMatch(new RegExp(`^workloadapi: attestation failed: process ${workload.child.pid} exited `))
    } else {
      expect(attestor.stillRunning((outcome as Awaited<ReturnType<UnixAttestor['attest']>>).process)).toBe(false)
    }
  })

  it('knows whether the attested process is still running', async () => {
    const attestor = new UnixAttestor()
    const workload = await server.connect(1000, 50)
    const {process: handle} = await attestor.attest(workload.socket)
    expect(attestor.stillRunning(handle)).toBe(true)
    // another start time under the same pid is another process
    expect(attestor.stillRunning({pid: handle.pid, startTime: handle.startTime + 1})).toBe(false)
    await stop(workload.child)
    expect(attestor.stillRunning(handle)).toBe(false)
  })

  it('refuses a TCP connection', async () => {
    const tcp = createServer()
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve))
    const accepted = new Promise<Socket>((resolve) => tcp.once('connection', resolve))
    const client = connect((tcp.address() as {port: number}).port, '127.0.0.1')
    const socket = await accepted
    try {
      const error = await rejection(new UnixAttestor().attest(socket))
      expect(error.message).toMatch(/^workloadapi: peer credentials need a unix socket/)
    } finally {
      socket.destroy()
      client.destroy()
      await new Promise((resolve) => tcp.close(resolve))
    }
  })
})
