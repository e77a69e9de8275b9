/**
 * Delegating to a team (README "Delegating to a team"): through a real server, a user whose
 * role is scoped by labels and SPIFFE IDs writes and issues its team's workload identities
 * and nothing else; local mode (--as) applies the same rules.
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {expectOneLineError, PROJECT_ROOT, tempDir, widIn, type RunResult} from '../helpers/cli.js'
import {certificateText} from '../helpers/openssl.js'
import {inviteFile, startWidServer, type WidServer} from '../helpers/server.js'

const PASSWORD = 'correct horse battery staple'

/** The YAML blocks of the README's "Delegating to a team", in order: the roles, then the team's workload identity. */
function readmeExample(): {roles: string; identity: string} {
  const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('#### Delegating to a team'))
  const [roles, identity] = [...section.matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => match[1]!)
  return {roles: roles!, identity: identity!}
}

const workloadIdentity = (name: string, team: string, spiffe: string) =>
  `kind: workload_identity\nversion: v1\nmetadata:\n  name: ${name}\n  labels: {team: ${team}}\nspec:\n  spiffe:\n${spiffe.replace(/^/gm, '    ')}\n`

describe('delegating workload identities to a team', () => {
  const tmp = tempDir()
  const serverHome = join(tmp.path, 'server')
  const admin = widIn(serverHome)
  const taraHome = join(tmp.path, 'tara')
  const tara = widIn(taraHome)
  const annHome = join(tmp.path, 'ann')
  const ann = widIn(annHome)
  const example = readmeExample()
  let server: WidServer

  /** A refusal of the access rules: exit status 5 and one line. */
  const denied = (result: RunResult): string => {
    const line = expectOneLineError(result)
    expect(result.code, line).toBe(5)
    return line
  }
  const taraCreates = (yaml: string, force = false) => tara(['create', ...(force ? ['--force'] : []), '-f', '-'], {input: yaml})

  beforeAll(async () => {
    expect((await admin(['init', '--cluster-name', 'example.org'])).code).toBe(0)
    server = await startWidServer(serverHome)
    // The admin applies the README's roles verbatim, team b's identity, and one labelled team: a
    // under an ID the team is denied; tara holds team-a-admin and the deny
    const setup = [
      example.roles,
      workloadIdentity('team-b-api', 'b', 'id: /svc/team-b/api'),
      workloadIdentity('break-glass', 'a', 'id: /svc/break-glass/team-a'),
      'kind: role\nversion: v7\nmetadata: {name: no-break-glass}\nspec:\n  deny:\n    spiffe: [{path: /svc/break-glass/*}]\n',
      // team b's issuer role: it reads team b's identities and issues team b's IDs by path
      'kind: role\nversion: v7\nmetadata: {name: team-b-issuer}\nspec:\n  allow:\n    workload_identity_labels: {team: [b]}\n    rules: [{resources: [workload_identity], verbs: [list, read]}]\n    spiffe: [{path: /svc/team-b/*}]\n',
    ].join('---\n')
    const created = await admin(['create', '-f', '-'], {input: setup})
    expect(created.code, created.stderr).toBe(0)
    const invite = (await admin(['users', 'add', 'tara', '--roles', 'team-a-admin,no-break-glass'])).stdout.trim()
    expect((await admin(['bots', 'add', 'team-a-ci', '--roles', 'team-a-issuer'])).code).toBe(0)
    const pin = JSON.parse((await admin(['status', '--json'])).stdout).hostCaPins[0]
    const login = await tara(['login', '--proxy', `127.0.0.1:${server.port}`, '--user', 'tara', '--invite-file', inviteFile(tmp.path, invite), '--ca-pin', pin, '--password-stdin'], {input: `${PASSWORD}\n`})
    expect(login.code, login.stderr).toBe(0)
    // ann administers team a and issues for team b
    const annInvite = (await admin(['users', 'add', 'ann', '--roles', 'team-a-admin,team-b-issuer'])).stdout.trim()
    const annLogin = await ann(['login', '--proxy', `127.0.0.1:${server.port}`, '--user', 'ann', '--invite-file', inviteFile(tmp.path, annInvite), '--ca-pin', pin, '--password-stdin'], {input: `${PASSWORD}\n`})
    expect(annLogin.code, annLogin.stderr).toBe(0)
  })
  afterAll(async () => {
    await server?.stop()
    tmp.cleanup()
  })

  it('the README example: the team creates its identity and issues from it, and so does its bot', async () => {
    // When tara applies the README's workload identity over the API
    const created = await taraCreates(example.identity)
    expect(created.code, created.stderr).toBe(0)
    // Then she issues from it, with its DNS SAN
    const out = join(tmp.path, 'tara-svid')
    const issued = await tara(['svid', 'issue', '--name', 'team-a-api', '--output', out])
    expect(issued.code, issued.stderr).toBe(0)
    expect(certificateText(join(out, 'svid.pem'))).toMatch(/URI:spiffe:\/\/example\.org\/svc\/team-a\/api, DNS:api\.team-a\.internal/)
    // And the team's bot, whose issuer role has no spiffe entries, issues from it too (rehearsed on the server host)
    const bot = await admin(['svid', 'issue', '--as', 'bot/team-a-ci', '--name', 'team-a-api', '--type', 'jwt', '--audience', 'x', '--output', join(tmp.path, 'bot-svid'), '--json'])
    expect(bot.code, bot.stderr).toBe(0)
    expect(JSON.parse(bot.stdout).spiffeId).toBe('spiffe://example.org/svc/team-a/api')
    // And a template under the team's path is allowed, rendering for the caller
    const templated = await taraCreates(workloadIdentity('per-user', 'a', 'id: /svc/team-a/{{ user.name }}'))
    expect(templated.code, templated.stderr).toBe(0)
    const mine = await tara(['svid', 'issue', '--name', 'per-user', '--output', join(tmp.path, 'per-user'), '--json'])
    expect(JSON.parse(mine.stdout).spiffeId).toBe('spiffe://example.org/svc/team-a/tara')
  })

  it('refuses every write outside the label scope, and shows only what is inside it', async () => {
    // create an identity labelled team: b
    expect(denied(await taraCreates(workloadIdentity('evil', 'b', 'id: /svc/team-a/evil')))).toBe(
      'stdin:1:1: auth: user "tara" may not create workload_identity "evil": no role\'s workload_identity_labels match its labels {team: b} (nothing was applied)',
    )
    // relabel her own identity to team: b
    expect(denied(await taraCreates(example.identity.replace('team: a', 'team: b'), true))).toMatch(
      /auth: user "tara" may not update workload_identity "team-a-api": no role's workload_identity_labels match its new labels \{team: b\}/,
    )
    // overwrite team b's identity
    expect(denied(await taraCreates(workloadIdentity('team-b-api', 'a', 'id: /svc/team-a/api'), true))).toMatch(
      /auth: user "tara" may not update workload_identity "team-b-api": no role's workload_identity_labels match its current labels \{team: b\}/,
    )
    // delete it, or read it
    expect(denied(await tara(['rm', 'workload_identity/team-b-api']))).toBe('auth: user "tara" may not delete workload_identity "team-b-api": no role\'s workload_identity_labels match its labels {team: b}')
    expect(denied(await tara(['get', 'workload_identity/team-b-api']))).toBe('auth: user "tara" may not read workload_identity "team-b-api": no role\'s workload_identity_labels match its labels {team: b}')
    // a listing shows team a's identities only
    const listed = JSON.parse((await tara(['get', 'workload_identity', '--format', 'json'])).stdout) as {metadata: {name: string}}[]
    expect(listed.map((wi) => wi.metadata.name).sort()).toEqual(['break-glass', 'per-user', 'team-a-api'])
    // And team b's identity is untouched
    const teamB = JSON.parse((await admin(['get', 'workload_identity/team-b-api', '--format', 'json'])).stdout)
    expect(teamB).toMatchObject({metadata: {labels: {team: 'b'}}, spec: {spiffe: {id: '/svc/team-b/api'}}})
  })

  it('lets a read-only role widen only what its holder reads: ann, team a\'s admin and team b\'s issuer, cannot write team b\'s identity', async () => {
    // When ann overwrites team b's identity with an ID of her team, or deletes it
    const hijack = workloadIdentity('team-b-api', 'a', 'id: /svc/team-a/hijacked')
    const because = 'only role "team-b-issuer" has workload_identity_labels matching its current labels {team: b}, and it does not allow update on workload_identity'
    expect(denied(await ann(['create', '--force', '-f', '-'], {input: hijack}))).toBe(`stdin:1:1: auth: user "ann" may not update workload_identity "team-b-api": ${because} (nothing was applied)`)
    expect(denied(await ann(['rm', 'workload_identity/team-b-api']))).toBe(
      'auth: user "ann" may not delete workload_identity "team-b-api": only role "team-b-issuer" has workload_identity_labels matching its labels {team: b}, and it does not allow delete on workload_identity',
    )
    // Then both are refused, and team b's identity is untouched; she still reads it
    const teamB = JSON.parse((await ann(['get', 'workload_identity/team-b-api', '--format', 'json'])).stdout)
    expect(teamB).toMatchObject({metadata: {labels: {team: 'b'}}, spec: {spiffe: {id: '/svc/team-b/api'}}})
    // When she defines team b's ID, which she may issue by path, in an identity labelled team: a
    const borrowed = await ann(['create', '-f', '-'], {input: workloadIdentity('borrowed', 'a', 'id: /svc/team-b/db')})
    // Then it is refused: only the entries of the role that lets her write it count
    expect(denied(borrowed)).toBe(
      'stdin:1:1: auth: user "ann" may not set spec.spiffe.id "/svc/team-b/db" on workload_identity "borrowed": no allow.spiffe entry of a role that lets it create this identity covers it (team-a-admin allows /svc/team-a/*; role "team-b-issuer" allows /svc/team-b/*, which does not count here: it does not let it create this identity) (nothing was applied)',
    )
  })

  it.each([
    ['/svc/prod-db', 'it'],
    ['/svc/team-b/api', 'it'],
    ['/svc/team-a{{ user.name }}', 'every rendering of it'],
  ])('refuses the SPIFFE ID %s', async (id, what) => {
    // When tara defines an identity in her label scope with an ID outside her entitlement
    const result = await taraCreates(workloadIdentity('claim', 'a', `id: "${id}"`))
    // Then it is refused naming the field, the value and her entitlement
    expect(denied(result)).toBe(
      `stdin:1:1: auth: user "tara" may not set spec.spiffe.id "${id}" on workload_identity "claim": no allow.spiffe entry of a role that lets it create this identity covers ${what} (team-a-admin allows /svc/team-a/*) (nothing was applied)`,
    )
  })

  it('refuses a DNS SAN outside the entry and a maximum_ttl of 336h', async () => {
    expect(denied(await taraCreates(workloadIdentity('claim', 'a', 'id: /svc/team-a/db\nx509: {dns_sans: [db.prod.internal]}')))).toMatch(
      /may not set spec\.spiffe\.x509\.dns_sans\[0\] "db\.prod\.internal" on workload_identity "claim": no allow\.spiffe entry covering its spec\.spiffe\.id allows it \(team-a-admin allows dns_sans \*\.team-a\.internal for \/svc\/team-a\/\*\)/,
    )
    expect(denied(await taraCreates(workloadIdentity('claim', 'a', 'id: /svc/team-a/db\nx509: {maximum_ttl: 336h}')))).toMatch(
      /may not set spec\.spiffe\.x509\.maximum_ttl "336h" on workload_identity "claim": a role holder may set at most 24h \(the cap of issuance by path\); only the local admin \(wid create on the cluster's host\) may set more, up to 336h/,
    )
    // And nothing named claim was created
    expect((await admin(['get', 'workload_identity/claim'])).code).toBe(3)
  })

  it('refuses to issue an ID a deny.spiffe path of its roles matches, remotely and rehearsed with --as', async () => {
    const message = 'auth: user "tara" may not issue spiffe path /svc/break-glass/team-a from workload identity "break-glass": denied by role "no-break-glass"'
    expect(denied(await tara(['svid', 'issue', '--name', 'break-glass', '--output', join(tmp.path, 'bg')]))).toBe(message)
    expect(denied(await admin(['svid', 'issue', '--as', 'user/tara', '--name', 'break-glass', '--output', join(tmp.path, 'bg-as')]))).toBe(message)
    // And the local admin, never fenced, issues it
    expect((await admin(['svid', 'issue', '--name', 'break-glass', '--output', join(tmp.path, 'bg-admin')])).code).toBe(0)
  })
})
