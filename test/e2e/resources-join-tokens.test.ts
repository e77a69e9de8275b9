/** Token resources of the delegated join methods: applied, shown and removed by name, never hashed (issue 13 item 1). */
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {expectOneLineError, tempDir, widIn} from '../helpers/cli.js'

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

  it('refuses an allow rule that could admit any workflow at file:line:col', async () => {
    const result = await wid(['create', '-f', '-'], {input: GITHUB_TOKEN.replace('      - repository: acme/app\n', '      - workflow: deploy\n')})
    expect([result.code, expectOneLineError(result)]).toEqual([
      2,
      'stdin:11:9: spec.github.allow[0]: names none of repository, repository_owner or sub; such a rule would admit any GitHub Actions workflow',
    ])
  })
})
