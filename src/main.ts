import {Config, flush, run} from '@oclif/core'
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

/** Runs one command line; any failure becomes one line on stderr and a non-zero exit status. */
export async function main(argv: string[], root: string, options: {development?: boolean} = {}): Promise<void> {
  guardStdout()
  try {
    await run(argv, options.development ? {root, ignoreManifest: true} : root)
    await flush()
  } catch (error) {
    if ((error as {oclif?: {exit?: number}; code?: string}).code === 'EEXIT') {
      process.exitCode = (error as {oclif: {exit: number}}).oclif.exit
      return
    }
    const unknown = /^command (\S+) not found$/.exec((error as Error).message ?? '')
    if (unknown) {
      const config = await Config.load(options.development ? {root, ignoreManifest: true} : root)
      process.exitCode = printError(badInput(unknownCommandMessage(unknown[1]!, config.commandIDs, config.bin)))
      return
    }
    process.exitCode = printError(error)
  }
}
