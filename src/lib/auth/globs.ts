/**
 * Globs whose only wildcard is `*`, standing for any text (`/` included, and nothing):
 * role `spiffe` paths and DNS SAN patterns, and workload identity templates seen as globs
 * (each `{{ expr }}` may render to any text). Matching, and the two questions the write
 * fence asks of a template: is every rendering inside an allowed pattern (containment),
 * and can any rendering hit a denied one (overlap).
 */

/** A glob as its literal parts, in order, with a wildcard between each two: `a*b` is `['a', 'b']`. */
export type Glob = readonly string[]

export const parseGlob = (pattern: string): Glob => pattern.split('*')

/** Leftmost-first matching of the middle parts is exact for `*`-only globs. */
export function globMatches(glob: Glob, value: string): boolean {
  const first = glob[0]!
  if (glob.length === 1) return value === first
  const last = glob.at(-1)!
  const end = value.length - last.length
  if (end < first.length || !value.startsWith(first) || !value.endsWith(last)) return false
  let at = first.length
  for (const part of glob.slice(1, -1)) {
    const found = value.indexOf(part, at)
    if (found === -1 || found + part.length > end) return false
    at = found + part.length
  }
  return true
}

/** A character that occurs in no part of `glob`. */
function freshCharacter(glob: Glob): string {
  const used = new Set(glob.join(''))
  let code = 0
  while (used.has(String.fromCharCode(code))) code++
  return String.fromCharCode(code)
}

/**
 * Whether every value `inner` matches, `outer` matches too. For `*`-only globs this holds
 * exactly when `outer` matches `inner` with each wildcard replaced by a character `outer`
 * cannot match literally: that character can only be absorbed by a wildcard of `outer`,
 * which then absorbs any text in its place.
 */
export function globContains(outer: Glob, inner: Glob): boolean {
  return globMatches(outer, inner.join(freshCharacter(outer)))
}

const WILDCARD: unique symbol = Symbol('*')
type Token = string | typeof WILDCARD

function tokens(glob: Glob): Token[] {
  const result: Token[] = []
  for (const [i, part] of glob.entries()) {
    if (i > 0) result.push(WILDCARD)
    result.push(...part)
  }
  return result
}

/**
 * Whether some value matches both globs: a search over pairs of positions, where a
 * wildcard either ends or swallows the other side's next token, and literals must agree.
 */
export function globsOverlap(a: Glob, b: Glob): boolean {
  const x = tokens(a)
  const y = tokens(b)
  const width = y.length + 1
  const seen = new Uint8Array((x.length + 1) * width)
  const pending: [number, number][] = []
  const visit = (i: number, j: number) => {
    if (i <= x.length && j <= y.length && !seen[i * width + j]) {
      seen[i * width + j] = 1
      pending.push([i, j])
    }
  }
  visit(0, 0)
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [i, j] = next
    if (i === x.length && j === y.length) return true
    if (x[i] === WILDCARD) {
      visit(i + 1, j)
      if (j < y.length) visit(i, j + 1)
    }
    if (y[j] === WILDCARD) {
      visit(i, j + 1)
      if (i < x.length) visit(i + 1, j)
    }
    if (i < x.length && j < y.length && x[i] !== WILDCARD && x[i] === y[j]) visit(i + 1, j + 1)
  }
  return false
}
