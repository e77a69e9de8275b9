/**
 * The one mapping from any thrown value to what the user sees: a single line on stderr and
 * an exit status. Stack traces appear only when DEBUG is set.
 */
import {exitCodeFor, isWidError} from './lib/errors.js'
import {printable} from './lib/output/printable.js'
import {paint} from './style.js'

export interface RenderedError {
  code: string
  message: string
  exitCode: number
}

/** oclif's usage errors span several lines; keep what says what is wrong. */
function oneLine(message: string): string {
  const lines = message
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !/^See more help with --help$/.test(line) && !/^The following errors? occurred:$/.test(line))
  const missingFlags = lines.map((line) => /^Missing required flag ([\w-]+)$/.exec(line)?.[1])
  if (missingFlags.length > 0 && missingFlags.every(Boolean)) {
    return `missing required flag${missingFlags.length > 1 ? 's' : ''} ${missingFlags.map((name) => `--${name}`).join(', ')}`
  }
  return lines.join('; ').replace(/^Missing required flag ([\w-]+)/, 'missing required flag --$1')
}


export function renderError(error: unknown): RenderedError {
  if (isWidError(error)) return {code: error.code, message: printable(oneLine(error.message)), exitCode: exitCodeFor(error.code)}
  const err = error as {message?: string; oclif?: {exit?: number}; code?: string; cause?: unknown}
  if (isWidError(err.cause)) return renderError(err.cause)
  if (err.oclif && typeof err.oclif.exit === 'number') {
    return {code: 'bad_input', message: printable(oneLine(err.message ?? 'invalid usage')), exitCode: err.oclif.exit || 2}
  }
  return {code: 'internal', message: printable(`internal error: ${oneLine(err.message ?? String(error))} (set DEBUG=1 for details)`), exitCode: 1}
}

export const debugEnabled = (): boolean => !['', '0', 'false', 'no', 'off'].includes((process.env.DEBUG ?? '').toLowerCase())

export function printError(error: unknown): number {
  const rendered = renderError(error)
  if (debugEnabled() && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`)
  process.stderr.write(`${paint('red', `Error: ${rendered.message}`)}\n`)
  return rendered.exitCode
}
