/**
 * The one mapping from any thrown value to what the user sees: a single line on stderr and
 * an exit status. Stack traces appear only when DEBUG is set.
 */
import {exitCodeFor, isWidError} from './lib/errors.js'

export interface RenderedError {
  code: string
  message: string
  exitCode: number
}

const HELP_HINT = /^See more help with --help$/

function oneLine(message: string): string {
  return message
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !HELP_HINT.test(line))
    .join('; ')
}

export function renderError(error: unknown): RenderedError {
  if (isWidError(error)) return {code: error.code, message: oneLine(error.message), exitCode: exitCodeFor(error.code)}
  const err = error as {message?: string; oclif?: {exit?: number}; code?: string; cause?: unknown}
  if (isWidError(err.cause)) return renderError(err.cause)
  if (err.oclif && typeof err.oclif.exit === 'number') {
    return {code: 'bad_input', message: oneLine(err.message ?? 'invalid usage'), exitCode: err.oclif.exit || 2}
  }
  if (err.code === 'EPIPE') return {code: 'io', message: 'output closed early', exitCode: 0}
  return {code: 'internal', message: `internal error: ${oneLine(err.message ?? String(error))} (set DEBUG=1 for details)`, exitCode: 1}
}

export function printError(error: unknown): number {
  const rendered = renderError(error)
  if (process.env.DEBUG && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`)
  if (rendered.exitCode !== 0) process.stderr.write(`Error: ${rendered.message}\n`)
  return rendered.exitCode
}
