import {flush, run} from '@oclif/core'
import {printError} from './render-error.js'

/** Runs one command line; any failure becomes one line on stderr and a non-zero exit status. */
export async function main(argv: string[], root: string, options: {development?: boolean} = {}): Promise<void> {
  try {
    await run(argv, options.development ? {root, ignoreManifest: true} : root)
    await flush()
  } catch (error) {
    if ((error as {oclif?: {exit?: number}; code?: string}).code === 'EEXIT') {
      process.exitCode = (error as {oclif: {exit: number}}).oclif.exit
      return
    }
    process.exitCode = printError(error)
  }
}
