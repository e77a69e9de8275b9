/**
 * The README runs top to bottom (issue 10 item 14): every `sh` and `console` block from the
 * main job on is run in order, in one shell, as a newcomer would paste them, in a fresh HOME
 * with `wid` on the PATH. `yaml` blocks whose first line is `# NAME.yaml` are the files the
 * commands apply. A `console` command followed by an `Error: ...` line must fail with that
 * line (`…` and `...` stand for any text); every other command must succeed.
 *
 * Not run: blocks after `<!-- README test: not run ... -->` (installing, the test suite,
 * benchmarks, and the server and login steps, which need a host name of your own and are
 * covered by test/e2e/server*.test.ts), and lines that call the AWS CLI (`aws ...`), since
 * there is no AWS here. `wid edit` runs on a terminal (script(1)) with EDITOR=true.
 */
import {execFileSync} from 'node:child_process'
import {existsSync, mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {PROJECT_ROOT, tempDir, WID_BIN} from '../helpers/cli.js'

type Step = {file: string; text: string} | {command: string; error?: string; line: number}

const NOT_RUN = /<!-- README test: not run\b/

/** The steps of the README from its main job on, in order. */
function readmeSteps(readme: string): Step[] {
  const steps: Step[] = []
  const start = readme.indexOf('## The main job')
  const block = /^```(\w*)\n([\s\S]*?)^```/gm
  for (const match of readme.matchAll(block)) {
    if (match.index! < start) continue
    const before = readme.slice(Math.max(0, match.index! - 300), match.index!).split('```').at(-1)!
    if (NOT_RUN.test(before)) continue
    const [, lang, body] = match
    const line = readme.slice(0, match.index!).split('\n').length
    if (lang === 'yaml') {
      const name = /^# ([\w.-]+\.yaml)\b/.exec(body!)?.[1]
      if (name) steps.push({file: name, text: body!})
    } else if (lang === 'sh') {
      for (const command of body!.replace(/\\\n\s*/g, '').split('\n')) {
        if (command.trim() === '' || command.trim().startsWith('#') || /^aws /.test(command)) continue
        steps.push({command, line})
      }
    } else if (lang === 'console') {
      const lines = body!.split('\n')
      lines.forEach((text, i) => {
        if (!text.startsWith('$ ')) return
        const next = lines[i + 1] ?? ''
        steps.push({command: text.slice(2), line, ...(next.startsWith('Error: ') ? {error: next} : {})})
      })
    }
  }
  return steps
}

/** `…` and `...` in the README stand for any text. */
function pattern(expected: string): RegExp {
  const parts = expected.split(/…|\.\.\./).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
  return new RegExp(`^${parts.join('.*')}$`)
}

describe('the README, run top to bottom', () => {
  const tmp = tempDir()
  const opt = '/opt/roles-anywhere-svid'
  const optExisted = existsSync(opt)
  afterAll(() => {
    tmp.cleanup()
    if (!optExisted) rmSync(opt, {recursive: true, force: true})
  })

  it('every command does what the README says', () => {
    const steps = readmeSteps(readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8'))
    expect(steps.filter((s) => 'command' in s).length).toBeGreaterThan(40)
    const home = join(tmp.path, 'home')
    const work = join(tmp.path, 'work')
    const bin = join(tmp.path, 'bin')
    const out = join(tmp.path, 'out')
    for (const dir of [home, work, bin, out]) mkdirSync(dir, {mode: 0o700})
    writeFileSync(join(bin, 'wid'), `#!/bin/sh\nexec '${process.execPath}' '${WID_BIN}' "$@"\n`, {mode: 0o755})
    // One shell for all: exports and cd carry over, as in a terminal.
    const script = [
      'cd "$WORK"',
      ...steps.map((step, n) => {
        if ('file' in step) return `cat > '${step.file}' <<'README_EOF'\n${step.text}README_EOF`
        const quoted = `'${step.command.replace(/'/g, `'\\''`)}'`
        // wid edit needs the terminal; everything else reads nothing, so nothing can wait for input
        const stdio = /^wid edit /.test(step.command) ? '' : `</dev/null >"$OUT/${n}.out" `
        return `{ eval ${quoted}; } ${stdio}2>"$OUT/${n}.err"; echo $? >"$OUT/${n}.rc"`
      }),
    ].join('\n')
    writeFileSync(join(tmp.path, 'readme.sh'), script)
    execFileSync('timeout', ['300', 'script', '-qec', `bash ${join(tmp.path, 'readme.sh')}`, '/dev/null'], {
      env: {
        PATH: `${bin}:${process.env.PATH}`,
        HOME: home,
        WORK: work,
        OUT: out,
        TERM: 'dumb',
        NO_COLOR: '1',
        EDITOR: 'true',
        LANG: process.env.LANG ?? 'C.UTF-8',
      },
      stdio: 'ignore',
    })
    const failures: string[] = []
    steps.forEach((step, n) => {
      if ('file' in step) return
      const read = (ext: string) => (existsSync(join(out, `${n}.${ext}`)) ? readFileSync(join(out, `${n}.${ext}`), 'utf8') : '')
      const rc = Number(read('rc') || -1)
      const stderr = read('err').trim()
      const where = `README.md:${step.line}: ${step.command}`
      if (step.error === undefined) {
        if (rc !== 0) failures.push(`${where}\n    exit ${rc}: ${stderr.split('\n').at(-1)}`)
      } else {
        const last = stderr.split('\n').at(-1) ?? ''
        if (rc === 0) failures.push(`${where}\n    succeeded; the README says: ${step.error}`)
        else if (!pattern(step.error).test(last)) failures.push(`${where}\n    said:      ${last}\n    README:    ${step.error}`)
      }
    })
    expect(failures, failures.join('\n')).toEqual([])
    // (a guard against hanging: the README runs about a hundred commands one after another)
  }, 240_000)
})
