/**
 * The agent's log: one line per event on stderr, as text for people (a terminal) or as
 * JSON lines for machines (`--log-format json`).
 */
import {escapeC1InJson, printable} from '../output/printable.js'

export type LogFormat = 'text' | 'json'
type Level = 'debug' | 'info' | 'warn' | 'error'
type Fields = Record<string, string | number | boolean | undefined>

export interface AgentLogger {
  debug(message: string, fields?: Fields): void
  info(message: string, fields?: Fields): void
  warn(message: string, fields?: Fields): void
  error(message: string, fields?: Fields): void
}

function quoted(value: string | number | boolean): string {
  const text = printable(String(value))
  return /^[^\s"=]+$/.test(text) ? text : JSON.stringify(text)
}

export function createLogger(options: {format: LogFormat; debug: boolean; write?: (line: string) => void; now?: () => Date}): AgentLogger {
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'))
  const now = options.now ?? (() => new Date())
  const log = (level: Level, message: string, fields: Fields = {}) => {
    if (level === 'debug' && !options.debug) return
    const defined = Object.entries(fields).filter((entry): entry is [string, string | number | boolean] => entry[1] !== undefined)
    if (options.format === 'json') {
      write(escapeC1InJson(JSON.stringify({time: now().toISOString(), level, msg: message, ...Object.fromEntries(defined)})))
      return
    }
    const rest = defined.map(([key, value]) => `${key}=${quoted(value)}`).join(' ')
    write(`${now().toISOString()} ${level.toUpperCase().padEnd(5)} ${printable(message)}${rest ? ' ' + rest : ''}`)
  }
  return {
    debug: (message, fields) => log('debug', message, fields),
    info: (message, fields) => log('info', message, fields),
    warn: (message, fields) => log('warn', message, fields),
    error: (message, fields) => log('error', message, fields),
  }
}
