/** Reading /metrics in tests: Prometheus' own checker (promtool), and sample values by name and labels. */
import {spawnSync} from 'node:child_process'
import {existsSync} from 'node:fs'

/** Where .ci/run unpacks promtool from Debian's prometheus package (PROMTOOL overrides). */
function promtool(): string {
  const path = process.env.PROMTOOL ?? '/opt/promtool/promtool'
  if (!existsSync(path)) throw new Error(`promtool is not at ${path}: run the promtool step of .ci/run (or set PROMTOOL)`)
  return path
}

/** `promtool check metrics` on `text`: its complaints (parse errors and lint problems), empty when it finds none. */
export function promtoolProblems(text: string): string {
  const result = spawnSync(promtool(), ['check', 'metrics'], {input: text, encoding: 'utf8'})
  if (result.error) throw result.error
  return result.status === 0 ? '' : `exit ${result.status}: ${result.stdout}${result.stderr}`
}

/**
 * The value of the sample `name` whose labels include `labels` (undefined when there is none);
 * in text format 0.0.4 a sample is `name{label="value",...} value`.
 */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!match || match[1] !== name) continue
    const present = new Map([...(match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]))
    if (Object.entries(labels).every(([key, value]) => present.get(key) === value)) return Number(match[3])
  }
  return undefined
}
