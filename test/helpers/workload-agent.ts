/**
 * What the Workload API's end-to-end tests share: the identity and role they issue from, the
 * agent (`wid bot start`) as a subprocess, and workloads: a grpc-js client built from the
 * official proto (test/fixtures/workload-client.mjs), run as another uid:gid with setpriv.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {fileURLToPath} from 'node:url'
import {WID_BIN} from './cli.js'

const CLIENT = fileURLToPath(new URL('../fixtures/workload-client.mjs', import.meta.url))

/** Issued to processes of uid 1000, its SPIFFE ID rendered with the uid. */
export const BY_UID = `kind: workload_identity
version: v1
metadata:
  name: by-uid
  labels:
    app: demo
spec:
  rules:
    allow:
      - conditions:
          - attribute: workload.unix.uid
            eq:
              value: 1000
  spiffe:
    id: /svc/uid-{{ workload.unix.uid }}
    hint: by-uid
`

/** Lets a bot issue the identities labelled app: demo. */
export const DEMO_ROLE = `kind: role
version: v6
metadata:
  name: demo-issuer
spec:
  allow:
    workload_identity_labels:
      app: ["demo"]
    rules:
      - resources: [workload_identity]
        verbs: [list, read]
`

/** One JSON line of the client: an answer, or the gRPC status it got. */
export interface Answer {
  ok?: Array<{spiffe_id: string; hint: string; cert: string; key: string; bundle: string; svid?: string}>
  code?: string
  details?: string
  at?: number
}

export interface Workload {
  /** The answers as they come. */
  answers: Answer[]
  /** All the answers once the client exits 0; rejected if it does not (a test that kills it need not await it). */
  done: Promise<Answer[]>
  child: ChildProcess
}

/** Starts the client as uid:gid (as this process's user when `ids` is undefined). */
export function startWorkload(target: string, ids: {uid: number; gid: number} | undefined, action: string[]): Workload {
  const [command, ...args] = ids
    ? ['setpriv', '--reuid', String(ids.uid), '--regid', String(ids.gid), '--clear-groups', process.execPath, CLIENT, target, ...action]
    : [process.execPath, CLIENT, target, ...action]
  const child = spawn(command!, args, {stdio: ['ignore', 'pipe', 'pipe']})
  const answers: Answer[] = []
  let partial = ''
  let err = ''
  child.stdout!.on('data', (d) => {
    const lines = (partial + d).split('\n')
    partial = lines.pop()!
    for (const line of lines.filter(Boolean)) answers.push(JSON.parse(line) as Answer)
  })
  child.stderr!.on('data', (d) => (err += d))
  const done = new Promise<Answer[]>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => (code === 0 ? resolve(answers) : reject(new Error(`client exited ${code}: ${err}`))))
  })
  done.catch(() => {})
  return {answers, done, child}
}

/** Runs the client to its end: its answers. */
export function workload(target: string, ids: {uid: number; gid: number} | undefined, action: string[]): Promise<Answer[]> {
  return startWorkload(target, ids, action).done
}

export interface Agent {
  child: ChildProcess
  /** stdout and stderr together */
  log: () => string
  stderr: () => string
  exited: Promise<number | null>
  /** SIGTERM (if still running), then its exit code. */
  stop: () => Promise<number | null>
}

export function startAgent(home: string, config: string, extra: string[] = []): Agent {
  const child = spawn(process.execPath, [WID_BIN, 'bot', 'start', '-c', config, ...extra], {env: {...process.env, WID_HOME: home, DEBUG: ''}, stdio: ['ignore', 'pipe', 'pipe']})
  let log = ''
  let stderr = ''
  child.stdout!.on('data', (d) => (log += d))
  child.stderr!.on('data', (d) => {
    log += d
    stderr += d
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return {
    child,
    log: () => log,
    stderr: () => stderr,
    exited,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM')
      return exited
    },
  }
}
