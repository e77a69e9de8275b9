import {execFileSync} from 'node:child_process'
import {chmodSync, readFileSync, writeFileSync} from 'node:fs'
import {userInfo} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {expectOneLineError, tempDir, widIn, WID_BIN} from '../helpers/cli.js'
import {INTEGRATION, ISSUER_ROLE, LEGACY_ROLE, WORKLOAD_IDENTITY} from '../helpers/design-documents.js'
import {certificateText} from '../helpers/openssl.js'

describe('resources and access control', () => {
  const tmp = tempDir()
  const wid = widIn(join(tmp.path, 'home'))
  const file = (name: string, text: string) => {
    const path = join(tmp.path, name)
    writeFileSync(path, text)
    return path
  }
  const snapshot = async () => {
    const kinds = ['workload_identity', 'role', 'bot', 'user', 'token', 'integration']
    return (await Promise.all(kinds.map((k) => wid(['get', k, '--format', 'json'])))).map((r) => r.stdout).join('\n')
  }

  beforeAll(async () => {
    expect((await wid(['init', '--cluster-name', 'example.org'])).code).toBe(0)
  })
  afterAll(() => tmp.cleanup())

  it('applies the documents of DESIGN §1 verbatim, shows them, and refuses to apply them twice without --force', async () => {
    const stream = [WORKLOAD_IDENTITY, ISSUER_ROLE, LEGACY_ROLE, INTEGRATION].join('---\n')
    const created = await wid(['create', '-f', file('all.yaml', stream)])
    expect(created.code, created.stderr).toBe(0)
    expect(created.stderr.trim().split('\n')).toEqual([
      'workload_identity "example-workload-identity" has been created',
      "role 'example-workload-identity-issuer' has been created",
      "role 'example-service-legacy' has been created",
      "integration 'my-integration' has been created",
    ])
    const wi = JSON.parse((await wid(['get', 'workload_identity/example-workload-identity', '--format', 'json'])).stdout)
    expect(wi).toMatchObject({kind: 'workload_identity', metadata: {name: 'example-workload-identity', labels: {example: 'getting-started'}}, spec: {spiffe: {id: '/svc/example-service'}}})
    const roles = await wid(['get', 'role', '--format', 'text'])
    expect(roles.stdout).toContain('example-workload-identity-issuer')
    expect(roles.stdout).toContain('example-service-legacy')

    const again = await wid(['create', '-f', file('wi.yaml', WORKLOAD_IDENTITY)])
    expect(expectOneLineError(again)).toMatch(/workload_identity "example-workload-identity" already exists; use --force/)
    expect(again.code).toBe(4)
    const forced = await wid(['create', '--force', '-f', file('wi.yaml', WORKLOAD_IDENTITY)])
    expect(forced.code, forced.stderr).toBe(0)
    expect(forced.stderr).toContain('workload_identity "example-workload-identity" has been updated')
  })

  it('round-trips YAML from wid get through wid create --force', async () => {
    const yaml = (await wid(['get', 'role/example-workload-identity-issuer'])).stdout
    const result = await wid(['create', '--force', '-f', '-'], {input: yaml})
    expect(result.code, result.stderr).toBe(0)
    expect((await wid(['get', 'role/example-workload-identity-issuer', '--format', 'json'])).stdout).toContain('getting-started')
  })

  it('issues by name as a bot only once the bot holds the issuer role', async () => {
    const bot = await wid(['bots', 'add', 'my-bot'])
    expect(bot.code, bot.stderr).toBe(0)
    expect(bot.stdout.trim()).toMatch(/^[0-9a-f]{32}$/)
    const out = join(tmp.path, 'bot-svid')
    const denied = await wid(['svid', 'issue', '--as', 'bot/my-bot', '--name', 'example-workload-identity', '--output', out])
    expect(expectOneLineError(denied)).toMatch(/bot "my-bot" may not use workload identity "example-workload-identity": no role allows read on workload_identity/)
    expect(denied.code).toBe(5)

    const update = await wid(['bots', 'update', 'my-bot', '--add-roles', 'example-workload-identity-issuer'])
    expect(update.code, update.stderr).toBe(0)
    const allowed = await wid(['svid', 'issue', '--as', 'bot/my-bot', '--name', 'example-workload-identity', '--output', out])
    expect(allowed.code, allowed.stderr).toBe(0)
    expect(certificateText(join(out, 'svid.pem'))).toContain('URI:spiffe://example.org/svc/example-service')

    const byLabels = await wid(['svid', 'issue', '--as', 'bot/my-bot', '--labels', 'example=getting-started', '--type', 'jwt', '--audience', 'sts.amazonaws.com', '--output', out, '--json'])
    expect(byLabels.code, byLabels.stderr).toBe(0)
    expect(JSON.parse(byLabels.stdout)).toMatchObject({spiffeId: 'spiffe://example.org/svc/example-service', workloadIdentity: 'example-workload-identity'})

    const bots = await wid(['bots', 'ls', '--json'])
    expect(JSON.parse(bots.stdout)).toEqual([{bot: 'my-bot', roles: ['example-workload-identity-issuer']}])
    expect(expectOneLineError(await wid(['bots', 'update', 'my-bot', '--add-roles', 'no-such-role']))).toMatch(/role "no-such-role" does not exist/)
  })

  it('refuses a label selector that matches more than 10 identities', async () => {
    const many = Array.from({length: 11}, (_, i) => WORKLOAD_IDENTITY.replace('example-workload-identity', `wi-${i}`).replace('getting-started', 'many')).join('---\n')
    expect((await wid(['create', '-f', file('many.yaml', many)])).code).toBe(0)
    const result = await wid(['svid', 'issue', '--labels', 'example=many', '--output', join(tmp.path, 'many')])
    expect(expectOneLineError(result)).toMatch(/labels example=many match 11 workload identities; at most 10/)
  })

  it('renders templates for the caller and applies rules on user.name', async () => {
    const templated = `kind: workload_identity
version: v1
metadata:
  name: per-user
  labels: {team: people}
spec:
  rules:
    allow:
      - conditions:
          - attribute: user.name
            eq: {value: alice}
  spiffe:
    id: /user/{{ user.name }}
---
kind: workload_identity
version: v1
metadata:
  name: bot-only
spec:
  spiffe:
    id: /bot/{{ user.bot_name }}
---
kind: role
version: v7
metadata:
  name: people
spec:
  allow:
    workload_identity_labels: {"*": "*"}
    rules: [{resources: [workload_identity], verbs: [read, list]}]
`
    expect((await wid(['create', '-f', file('templated.yaml', templated)])).code).toBe(0)
    expect((await wid(['users', 'add', 'alice', '--roles', 'people'])).code).toBe(0)
    expect((await wid(['users', 'add', 'bob', '--roles', 'people'])).code).toBe(0)

    const out = join(tmp.path, 'alice')
    const alice = await wid(['svid', 'issue', '--as', 'user/alice', '--name', 'per-user', '--output', out, '--json'])
    expect(alice.code, alice.stderr).toBe(0)
    expect(JSON.parse(alice.stdout).spiffeId).toBe('spiffe://example.org/user/alice')

    const bob = await wid(['svid', 'issue', '--as', 'user/bob', '--name', 'per-user', '--output', join(tmp.path, 'bob')])
    expect(expectOneLineError(bob)).toMatch(/no matching rule found/)

    const unset = await wid(['svid', 'issue', '--as', 'user/alice', '--name', 'bot-only', '--output', join(tmp.path, 'unset')])
    expect(expectOneLineError(unset)).toMatch(/attribute "user.bot_name" is not set/)
  })

  it('legacy path issuance needs a role with allow.spiffe', async () => {
    expect((await wid(['users', 'add', 'carol', '--roles', 'people'])).code).toBe(0)
    const out = join(tmp.path, 'carol')
    const denied = await wid(['svid', 'issue', '--as', 'user/carol', '--output', out, '/svc/example-service'])
    expect(expectOneLineError(denied)).toMatch(/user "carol" may not issue spiffe path \/svc\/example-service/)
    expect((await wid(['users', 'update', 'carol', '--add-roles', 'example-service-legacy'])).code).toBe(0)
    const allowed = await wid(['svid', 'issue', '--as', 'user/carol', '--output', out, '/svc/example-service'])
    expect(allowed.code, allowed.stderr).toBe(0)
    const other = await wid(['svid', 'issue', '--as', 'user/carol', '--output', out, '/svc/other'])
    expect(expectOneLineError(other)).toMatch(/may not issue spiffe path \/svc\/other/)
  })

  describe('bad input changes nothing and gives one clear line', () => {
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
      ['a second document that is bad', `${WORKLOAD_IDENTITY.replace('example-workload-identity', 'fresh')}---\nkind: role\n`, /^bad\.yaml:\d+:\d+: version: missing required field/],
      ['a user named like a bot\'s user', 'kind: user\nversion: v2\nmetadata: {name: bot-deployer}\nspec: {roles: []}\n', /^bad\.yaml:3:18: metadata\.name: names starting with "bot-" are reserved for bots \(the bot NAME is user\.name "bot-NAME" in roles and templates\); choose another name$/],
      ['an empty input', '\n---\n', /^no resources found, empty input\?$/],
      ['a YAML alias bomb', `a: &a ["x","x","x","x","x","x","x","x","x"]\n${'bcdefghij'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefghij'[i]}`).join(',')}]`).join('\n')}\n`, /^bad\.yaml:\d+:\d+: excessive alias count/],
    ]
    for (const [name, text, message] of cases) {
      it(name, async () => {
        const before = await snapshot()
        file('bad.yaml', text)
        const result = await wid(['create', '-f', 'bad.yaml'], {cwd: tmp.path})
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
      for (const selector of ['example', 'example=', '=x', 'a=b,a=c']) {
        const result = await wid(['svid', 'issue', '--labels', selector, '--output', join(tmp.path, 'sel')])
        expect(expectOneLineError(result)).toMatch(/invalid --labels/)
      }
    })

    it('wid users add with a name reserved for bots', async () => {
      const before = await snapshot()
      const result = await wid(['users', 'add', 'bot-deployer'])
      expect([result.code, expectOneLineError(result)]).toEqual([2, 'metadata.name: names starting with "bot-" are reserved for bots (the bot NAME is user.name "bot-NAME" in roles and templates); choose another name'])
      expect(await snapshot()).toBe(before)
    })

    it('a missing file, and get/rm of unknown things', async () => {
      expect(expectOneLineError(await wid(['create', '-f', join(tmp.path, 'nope.yaml')]))).toMatch(/does not exist/)
      expect(expectOneLineError(await wid(['get', 'gizmo']))).toMatch(/unknown kind "gizmo"/)
      expect(expectOneLineError(await wid(['get', 'role/nope']))).toMatch(/role 'nope' not found/)
      expect(expectOneLineError(await wid(['rm', 'role']))).toMatch(/must name a resource/)
      expect(expectOneLineError(await wid(['rm', 'role/example-workload-identity-issuer']))).toMatch(/is used by bot "my-bot"/)
    })
  })

  it('two concurrent creates of the same new resource: exactly one succeeds', async () => {
    const doc = file('race.yaml', WORKLOAD_IDENTITY.replace('example-workload-identity', 'race'))
    const results = await Promise.all([wid(['create', '-f', doc]), wid(['create', '-f', doc])])
    expect(results.map((r) => r.code).sort()).toEqual([0, 4])
  })

  it('tokens and users: add, list, remove; secrets are never shown again', async () => {
    const added = JSON.parse((await wid(['tokens', 'add', '--type', 'bot', '--bot-name', 'my-bot', '--ttl', '10m', '--json'])).stdout)
    expect(added.token).toMatch(/^[0-9a-f]{32}$/)
    const listed = JSON.parse((await wid(['tokens', 'ls', '--json'])).stdout)
    expect(listed.map((t: {id: string}) => t.id)).toContain(added.id)
    const tokens = JSON.parse((await wid(['get', 'token', '--format', 'json'])).stdout) as {metadata: {name: string}}[]
    expect(tokens.map((t) => t.metadata.name)).toContain(added.id)
    const all = JSON.stringify(tokens) + (await wid(['get', 'user', '--format', 'json'])).stdout
    expect(all).not.toContain(added.token)
    expect(all).not.toMatch(/invite_hash|password_hash|secret_hash/)
    expect((await wid(['tokens', 'rm', added.id])).code).toBe(0)
    expect(JSON.parse((await wid(['tokens', 'ls', '--json'])).stdout).map((t: {id: string}) => t.id)).not.toContain(added.id)
    expect(expectOneLineError(await wid(['tokens', 'add', '--bot-name', 'ghost']))).toMatch(/bot "ghost" not found/)

    const users = JSON.parse((await wid(['users', 'ls', '--json'])).stdout)
    expect(users).toContainEqual({user: 'alice', roles: ['people']})
    expect((await wid(['users', 'rm', 'bob'])).code).toBe(0)
    expect(expectOneLineError(await wid(['users', 'rm', 'bob']))).toMatch(/user "bob" not found/)
  })

  it('records changes and issuances in the audit log; an issuance rehearsed with --as names the local admin', async () => {
    // Given SVIDs issued above by the local admin as bot/my-bot (--as), and one it issues as itself
    expect((await wid(['svid', 'issue', '--name', 'example-workload-identity', '--output', join(tmp.path, 'admin-svid')])).code).toBe(0)
    // When the admin lists the audit log
    const events = JSON.parse((await wid(['audit', 'ls', '--type', 'svid.issued', '--json'])).stdout) as {actor: string; as?: string}[]
    // Then the actor is the local admin who did it, and `as` the bot it rehearsed
    const admin = `admin:${userInfo().username}`
    expect(events.some((e) => e.actor === 'bot:my-bot')).toBe(false)
    expect(events.find((e) => e.as === 'bot:my-bot')).toMatchObject({
      actor: admin,
      type: 'svid.issued',
      spiffe_id: 'spiffe://example.org/svc/example-service',
      workload_identity: 'example-workload-identity',
      svid_type: 'x509',
      ttl_seconds: 3600,
    })
    expect((await wid(['audit', 'ls', '--type', 'svid.issued'])).stdout).toContain(`${admin} (as bot:my-bot)`)
    // And what the admin did without --as has no `as`
    expect(events.find((e) => e.as === undefined)).toMatchObject({actor: admin})
    const recent = JSON.parse((await wid(['audit', 'ls', '--since', '1h', '--json'])).stdout)
    expect(recent.some((e: {type: string; kind?: string}) => e.type === 'resource.created' && e.kind === 'role')).toBe(true)
    expect(JSON.parse((await wid(['audit', 'ls', '--type', 'nothing.like.this', '--json'])).stdout)).toEqual([])
  })

  it('wid edit applies a change made in the editor, and refuses without a terminal', async () => {
    const editor = file('editor.sh', '#!/bin/sh\nsed -i "s/getting-started/edited/" "$1"\n')
    chmodSync(editor, 0o755)
    // script(1) gives wid a real terminal, as a person at a shell has
    execFileSync('script', ['-qec', `${process.execPath} ${WID_BIN} edit role/example-workload-identity-issuer`, '/dev/null'], {
      env: {...process.env, WID_HOME: join(tmp.path, 'home'), EDITOR: editor, VISUAL: ''},
      stdio: 'pipe',
    })
    expect((await wid(['get', 'role/example-workload-identity-issuer'])).stdout).toContain('edited')
    const noTty = await wid(['edit', 'role/example-workload-identity-issuer'], {env: {EDITOR: editor}})
    expect(expectOneLineError(noTty)).toMatch(/needs an interactive terminal/)
    expect(readFileSync(editor, 'utf8')).toContain('sed')
  })
})
