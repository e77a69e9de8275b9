/** Runs the built `wid` as a subprocess, the way a user or a CI script does. */
import {spawn} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const WID_BIN = join(PROJECT_ROOT, 'bin', 'run.js')
export const SHARED = join(PROJECT_ROOT, '..', 'shared')

export interface RunResult {
  code: number
  stdout: string
  stderr: string
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv
  input?: string
  cwd?: string
  /** The Node to run it with (default: this one) and the script (default: bin/run.js). */
  node?: string
  script?: string
}

export function runWid(args: string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(options.node ?? process.execPath, [options.script ?? WID_BIN, ...args], {
      cwd: options.cwd,
      env: {...process.env, DEBUG: '', ...options.env},
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({code: code ?? -1, stdout, stderr}))
    child.stdin.end(options.input ?? '')
  })
}

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(prefix = 'wid-test-'): {path: string; cleanup: () => void} {
  const path = mkdtempSync(join(tmpdir(), prefix))
  return {path, cleanup: () => rmSync(path, {recursive: true, force: true})}
}

/** A `wid` bound to one temporary WID_HOME. */
export function widIn(home: string) {
  return (args: string[], options: RunOptions = {}) => runWid(args, {...options, env: {WID_HOME: home, ...options.env}})
}

/** The error contract of every command: one line on stderr, no stack trace, non-zero exit. */
export function expectOneLineError(result: RunResult): string {
  if (result.code === 0) throw new Error(`expected failure, got exit 0; stderr: ${result.stderr}`)
  const lines = result.stderr.split('\n').filter((l) => l.trim() !== '')
  if (lines.length !== 1) throw new Error(`expected one stderr line, got ${lines.length}:\n${result.stderr}`)
  if (/\n\s+at /.test(result.stderr) || /node:internal/.test(result.stderr)) throw new Error(`stack trace in stderr:\n${result.stderr}`)
  if (!lines[0]!.startsWith('Error: ')) throw new Error(`expected "Error: ..." line, got: ${lines[0]}`)
  return lines[0]!.slice('Error: '.length)
}
