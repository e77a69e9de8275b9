/**
 * Regular expressions that can backtrack catastrophically. The `^...$` patterns of roles run
 * on JavaScript's backtracking engine (Teleport's RE2 runs in linear time) against values
 * that callers and delegated writers choose, on the event loop of the server. The time of
 * the classic cases doubles with each character: a repeated group that can match the same
 * text in more than one way, because it holds a quantifier (`(a+)+`, `(a*)*`, `(a?){25}`)
 * or alternatives that can start alike (`(a|a)*`, `(a|ab)+`). So a group repeated by `*`,
 * `+`, `{n,}` or `{n,m}` with m > 1 may hold no quantifier, and every alternation within it
 * must start each alternative with a different literal character (an escape such as `\d`
 * or `\x61`, a class or `.` counts as no literal). Harmless patterns are refused too
 * (`(ab|ac)*` is written `(a(b|c))*`). Polynomial cases such as `.*.*.*x` are not refused:
 * their time grows with a power of the length, not exponentially.
 *
 * The pattern is assumed to compile (without flags, so in the syntax of Annex B).
 */

interface Atom {
  /** The atom's text in the pattern, with its quantifier. */
  start: number
  end: number
  /** The literal character it matches, if it is one (lower case where case is ignored). */
  literal?: string
  /** A group's alternatives. */
  alternatives?: Atom[][]
  /** A lookahead or lookbehind: it matches no character. */
  lookaround?: boolean
  quantifier?: {repeats: boolean}
}

const GROUP_HEADER = /^\((?:\?(?::|=|!|<=|<!|<[^>]*>|[a-z]*(?:-[a-z]*)?:))?/
const MODIFIERS = /^\(\?([a-z]*)(?:-([a-z]*))?:$/
const QUANTIFIER = /^(?:([*+?])|\{(\d+)(?:(,)(\d*))?\})\??/
/** `\x41`, `\u0041`, `\cA`, `\12` (a backreference or an octal escape): what follows the backslash. */
const ESCAPE = /^(?:x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|c[A-Za-z]|\d+|[\s\S])/

function repeats(match: RegExpExecArray): boolean {
  const [, symbol, min, comma, max] = match
  if (symbol !== undefined) return symbol !== '?'
  if (comma === undefined) return Number(min) > 1
  return max === '' || Number(max) > 1
}

class Parser {
  private pos = 0

  constructor(private readonly source: string) {}

  /** The alternatives up to the `)` that closes the group (or the end). */
  alternatives(ignoreCase: boolean): Atom[][] {
    const alternatives: Atom[][] = [[]]
    while (this.pos < this.source.length && this.source[this.pos] !== ')') {
      if (this.source[this.pos] === '|') {
        this.pos++
        alternatives.push([])
      } else {
        alternatives.at(-1)!.push(this.atom(ignoreCase))
      }
    }
    return alternatives
  }

  private atom(ignoreCase: boolean): Atom {
    const start = this.pos
    const char = this.source[this.pos]!
    const atom: Atom = {start, end: start}
    if (char === '(') {
      const header = GROUP_HEADER.exec(this.source.slice(this.pos))![0]
      const [, on = '', off] = MODIFIERS.exec(header) ?? []
      this.pos += header.length
      atom.lookaround = /^\(\?(?:[=!]|<[=!])$/.test(header)
      atom.alternatives = this.alternatives(off?.includes('i') ? false : on.includes('i') || ignoreCase)
      this.pos++
    } else if (char === '[') {
      this.skipClass()
    } else if (char === '\\') {
      const escape = ESCAPE.exec(this.source.slice(this.pos + 1))![0]
      this.pos += 1 + escape.length
      if (!/^[A-Za-z0-9]/.test(escape)) atom.literal = escape
    } else {
      this.pos++
      if (!'.^$'.includes(char)) atom.literal = ignoreCase ? char.toLowerCase() : char
    }
    const quantifier = QUANTIFIER.exec(this.source.slice(this.pos))
    if (quantifier) {
      this.pos += quantifier[0].length
      atom.quantifier = {repeats: repeats(quantifier)}
    }
    atom.end = this.pos
    return atom
  }

  /** `[...]`: in this syntax a `]` right after `[` or `[^` closes it, and classes do not nest. */
  private skipClass(): void {
    let i = this.pos + 1
    if (this.source[i] === '^') i++
    while (i < this.source.length && this.source[i] !== ']') i += this.source[i] === '\\' ? 2 : 1
    this.pos = i + 1
  }
}

const holdsQuantifier = (alternatives: Atom[][]): boolean =>
  alternatives.flat().some((atom) => atom.quantifier !== undefined || (atom.alternatives !== undefined && holdsQuantifier(atom.alternatives)))

/** The literal character an alternative starts with, if it surely starts with one. */
function firstLiteral(alternative: Atom[]): string | undefined {
  const [head] = alternative
  if (head?.alternatives && !head.lookaround && head.alternatives.length === 1) return firstLiteral(head.alternatives[0]!)
  return head?.literal
}

/** Whether every alternation, at any depth, starts each alternative with a different literal character. */
function deterministic(alternatives: Atom[][]): boolean {
  if (alternatives.length > 1) {
    const firsts = alternatives.map(firstLiteral)
    if (firsts.includes(undefined) || new Set(firsts).size !== firsts.length) return false
  }
  return alternatives.flat().every((atom) => atom.alternatives === undefined || deterministic(atom.alternatives))
}

function hazardIn(alternatives: Atom[][], source: string): string | undefined {
  for (const atom of alternatives.flat()) {
    if (!atom.alternatives) continue
    if (atom.quantifier?.repeats) {
      const text = source.slice(atom.start, atom.end)
      if (holdsQuantifier(atom.alternatives)) return `a repeated group contains a quantifier: ${text}`
      if (!deterministic(atom.alternatives)) return `a repeated group has alternatives that do not each start with a different character: ${text}`
    }
    const inner = hazardIn(atom.alternatives, source)
    if (inner !== undefined) return inner
  }
  return undefined
}

/** Why `source` can backtrack catastrophically, naming the construct, or undefined. */
export function backtrackingHazard(source: string): string | undefined {
  return hazardIn(new Parser(source).alternatives(false), source)
}
