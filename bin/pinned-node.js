/**
 * wid needs Node.js 22.13 or newer. On a machine whose system Node is older, `npm ci` has
 * installed a pinned one from the npm registry (the optional dependency
 * `node-<platform>-<arch>`): run this same command line under it, passing signals on and
 * ending with its exit status. Plain JavaScript that Node 18 runs.
 */
import {spawn} from 'node:child_process'
import {realpathSync} from 'node:fs'
import {createRequire} from 'node:module'
import {fileURLToPath} from 'node:url'

/** The exit status for "this Node is too old and no newer one came with wid" (README: exit statuses). */
const TOO_OLD = 11
const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2']

function pinnedNode() {
  try {
    return createRequire(import.meta.url).resolve(`node-${process.platform}-${process.arch}/bin/node`)
  } catch {
    return undefined
  }
}

export async function runUnderPinnedNode() {
  const node = pinnedNode()
  // Already running under it (it is too old itself): say so rather than loop.
  if (!node || realpathSync(node) === realpathSync(process.execPath)) {
    process.stderr.write(
      `Error: wid needs Node.js 22.13 or newer (this is ${process.version}) and found none installed with it; run npm ci in the wid directory, or put a newer node first on PATH\n`,
    )
    process.exit(TOO_OLD)
  }
  const script = fileURLToPath(new URL('run.js', import.meta.url))
  const child = spawn(node, [script, ...process.argv.slice(2)], {stdio: 'inherit'})
  for (const signal of FORWARDED) process.on(signal, () => child.kill(signal))
  child.once('error', (error) => {
    process.stderr.write(`Error: cannot start ${node}: ${error.message}\n`)
    process.exit(TOO_OLD)
  })
  child.once('exit', (code, signal) => {
    if (signal) {
      // End the way the child ended, so that callers see the same signal.
      process.removeAllListeners(signal)
      process.kill(process.pid, signal)
      return
    }
    process.exit(code ?? 1)
  })
}
