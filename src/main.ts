import {Config, flush, run} from '@oclif/core'
import {userInfo} from 'node:os'
import {fileURLToPath} from 'node:url'
import {badInput} from './lib/errors.js'
import {printError} from './render-error.js'
import {unknownCommandMessage} from './usage-errors.js'

/**
 * stdout going away (`wid status | head -c1`) ends the command quietly; any other failure to
 * write it (a full disk) is one error line, like every other failure.
 */
function guardStdout(): void {
  // oclif's own handler re-throws everything but EPIPE, which would print a stack trace.
  process.stdout.removeAllListeners('error')
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0)
    process.stderr.write(`Error: cannot write to standard output: ${error.code === 'ENOSPC' ? 'no space left on device' : error.message}\n`)
    process.exit(8)
  })
}

/**
 * oclif asks the password database for the login shell when SHELL is unset, which throws for a
 * uid with no entry (a container's user, `setpriv --reuid`), so every command would fail. Such a
 * user gets /bin/sh, the shell login(1) gives an account without one.
 */
function defaultShell(): void {
  if (process.env.SHELL !== undefined) return
  try {
    userInfo()
  } catch {
    process.env.SHELL = '/bin/sh'
  }
}

/**
 * wid has no plugins: oclif is told not to look for a user's in ~/.local/share/wid (one read
 * fewer per start, and no warning when HOME cannot be read, as for a service's user).
 */
function loadOptions(root: string, development: boolean | undefined) {
  return {root: root.startsWith('file:') ? fileURLToPath(root) : root, userPlugins: false, ...(development ? {ignoreManifest: true} : {})}
}

/** Runs one command line; any failure becomes one line on stderr and a non-zero exit status. */
export async function main(argv: string[], root: string, options: {development?: boolean} = {}): Promise<void> {
  guardStdout()
  defaultShell()
  try {
    await run(argv, loadOptions(root, options.development))
    await flush()
  } catch (error) {
    if ((error as {oclif?: {exit?: number}; code?: string}).code === 'EEXIT') {
      process.exitCode = (error as {oclif: {exit: number}}).oclif.exit
      return
    }
    const unknown = /^command (\S+) not found$/.exec((error as Error).message ?? '')
    if (unknown) {
      const config = await Config.load(loadOptions(root, options.development))
      process.exitCode = printError(badInput(unknownCommandMessage(unknown[1]!, config.commandIDs, config.bin)))
      return
    }
    process.exitCode = printError(error)
  }
}
