/** `wid create` and other commands given bad input: one clear line at file:line:col, exit status 2, and nothing changed. */
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {DatabaseSync} from 'node:sqlite'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {expectOneLineError, tempDir, widIn} from '../helpers/cli.js'
import {INTEGRATION, WORKLOAD_IDENTITY} from '../helpers/design-documents.js'

describe('bad input changes nothing and gives one clear line', () => {
  const tmp = tempDir()
  const wid = widIn(join(tmp.path, 'home'))
  const file = (name: string, text: string) => {
    const path = join(tmp.path, name)
    writeFileSync(path, text)
    return path
  }
  /** Every stored item, as SQLite itself reads the cluster's file (cheaper than a wid get per kind, and it sees every key). */
  const snapshot = async () => {
    // (with a busy timeout, as wid's own connections have: a wid run of another case may be opening the file)
    const db = new DatabaseSync(join(tmp.path, 'home', 'wid.db'), {readOnly: true, timeout: 30_000})
    try {
      return JSON.stringify(db.prepare('SELECT key, value, revision FROM kv ORDER BY key').all())
    } finally {
      db.close()
    }
  }

  beforeAll(async () => {
    // Given a cluster holding the DESIGN documents' workload identity and integration
    expect((await wid(['init', '--cluster-name', 'example.org'])).code).toBe(0)
    expect((await wid(['create', '-f', '-'], {input: [WORKLOAD_IDENTITY, INTEGRATION].join('---\n')})).code).toBe(0)
  })
  afterAll(() => tmp.cleanup())

  const cases: [string, string, RegExp][] = [
    ['malformed YAML', 'kind: role\nversion: [v6\n', /^bad\.yaml:\d+:\d+: /],
    ['a tab-indented document', 'kind: role\nversion: v6\nmetadata:\n\tname: x\n', /^bad\.yaml:4:1: tabs are not allowed as indentation/],
    ['an unknown kind', 'kind: gizmo\nversion: v1\n', /^bad\.yaml:1:7: kind: unknown kind "gizmo"/],
    ['an unsupported version', 'kind: role\nversion: v5\nmetadata: {name: x}\nspec: {}\n', /^bad\.yaml:2:10: version: unsupported version "v5" for role \(supported: v7, v6\)/],
    ['an unknown field', 'kind: role\nversion: v6\nmetadata: {name: x}\nspec:\n  allow:\n    rulez: []\n', /^bad\.yaml:6:5: spec\.allow\.rulez: unknown field \(allowed: workload_identity_labels, rules, spiffe\)/],
    ['a missing metadata.name', 'kind: role\nversion: v6\nmetadata: {}\nspec: {}\n', /^bad\.yaml:3:11: metadata\.name: missing required field/],
    ['spiffe.id without a leading slash', WORKLOAD_IDENTITY.replace('name: example-workload-identity', 'name: fresh').replace('/svc/example-service', 'svc/example-service'), /^bad\.yaml:9:9: spec\.spiffe\.id: must start with "\/"/],
    ['an invalid ARN', INTEGRATION.replace('my-integration', 'fresh').replace('arn:aws:iam', 'arn:aws:s3'), /^bad\.yaml:8:15: spec\.aws_oidc\.role_arn: invalid ARN .*service is "s3", expected "iam"/],
    ['an invalid label pattern', 'kind: role\nversion: v7\nmetadata: {name: fresh}\nspec:\n  allow:\n    workload_identity_labels: {env: "^prod-($"}\n', /^bad\.yaml:6:\d+: .*workload_identity_labels/],
    ['an invalid spiffe path regex', 'kind: role\nversion: v7\nmetadata: {name: fresh}\nspec:\n  allow:\n    spiffe:\n      - path: "^/svc/(foo$"\n', /^bad\.yaml:7:15: spec\.allow\.spiffe\[0\]\.path: invalid regular expression "\^\/svc\/\(foo\$"$/],
    [
      'a spiffe path regex that can backtrack catastrophically',
      'kind: role\nversion: v7\nmetadata: {name: fresh}\nspec:\n  allow:\n    spiffe:\n      - path: "^/svc/([a-z0-9-]+)*$"\n',
      /^bad\.yaml:7:15: spec\.allow\.spiffe\[0\]\.path: regular expression "\^\/svc\/\(\[a-z0-9-\]\+\)\*\$" can backtrack catastrophically \(a repeated group contains a quantifier: \(\[a-z0-9-\]\+\)\*\)$/,
    ],
    [
      'a deny label regex that can backtrack catastrophically',
      'kind: role\nversion: v7\nmetadata: {name: fresh}\nspec:\n  deny:\n    workload_identity_labels:\n      team: [a, "^(a|ab)*$"]\n',
      /^bad\.yaml:7:17: spec\.deny\.workload_identity_labels\.team\[1\]: regular expression "\^\(a\|ab\)\*\$" can backtrack catastrophically \(a repeated group has alternatives that do not each start with a different character: \(a\|ab\)\*\)$/,
    ],
    [
      'a terminal escape (OSC) in a subject template',
      `${WORKLOAD_IDENTITY.replace('example-workload-identity', 'fresh')}    x509: {subject_template: {common_name: "\\e]0;CN\\ax"}}\n`,
      /^bad\.yaml:10:44: spec\.spiffe\.x509\.subject_template\.common_name: contains a control character \(U\+001B\)$/,
    ],
    ['a C1 control in a label key', 'kind: role\nversion: v7\nmetadata:\n  name: fresh\n  labels: {"a\u009bb": x}\nspec: {}\n', /^bad\.yaml:5:12: metadata\.labels: a key contains a control character \(U\+009B\)$/],
    ['a second document that is bad', `${WORKLOAD_IDENTITY.replace('example-workload-identity', 'fresh')}---\nkind: role\n`, /^bad\.yaml:\d+:\d+: version: missing required field/],
    [
      'a user named like a bot\'s user, in another case',
      'kind: user\nversion: v2\nmetadata: {name: BOT-deployer}\nspec: {roles: []}\n',
      /^bad\.yaml:3:18: metadata\.name: names starting with "bot-", in any case, are reserved for bots \(the bot NAME is user\.name "bot-NAME" in roles and templates, and DNS names ignore case\); choose another name$/,
    ],
    ['an empty input', '\n---\n', /^no resources found, empty input\?$/],
    ['a YAML alias bomb', `a: &a ["x","x","x","x","x","x","x","x","x"]\n${'bcdefghij'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefghij'[i]}`).join(',')}]`).join('\n')}\n`, /^bad\.yaml:\d+:\d+: excessive alias count/],
  ]
  // (these run at once: each is refused, so none changes what another's snapshot reads, and each
  // has its bad.yaml in a directory of its own)
  for (const [i, [name, text, message]] of cases.entries()) {
    it.concurrent(name, async () => {
      const before = await snapshot()
      const dir = join(tmp.path, `case-${i}`)
      mkdirSync(dir)
      writeFileSync(join(dir, 'bad.yaml'), text)
      const result = await wid(['create', '-f', 'bad.yaml'], {cwd: dir})
      expect(expectOneLineError(result)).toMatch(message)
      expect(result.code).toBe(2)
      expect(await snapshot()).toBe(before)
    })
  }

  it('a 10 MB document', async () => {
    const before = await snapshot()
    const result = await wid(['create', '-f', file('huge.yaml', `kind: role\n# ${'x'.repeat(10 * 1024 * 1024)}\n`)])
    expect(expectOneLineError(result)).toMatch(/larger than 4 MiB/)
    expect(await snapshot()).toBe(before)
  })

  it('an invalid label selector on the command line', async () => {
    const results = await Promise.all(['example', 'example=', '=x', 'a=b,a=c'].map((selector) => wid(['svid', 'issue', '--labels', selector, '--output', join(tmp.path, 'sel')])))
    for (const result of results) expect(expectOneLineError(result)).toMatch(/invalid --labels/)
  })

  it('wid users add with a name reserved for bots', async () => {
    const before = await snapshot()
    for (const result of await Promise.all(['bot-deployer', 'BOT-ci'].map((name) => wid(['users', 'add', name])))) {
      expect([result.code, expectOneLineError(result)]).toEqual([
        2,
        'metadata.name: names starting with "bot-", in any case, are reserved for bots (the bot NAME is user.name "bot-NAME" in roles and templates, and DNS names ignore case); choose another name',
      ])
    }
    expect(await snapshot()).toBe(before)
  })
})
