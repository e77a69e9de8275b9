/**
 * oclif's messages about the command line itself (unknown commands and flags, bad option
 * values, missing or unexpected arguments), in wid's one-line style, with a "did you mean"
 * when a known name is a typo away.
 */
import {stripVTControlCharacters} from 'node:util'

/** Optimal string alignment distance: edits, with a swap of two neighbours counting as one. */
function distance(a: string, b: string): number {
  const d = Array.from({length: a.length + 1}, (_, i) => [i, ...Array<number>(b.length).fill(0)])
  for (let j = 1; j <= b.length; j++) d[0]![j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1)
    }
  }
  return d[a.length]![b.length]!
}

/** The known name closest to `word`, when it is close enough to be a typo of it. */
export function closest(word: string, known: Iterable<string>): string | undefined {
  let best: {name: string; score: number} | undefined
  for (const name of known) {
    const score = distance(word.toLowerCase(), name.toLowerCase())
    if (score <= Math.max(1, Math.floor(name.length / 3)) && (!best || score < best.score)) best = {name, score}
  }
  return best?.name
}

const didYouMean = (suggestion: string | undefined, quote = (s: string) => `"${s}"`) => (suggestion ? ` (did you mean ${quote(suggestion)}?)` : '')

/**
 * `wid <words>` matched no command: either a known command followed by words it does not
 * take, or a typo of a command or topic.
 */
export function unknownCommandMessage(id: string, commandIds: string[], bin = 'wid'): string {
  const words = id.split(':')
  const ids = new Set(commandIds)
  for (let k = words.length - 1; k > 0; k--) {
    const prefix = words.slice(0, k).join(':')
    if (ids.has(prefix)) {
      const command = `${bin} ${words.slice(0, k).join(' ')}`
      return `${command} takes no argument "${words.slice(k).join(' ')}" (see ${command} --help)`
    }
  }
  for (let k = words.length; k > 0; k--) {
    const prefixes = new Set(commandIds.filter((c) => c.split(':').length >= k).map((c) => c.split(':').slice(0, k).join(' ')))
    const suggestion = closest(words.slice(0, k).join(' '), prefixes)
    if (suggestion) return `unknown command "${words.join(' ')}" (did you mean "${bin} ${suggestion}"? see ${bin} --help)`
  }
  return `unknown command "${words.join(' ')}" (see ${bin} --help)`
}

export interface CommandShape {
  /** e.g. `svid issue` */
  id: string
  /** Flag names (without dashes) the command takes, and their one-letter aliases. */
  flags: {name: string; char?: string}[]
  args: {name: string; description?: string}[]
}

/** wid's line for an oclif parse error of `command`, or undefined when it is not one. */
export function usageMessage(error: {message?: string; args?: {name: string}[]}, command: CommandShape): string | undefined {
  const text =
    stripVTControlCharacters(error.message ?? '')
      .split('\n')
      .map((line) => line.trim())
      .find((line) => line && !/^The following errors? occurred:$/.test(line)) ?? ''
  const bin = `wid ${command.id.replace(/:/g, ' ')}`
  const longNames = command.flags.map((f) => `--${f.name}`)
  let match = /^Nonexistent flags?: (.+)$/.exec(text)
  if (match) {
    const unknown = match[1]!.split(', ')
    const hints = unknown.map((flag) => `${flag}${didYouMean(flag.startsWith('--') ? closest(flag, longNames) : undefined, (s) => s)}`)
    return `unknown flag${unknown.length > 1 ? 's' : ''} ${hints.join(', ')} for ${bin} (see ${bin} --help)`
  }
  match = /^Expected --([\w-]+)=(.*) to be one of: (.+)$/.exec(text)
  if (match) {
    const options = match[3]!.split(', ')
    return `invalid --${match[1]} "${match[2]}": expected one of ${options.join(', ')}${didYouMean(closest(match[2]!, options))}`
  }
  match = /^Flag --([\w-]+) expects a value$/.exec(text)
  if (match) return `--${match[1]} needs a value`
  match = /^--([\w-]+)=.* cannot also be provided when using --([\w-]+)/.exec(text)
  if (match) return `--${match[2]} and --${match[1]} cannot be used together`
  match = /^Unexpected arguments?: (.+)$/.exec(text)
  if (match) {
    const takes = command.args.length === 0 ? 'takes no arguments' : `takes ${command.args.map((a) => a.name.toUpperCase()).join(' ')} only`
    return `unexpected argument${match[1]!.includes(', ') ? 's' : ''} ${match[1]} (${bin} ${takes}; see ${bin} --help)`
  }
  if (/^Missing \d+ required args?/.test(text)) {
    const names = (error.args ?? []).map((a) => a.name)
    const described = command.args.filter((a) => names.includes(a.name))
    const explain = (description: string) => description.charAt(0).toLowerCase() + description.slice(1).replace(/\.$/, '')
    const what = described.map((a) => `${a.name.toUpperCase()}${a.description ? `: ${explain(a.description)}` : ''}`).join('; ')
    return `${bin} needs ${what || names.join(', ')} (see ${bin} --help)`
  }
  return undefined
}
