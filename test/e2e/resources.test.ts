import {execFileSync} from 'node:child_process'
import {chmodSync, mkdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
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

    // (the three at once: each writes to a directory of its own)
    const [alice, bob, unset] = await Promise.all([
      wid(['svid', 'issue', '--as', 'user/alice', '--name', 'per-user', '--output', join(tmp.path, 'alice'), '--json']),
      wid(['svid', 'issue', '--as', 'user/bob', '--name', 'per-user', '--output', join(tmp.path, 'bob')]),
      wid(['svid', 'issue', '--as', 'user/alice', '--name', 'bot-only', '--output', join(tmp.path, 'unset')]),
    ])
    expect(alice.code, alice.stderr).toBe(0)
    expect(JSON.parse(alice.stdout).spiffeId).toBe('spiffe://example.org/user/alice')
    expect(expectOneLineError(bob)).toMatch(/no matching rule found/)
    expect(expectOneLineError(unset)).toMatch(/attribute "user.bot_name" is not set/)
  })

  it('legacy path issuance needs a role with allow.spiffe', async () => {
    expect((await wid(['users', 'add', 'carol', '--roles', 'people'])).code).toBe(0)
    const out = join(tmp.path, 'carol')
    const denied = await wid(['svid', 'issue', '--as', 'user/carol', '--output', out, '/svc/example-service'])
    expect(expectOneLineError(denied)).toMatch(/user "carol" may not issue spiffe path \/svc\/example-service/)
    expect((await wid(['users', 'update', 'carol', '--add-roles', 'example-service-legacy'])).code).toBe(0)
    // (at once: the refused one writes nothing)
    const [allowed, other] = await Promise.all([wid(['svid', 'issue', '--as', 'user/carol', '--output', out, '/svc/example-service']), wid(['svid', 'issue', '--as', 'user/carol', '--output', out, '/svc/other'])])
    expect(allowed.code, allowed.stderr).toBe(0)
    expect(expectOneLineError(other)).toMatch(/may not issue spiffe path \/svc\/other/)
  })

  describe('bad input changes nothing and gives one clear line (more in bad-input.test.ts)', () => {
    it('a missing file, and get/rm of unknown things', async () => {
      // (all at once: each is refused and changes nothing)
      const inherited = ['constructor', 'constructor/x', '__proto__', 'toString/x']
      const [missing, gizmo, nope, kindOnly, used, ...unknown] = await Promise.all(
        [['create', '-f', join(tmp.path, 'nope.yaml')], ['get', 'gizmo'], ['get', 'role/nope'], ['rm', 'role'], ['rm', 'role/example-workload-identity-issuer'], ...inherited.map((ref) => ['get', ref])].map((args) => wid(args)),
      )
      expect(expectOneLineError(missing!)).toMatch(/does not exist/)
      expect(expectOneLineError(gizmo!)).toMatch(/unknown kind "gizmo"/)
      // names every JavaScript object inherits are unknown kinds too
      for (const [i, ref] of inherited.entries()) {
        const result = unknown[i]!
        expect([result.code, expectOneLineError(result)]).toEqual([2, `unknown kind "${ref.split('/')[0]}" (known: workload_identity, role, bot, user, token, integration)`])
      }
      expect(expectOneLineError(nope!)).toMatch(/role 'nope' not found/)
      expect(expectOneLineError(kindOnly!)).toMatch(/must name a resource/)
      expect(expectOneLineError(used!)).toMatch(/is used by bot "my-bot"/)
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
    const [tokensLs, getTokens, getUsers] = await Promise.all([wid(['tokens', 'ls', '--json']), wid(['get', 'token', '--format', 'json']), wid(['get', 'user', '--format', 'json'])])
    const listed = JSON.parse(tokensLs.stdout)
    expect(listed.map((t: {id: string}) => t.id)).toContain(added.id)
    const tokens = JSON.parse(getTokens.stdout) as {metadata: {name: string}}[]
    expect(tokens.map((t) => t.metadata.name)).toContain(added.id)
    const all = JSON.stringify(tokens) + getUsers.stdout
    expect(all).not.toContain(added.token)
    expect(all).not.toMatch(/invite_hash|password_hash|secret_hash/)
    expect((await wid(['tokens', 'rm', added.id])).code).toBe(0)
    expect(JSON.parse((await wid(['tokens', 'ls', '--json'])).stdout).map((t: {id: string}) => t.id)).not.toContain(added.id)
    const [ghost, usersLs] = await Promise.all([wid(['tokens', 'add', '--bot-name', 'ghost']), wid(['users', 'ls', '--json'])])
    expect(expectOneLineError(ghost)).toMatch(/bot "ghost" not found/)

    const users = JSON.parse(usersLs.stdout)
    expect(users).toContainEqual({user: 'alice', roles: ['people']})
    expect((await wid(['users', 'rm', 'bob'])).code).toBe(0)
    expect(expectOneLineError(await wid(['users', 'rm', 'bob']))).toMatch(/user "bob" not found/)
  })

  it('names a token by one id in tokens add, tokens ls, create -f, rm and the audit log', async () => {
    // Given a bot with a token made by bots add, one by tokens add and one applied as a document
    expect((await wid(['bots', 'add', 'id-bot'])).code).toBe(0)
    const added = JSON.parse((await wid(['tokens', 'add', '--bot-name', 'id-bot', '--json'])).stdout)
    expect(added.id).toMatch(/^[0-9a-f]{16}$/)
    const secret = 'c0ffee00c0ffee00c0ffee00c0ffee00'
    const applied = await wid(['create', '-f', '-'], {input: `kind: token\nversion: v2\nmetadata: {name: ${secret}}\nspec: {roles: [Bot], bot_name: id-bot, join_method: token}\n`})
    const appliedId = /^token "([0-9a-f]+)" has been created$/m.exec(applied.stderr)![1]!
    // Then tokens ls lists the same ids
    const tokens = JSON.parse((await wid(['tokens', 'ls', '--json'])).stdout).filter((t: {bot: string}) => t.bot === 'id-bot')
    const listed = tokens.map((t: {id: string}) => t.id)
    expect(listed).toHaveLength(3)
    expect(listed).toEqual(expect.arrayContaining([added.id, appliedId]))
    const botsOwn = listed.find((id: string) => ![added.id, appliedId].includes(id))
    // And wid get finds a token by that id, a prefix of 8 digits of it, or the token itself, and shows it by its id
    for (const got of await Promise.all([appliedId, appliedId.slice(0, 8), secret].map((ref) => wid(['get', `token/${ref}`, '--format', 'json'])))) {
      expect(got.code, got.stderr).toBe(0)
      expect(JSON.parse(got.stdout).metadata.name).toBe(appliedId)
    }
    // And an id shorter than 8 digits is refused saying so
    const short = await wid(['tokens', 'rm', appliedId.slice(0, 4)])
    expect([short.code, expectOneLineError(short)]).toEqual([2, `token id "${appliedId.slice(0, 4)}" is too short: ids are at least 8 hex digits (wid tokens ls shows them)`])
    // When they are removed (one by its id, one by its secret) and the bot with its last token
    const byId = await wid(['tokens', 'rm', added.id])
    expect(byId.stderr.trim()).toBe(`token ${added.id} has been deleted`)
    const bySecret = await wid(['rm', `token/${secret}`])
    expect(bySecret.stderr.trim()).toBe(`token "${appliedId}" has been deleted`)
    expect(bySecret.stderr).not.toContain(secret)
    // And a removed token given by its secret is not found, naming it by its id, never by the secret
    for (const gone of await Promise.all([['rm', `token/${secret}`], ['get', `token/${secret}`], ['tokens', 'rm', secret]].map((args) => wid(args)))) {
      expect([gone.code, expectOneLineError(gone)]).toEqual([3, `token not found (if what was given is a token, its id would be ${appliedId})`])
    }
    // Then every token event in the audit log names the same 16-digit ids, never a hash or a secret
    const events = JSON.parse((await wid(['audit', 'ls', '--json'])).stdout).filter((e: {kind?: string}) => e.kind === 'token')
    const names = events.map((e: {type: string; name: string}) => `${e.type} ${e.name}`)
    expect(names).toEqual(expect.arrayContaining([`resource.created ${added.id}`, `resource.created ${appliedId}`, `resource.deleted ${added.id}`, `resource.deleted ${appliedId}`]))
    expect(events.every((e: {name: string}) => /^[0-9a-f]{16}$/.test(e.name))).toBe(true)
    expect(names).toContain(`resource.created ${botsOwn}`)
    expect((await wid(['bots', 'rm', 'id-bot'])).code).toBe(0)
    const after = JSON.parse((await wid(['audit', 'ls', '--json', '--type', 'resource.deleted'])).stdout)
    expect(after.some((e: {kind?: string; name?: string}) => e.kind === 'token' && e.name === botsOwn)).toBe(true)
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

  it('create, get and rm rehearse a user\'s access with --as too, audited as the local admin', async () => {
    // Given a user whose role reads and writes only identities labelled team: r
    const role = `kind: role\nversion: v7\nmetadata: {name: team-r}\nspec:\n  allow:\n    workload_identity_labels: {team: r}\n    rules: [{resources: [workload_identity], verbs: [list, read, create, update, delete]}]\n    spiffe: [{path: /svc/team-r/*}]\n`
    expect((await wid(['create', '-f', '-'], {input: role})).code).toBe(0)
    expect((await wid(['users', 'add', 'rita', '--roles', 'team-r'])).code).toBe(0)
    const mine = `kind: workload_identity\nversion: v1\nmetadata: {name: team-r-web, labels: {team: r}}\nspec: {spiffe: {id: /svc/team-r/web}}\n`
    // When the admin rehearses rita's create, get and rm
    const created = await wid(['create', '-f', '-', '--as', 'user/rita'], {input: mine})
    expect(created.code, created.stderr).toBe(0)
    const listed = JSON.parse((await wid(['get', 'workload_identity', '--format', 'json', '--as', 'user/rita'])).stdout)
    // Then she sees only her team's identities, cannot remove another's, and can remove hers
    expect(listed.map((wi: {metadata: {name: string}}) => wi.metadata.name)).toEqual(['team-r-web'])
    const refused = await wid(['rm', 'workload_identity/example-workload-identity', '--as', 'user/rita'])
    expect(refused.code).toBe(5)
    expect((await wid(['rm', 'workload_identity/team-r-web', '--as', 'user/rita'])).code).toBe(0)
    const events = JSON.parse((await wid(['audit', 'ls', '--json'])).stdout).filter((e: {name?: string}) => e.name === 'team-r-web')
    expect(events.map((e: {type: string; actor: string; as?: string}) => [e.type, e.actor, e.as])).toEqual([
      ['resource.created', `admin:${userInfo().username}`, 'user:rita'],
      ['resource.deleted', `admin:${userInfo().username}`, 'user:rita'],
    ])
  })

  it("applies the documents' rule values as written (eq: {value: 1000}), comparing them as strings", async () => {
    // Given the seed document's rule with a YAML number, and users whose uid trait is a number too
    const seed = `kind: workload_identity
version: v1
metadata:
  name: uid-gated
  labels: {gate: uid}
spec:
  rules:
    allow:
      - conditions:
          - attribute: user.traits.uid
            eq:
              value: 1000
  spiffe:
    id: /svc/uid-gated
---
kind: role
version: v7
metadata: {name: uid-gated-user}
spec:
  allow:
    workload_identity_labels: {gate: uid}
    rules: [{resources: [workload_identity], verbs: [read]}]
---
kind: user
version: v2
metadata: {name: uid-1000}
spec: {roles: [uid-gated-user], traits: {uid: [1000]}}
---
kind: user
version: v2
metadata: {name: uid-1001}
spec: {roles: [uid-gated-user], traits: {uid: [1001]}}
`
    const created = await wid(['create', '-f', file('seed.yaml', seed)])
    expect(created.code, created.stderr).toBe(0)
    // (the three commands below run at once: the refused issuance writes nothing)
    const [got, allowed, refused] = await Promise.all([
      wid(['get', 'workload_identity/uid-gated']),
      wid(['svid', 'issue', '--as', 'user/uid-1000', '--name', 'uid-gated', '--output', join(tmp.path, 'uid-svid')]),
      wid(['svid', 'issue', '--as', 'user/uid-1001', '--name', 'uid-gated', '--output', join(tmp.path, 'uid-svid')]),
    ])
    // Then wid get shows the values as strings
    expect(got.stdout).toContain('value: "1000"')
    // And the rule lets uid 1000 in and keeps 1001 out
    expect(allowed.code, allowed.stderr).toBe(0)
    expect(refused.code).toBe(5)
    expect(expectOneLineError(refused)).toMatch(/no matching rule found \(allow\[0\]: user\.traits\.uid is "1001", not "1000"\)/)
  })

  it('refuses a resource nested too deeply and a status block where the kind has none, at file:line:col', async () => {
    let claims = '"leaf"'
    for (let i = 0; i < 2000; i++) claims = `{"a": ${claims}}`
    let shallower = '"leaf"'
    for (let i = 0; i < 40; i++) shallower = `{"a": ${shallower}}`
    // (all three at once: each is refused before it changes anything)
    const [deep, forty, status] = await Promise.all([
      wid(['create', '-f', file('deep.json', `{"kind": "workload_identity", "version": "v1", "metadata": {"name": "deep"}, "spec": {"spiffe": {"id": "/svc/deep", "jwt": {"extra_claims": ${claims}}}}}`)]),
      wid(['create', '-f', file('forty.json', `{"kind": "workload_identity", "version": "v1", "metadata": {"name": "deep"}, "spec": {"spiffe": {"id": "/svc/deep", "jwt": {"extra_claims": ${shallower}}}}}`)]),
      wid(['create', '-f', file('status.yaml', 'kind: role\nversion: v7\nmetadata: {name: with-status}\nspec: {}\nstatus: {ready: true}\n')]),
    ])
    expect(deep.code).toBe(2)
    expect(expectOneLineError(deep)).toMatch(/deep\.json:1:\d+: input is nested too deeply$/)
    expect(expectOneLineError(forty)).toMatch(/forty\.json:1:\d+: spec\.spiffe\.jwt\.extra_claims\.a\.a\.a\.a…: nested deeper than 32 levels$/)
    expect(status.code).toBe(2)
    expect(expectOneLineError(status)).toMatch(/status\.yaml:5:1: status: unknown field \(allowed: kind, version, metadata, spec\)$/)
    expect((await wid(['get', 'workload_identity/deep'])).code).toBe(3)
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

  describe('wid edit after a refusal (as kubectl edit)', () => {
    /**
     * An editor that plays a session: on its Nth run it applies step N (a sed script, or
     * `keep` to save unchanged), and keeps a copy of each file it was given.
     */
    const session = (name: string, steps: string[]) => {
      const dir = join(tmp.path, name)
      mkdirSync(dir, {recursive: true})
      steps.forEach((step, i) => writeFileSync(join(dir, `step${i + 1}`), step))
      const script = `#!/bin/sh
n=$(( $(cat ${dir}/count 2>/dev/null || echo 0) + 1 )); echo $n > ${dir}/count
cp "$1" ${dir}/seen$n
step=$(cat ${dir}/step$n 2>/dev/null || echo keep)
[ "$step" = keep ] || sed -i "$step" "$1"
`
      const editor = join(dir, 'editor.sh')
      writeFileSync(editor, script, {mode: 0o755})
      return {editor, seen: (n: number) => readFileSync(join(dir, `seen${n}`), 'utf8'), runs: () => Number(readFileSync(join(dir, 'count'), 'utf8'))}
    }
    const editOnTerminal = (editor: string, ref: string) => {
      // script(1) gives wid a real terminal; its exit status is wid's (-e)
      try {
        const out = execFileSync('script', ['-qec', `${process.execPath} ${WID_BIN} edit ${ref}`, '/dev/null'], {
          env: {...process.env, WID_HOME: join(tmp.path, 'home'), EDITOR: editor, VISUAL: '', NO_COLOR: '1'},
          encoding: 'utf8',
        })
        return {code: 0, out}
      } catch (error) {
        return {code: (error as {status: number}).status, out: (error as {stdout: string}).stdout}
      }
    }
    const ROLE = 'role/example-workload-identity-issuer'

    it('reopens the editor with the error at the top, keeping the edits, until the document is right', async () => {
      // Given an editor that first misspells a field, then fixes it and drops the list verb
      const editor = session('fix', ['s/verbs:/verbz:/', 's/verbz:/verbs:/;/- list$/d'])
      // When wid edit runs
      const result = editOnTerminal(editor.editor, ROLE)
      // Then the second run showed the error above the user's own edit, and the fix was applied
      expect(result.code, result.out).toBe(0)
      expect(editor.runs()).toBe(2)
      expect(editor.seen(2)).toMatch(/^# error: role-example-workload-identity-issuer\.yaml:\d+:\d+: spec\.allow\.rules\[0\]\.verbz: unknown field/m)
      expect(editor.seen(2)).toContain('verbz:')
      expect(result.out).toContain('has been updated')
      const role = JSON.parse((await wid(['get', ROLE, '--format', 'json'])).stdout)
      expect(role.spec.allow.rules[0].verbs).toEqual(['read'])
    })

    it('keeps the edits in a file when the user gives up, and says where', async () => {
      // Given an editor that makes an invalid change, then saves the reopened file unchanged
      const before = (await wid(['get', ROLE])).stdout
      const editor = session('give-up', ['s/verbs:/verbz:/', 'keep'])
      const result = editOnTerminal(editor.editor, ROLE)
      // Then wid fails naming a file that holds the edit, and the role is as it was
      expect(result.code).toBe(2)
      const kept = /your edits are kept in (\S+\.yaml)/.exec(result.out)?.[1]
      expect(kept, result.out).toBeDefined()
      expect(readFileSync(kept!, 'utf8')).toContain('verbz:')
      expect((statSync(kept!).mode & 0o777).toString(8)).toBe('600')
      expect((await wid(['get', ROLE])).stdout).toBe(before)
    })

    it('an emptied file cancels the edit', async () => {
      const before = (await wid(['get', ROLE])).stdout
      const result = editOnTerminal(session('empty', ['d']).editor, ROLE)
      expect(result.code).toBe(2)
      expect(result.out).toContain('the file was emptied, so the edit is cancelled; nothing was changed')
      expect((await wid(['get', ROLE])).stdout).toBe(before)
    })
  })
})
