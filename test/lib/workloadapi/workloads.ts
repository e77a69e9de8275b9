/**
 * Real workloads for the attestation tests: a unix socket server in the test process, and
 * clients that are separate processes run as other users with setpriv (the tests run as
 * root, as CI does).
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {chmodSync, mkdtempSync, rmSync} from 'node:fs'
import {createServer, type Server, type Socket} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

const clientScript = fileURLToPath(new URL('./client.js', import.meta.url))

export interface Workload {
  child: ChildProcess
  /** the server's end of the workload's connection */
  socket: Socket
}

export class WorkloadServer {
  readonly dir = mkdtempSync(join(tmpdir(), 'wid-attest-'))
  readonly path = join(this.dir, 'workload.sock')
  private readonly server: Server
  private readonly waiting: Array<(socket: Socket) => void> = []
  private readonly workloads: Workload[] = []

  constructor() {
    // the workloads run as other users: they must reach the socket (and a binary copied here)
    chmodSync(this.dir, 0o755)
    // paused: nothing is read, so a workload that exits leaves its connection open here
    // (as a server busy elsewhere would) and attestation, not the socket, sees it gone
    this.server = createServer({pauseOnConnect: true}, (socket) => this.waiting.shift()?.(socket))
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen({path: this.path, readableAll: true, writableAll: true}, resolve))
  }

  /** Starts `executable client.js` as uid:gid (its command line changed by `wrap`, if given); resolves once the server has accepted its connection. */
  async connect(uid: number, gid: number, executable = process.execPath, wrap?: (argv: string[]) => string[]): Promise<Workload> {
    const accepted = new Promise<Socket>((resolve) => this.waiting.push(resolve))
    const argv = ['setpriv', '--reuid', String(uid), '--regid', String(gid), '--clear-groups', executable, clientScript, this.path]
    const [command, ...args] = wrap ? wrap(argv) : argv
    const child = spawn(command!, args, {stdio: ['pipe', 'pipe', 'pipe']})
    let stderr = ''
    child.stderr!.setEncoding('utf8').on('data', (chunk) => (stderr += chunk))
    await new Promise<void>((resolve, reject) => {
      child.stdout!.setEncoding('utf8').on('data', (chunk: string) => chunk.includes('connected') && resolve())
      child.once('exit', (code) => reject(new Error(`client exited with ${code} before it connected: ${stderr}`)))
    })
    const workload = {child, socket: await accepted}
    this.workloads.push(workload)
    return workload
  }

  async close(): Promise<void> {
    for (const {child, socket} of this.workloads) {
      socket.destroy()
      await stop(child)
    }
    await new Promise((resolve) => this.server.close(resolve))
    rmSync(this.dir, {recursive: true, force: true})
  }
}

/** Ends a workload (closing its stdin) and waits until it has exited and been reaped. */
export async function stop(child: ChildProcess, signal?: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  if (signal) child.kill(signal)
  else child.stdin!.end()
  await exited
}
