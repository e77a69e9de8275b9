/** Token resources of the delegated join methods: applied, shown and removed by name, never hashed (issue 13 item 1). */
import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {expectOneLineError, tempDir, widIn, WID_BIN} from '../helpers/cli.js'

const GITHUB_TOKEN = `kind: token
version: v2
metadata:
  name: github-ci
spec:
  roles: [Bot]
  bot_name: ci
  join_method: github
  github:
    allow:
      - repository: acme/app
        ref: refs/heads/main
`

describe('delegated join tokens as resources', () => {
  const tmp = tempDir()
  const wid = widIn(join(tmp.path, 'home'))

  beforeAll(async () => {
    expect((await wid(['init', '--cluster-name', 'example.org'])).code).toBe(0)
    expect((await wid(['bots', 'add', 'ci'])).code).toBe(0)
  })
  afterAll(() => tmp.cleanup())

  it('applies, lists, shows, replaces and removes a token by its name', async () => {
    const created = await wid(['create', '-f', '-'], {input: GITHUB_TOKEN})
    expect([created.code, created.stderr.trim()]).toEqual([0, 'token "github-ci" has been created'])
    const got = await wid(['get', 'token/github-ci', '--format', 'json'])
    expect(got.code, got.stderr).toBe(0)
    expect(JSON.parse(got.stdout)).toMatchObject({metadata: {name: 'github-ci'}, spec: {join_method: 'github', github: {allow: [{repository: 'acme/app'}]}}})
    expect(JSON.parse(got.stdout).status).toBeUndefined()
    const listed = JSON.parse((await wid(['tokens', 'ls', '--json'])).stdout) as {id: string; joinMethod: string}[]
    expect(listed).toContainEqual(expect.objectContaining({id: 'github-ci', joinMethod: 'github'}))
    const again = await wid(['create', '-f', '-'], {input: GITHUB_TOKEN})
    expect([again.code, expectOneLineError(again)]).toEqual([4, 'stdin:1:1: token "github-ci" already exists; use --force to overwrite it (nothing was applied)'])
    const replaced = await wid(['create', '-f', '-', '--force'], {input: GITHUB_TOKEN.replace('acme/app', 'acme/other')})
    expect([replaced.code, replaced.stderr.trim()]).toEqual([0, 'token "github-ci" has been updated'])
    const removed = await wid(['rm', 'token/github-ci'])
    expect([removed.code, removed.stderr.trim()]).toEqual([0, 'token "github-ci" has been deleted'])
    const audit = (await wid(['audit', 'ls', '--json'])).stdout
    expect(audit).toContain('"name": "github-ci"')
  })

  it('refuses to guess when a name is both a delegated token and a one-time token\'s secret', async () => {
    const name = 'github-ci-shared-name'
    expect((await wid(['create', '-f', '-'], {input: GITHUB_TOKEN.replace('github-ci', name)})).code).toBe(0)
    const oneTime = `kind: token\nversion: v2\nmetadata:\n  name: ${name}\nspec:\n  roles: [Bot]\n  bot_name: ci\n  join_method: token\n`
    expect((await wid(['create', '-f', '-'], {input: oneTime})).code).toBe(0)
    const id = createHash('sha256').update(name).digest('hex').slice(0, 16)
    const removed = await wid(['rm', `token/${name}`])
    expect([removed.code, expectOneLineError(removed)]).toEqual([2, `token "${name}" names both a delegated token and a one-time token (id ${id}); give the one-time token's id`])
    expect((await wid(['rm', `token/${id}`])).code).toBe(0)
    const delegated = await wid(['rm', `token/${name}`])
    expect([delegated.code, delegated.stderr.trim()]).toEqual([0, `token "${name}" has been deleted`])
  })

  it('wid edit changes a delegated token (it holds no secret), and refuses a one-time token', async () => {
    expect((await wid(['create', '-f', '-'], {input: GITHUB_TOKEN.replace('github-ci', 'editable')})).code).toBe(0)
    const editor = join(tmp.path, 'editor.sh')
    writeFileSync(editor, '#!/bin/sh\nsed -i "s#acme/app#acme/edited#" "$1"\n', {mode: 0o755})
    // script(1) gives wid the terminal that edit needs; its exit status is wid's (-e)
    const onTerminal = (ref: string) =>
      spawnSync('script', ['-qec', `${process.execPath} ${WID_BIN} edit ${ref}`, '/dev/null'], {env: {...process.env, WID_HOME: join(tmp.path, 'home'), EDITOR: editor, VISUAL: '', NO_COLOR: '1'}, encoding: 'utf8'})
    const edited = onTerminal('token/editable')
    expect(edited.status, edited.stdout).toBe(0)
    expect(JSON.parse((await wid(['get', 'token/editable', '--format', 'json'])).stdout).spec.github.allow).toEqual([{repository: 'acme/edited', ref: 'refs/heads/main'}])
    const added = await wid(['tokens', 'add', '--bot-name', 'ci', '--json'])
    expect(added.code, added.stderr).toBe(0)
    const refused = onTerminal(`token/${(JSON.parse(added.stdout) as {id: string}).id}`)
    expect(refused.status).toBe(2)
    expect(refused.stdout).toContain('edit: one-time tokens cannot be edited; remove the token and add a new one')
  })

  it('refuses an allow rule that could admit any workflow at file:line:col', async () => {
    const result = await wid(['create', '-f', '-'], {input: GITHUB_TOKEN.replace('      - repository: acme/app\n', '      - workflow: deploy\n')})
    expect([result.code, expectOneLineError(result)]).toEqual([
      2,
      'stdin:11:9: spec.github.allow[0]: names none of repository, repository_owner or sub; such a rule would admit any GitHub Actions workflow',
    ])
  })
})
