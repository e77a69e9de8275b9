/**
 * The Workload API end to end: the built `wid bot start` serves SpiffeWorkloadAPI on a unix
 * socket; workloads are a grpc-js client built from the official proto, run as other users
 * with setpriv, so that the kernel's credentials and the workload identities' rules (uid
 * 1000, gid 50, as the getting-started document writes them) decide what each gets.
 */
import {X509Certificate} from 'node:crypto'
import {chmodSync, chownSync, existsSync, mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {tempDir, widIn} from '../helpers/cli.js'
import {freePort, within} from '../helpers/server.js'
import {BY_UID, DEMO_ROLE as ROLE, startAgent, workload, type Agent} from '../helpers/workload-agent.js'

const tmp = tempDir('wid-wapi-')
afterAll(() => tmp.cleanup())

const BY_GID = `kind: workload_identity
version: v1
metadata:
  name: by-gid
  labels:
    app: demo
spec:
  rules:
    allow:
      - conditions:
          - attribute: workload.unix.gid
            eq:
              value: 50
  spiffe:
    id: /svc/staff
    hint: by-gid
`
function apiConfig(socket: string, options: {ttl?: string; renewal?: string; listen?: string} = {}): string {
  return `version: v2
storage:
  type: directory
  path: ${join(tmp.path, 'storage')}
${options.ttl ? `credential_ttl: ${options.ttl}\n` : ''}${options.renewal ? `renewal_interval: ${options.renewal}\n` : ''}services:
  - type: workload-identity-api
    listen: ${options.listen ?? `unix://${socket}`}
    selector:
      labels:
        app: [demo]
`
}

describe('wid bot start: the Workload API with unix attestation', () => {
  const home = join(tmp.path, 'home')
  const local = widIn(home)
  // Other users must reach the socket: its directory's parents are traversable.
  const run = join(tmp.path, 'run')
  const socket = join(run, 'agent', 'workload.sock')
  const target = `unix://${socket}`
  let agent: Agent

  beforeAll(async () => {
    chmodSync(tmp.path, 0o755)
    expect((await local(['init', '--cluster-name', 'example.org'])).code).toBe(0)
    expect((await local(['create', '-f', '-'], {input: [BY_UID, BY_GID, ROLE].join('---\n')})).code).toBe(0)
    expect((await local(['bots', 'add', 'api-bot', '--roles', 'demo-issuer'])).code).toBe(0)
    writeFileSync(join(tmp.path, 'api.yaml'), apiConfig(socket, {ttl: '1h', renewal: '20m'}))
    agent = startAgent(home, join(tmp.path, 'api.yaml'), ['--local', '--bot', 'api-bot'])
    await within(20, () => agent.log().includes('workload api listening'), agent.log)
  }, 60_000)
  afterAll(async () => {
    await agent?.stop()
  })

  it('makes the socket directory and lets any local user connect', () => {
    expect(existsSync(socket)).toBe(true)
  })

  it('gives uid 1000 the identity its rule allows, templated with its uid', async () => {
    const [answer] = await workload(target, {uid: 1000, gid: 1000}, ['x509'])
    expect(answer!.ok!.map((svid) => [svid.spiffe_id, svid.hint])).toEqual([['spiffe://example.org/svc/uid-1000', 'by-uid']])
    const svid = answer!.ok![0]!
    const leaf = new X509Certificate(Buffer.from(svid.cert, 'base64'))
    expect(leaf.subjectAltName).toBe('URI:spiffe://example.org/svc/uid-1000')
    const ca = new X509Certificate(Buffer.from(svid.bundle, 'base64'))
    expect(leaf.verify(ca.publicKey)).toBe(true)
  })

  it('gives gid 50 the other identity, and a process with both every identity, the first by name', async () => {
    const [[staff], [both]] = await Promise.all([workload(target, {uid: 2000, gid: 50}, ['x509']), workload(target, {uid: 1000, gid: 50}, ['x509'])])
    expect(staff!.ok!.map((svid) => svid.spiffe_id)).toEqual(['spiffe://example.org/svc/staff'])
    expect(both!.ok!.map((svid) => [svid.spiffe_id, svid.hint])).toEqual([
      ['spiffe://example.org/svc/staff', 'by-gid'],
      ['spiffe://example.org/svc/uid-1000', 'by-uid'],
    ])
  })

  it('refuses a process that no rule allows with PermissionDenied', async () => {
    const [answer] = await workload(target, {uid: 2000, gid: 2000}, ['x509'])
    expect(answer).toEqual({code: 'PERMISSION_DENIED', details: 'no identity issued'})
    expect(agent.log()).toMatch(/no identity issued.*uid=2000/)
  })

  it('refuses a request without the security header with InvalidArgument', async () => {
    const [answer] = await workload(target, {uid: 1000, gid: 1000}, ['x509-noheader'])
    expect(answer).toEqual({code: 'INVALID_ARGUMENT', details: 'security header missing from request'})
  })

  it('issues a JWT-SVID for an audience and validates it against the trust bundle', async () => {
    const [jwt] = await workload(target, {uid: 1000, gid: 1000}, ['jwt', 'example.com'])
    expect(jwt!.ok!.map((svid) => svid.spiffe_id)).toEqual(['spiffe://example.org/svc/uid-1000'])
    const token = jwt!.ok![0]!.svid!
    // (the three validations at once: each is a workload of its own)
    const [[valid], [wrong], [garbage]] = await Promise.all([
      workload(target, {uid: 2000, gid: 2000}, ['validate', 'example.com', token]),
      workload(target, {uid: 2000, gid: 2000}, ['validate', 'other.example', token]),
      workload(target, {uid: 2000, gid: 2000}, ['validate', 'example.com', 'a.b.c']),
    ])
    expect(valid!.ok).toMatchObject({spiffe_id: 'spiffe://example.org/svc/uid-1000', claims: {sub: 'spiffe://example.org/svc/uid-1000', aud: 'example.com'}})
    expect(wrong).toEqual({code: 'INVALID_ARGUMENT', details: 'jwtsvid: token audience ["example.com"] does not contain "other.example"'})
    expect(garbage!.code).toBe('INVALID_ARGUMENT')
  })

  it('refuses more than 10 audiences in one FetchJWTSVID', async () => {
    const audiences = Array.from({length: 11}, (_, i) => `aud-${i}`).join(',')
    const [answer] = await workload(target, {uid: 1000, gid: 1000}, ['jwt', audiences])
    expect(answer).toEqual({code: 'INVALID_ARGUMENT', details: 'at most 10 audiences'})
  })

  it('refuses to listen in a directory another user could change', async () => {
    const loose = join(run, 'loose')
    mkdirSync(loose)
    chownSync(loose, 2000, 2000)
    const config = join(tmp.path, 'loose.yaml')
    writeFileSync(config, apiConfig(join(loose, 'workload.sock')).replace(join(tmp.path, 'storage'), join(tmp.path, 'storage-loose')))
    const refused = startAgent(home, config, ['--local', '--bot', 'api-bot'])
    expect(await refused.exited).toBe(2)
    const lines = refused.log().trim().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^Error: workload api: .*loose \(the Workload API socket's directory\) is owned by another user \(uid 2000\)/)
    expect(existsSync(join(loose, 'workload.sock'))).toBe(false)
  }, 60_000)

  it('serves the X.509 and JWT bundles keyed by spiffe://<trust domain>', async () => {
    const [answer] = (await workload(target, {uid: 2000, gid: 2000}, ['bundles'])) as unknown as Array<{ok: {jwt: Record<string, {keys: Array<{kid: string}>}>; x509: Record<string, string>}}>
    expect(Object.keys(answer!.ok.jwt)).toEqual(['spiffe://example.org'])
    expect(answer!.ok.jwt['spiffe://example.org']!.keys[0]!.kid).toBeTruthy()
    const ca = new X509Certificate(Buffer.from(answer!.ok.x509['spiffe://example.org']!, 'base64'))
    expect(ca.ca).toBe(true)
  })

  it('refuses a second agent on the same socket, and replaces the socket of one that was killed', async () => {
    const second = startAgent(home, join(tmp.path, 'api.yaml'), ['--local', '--bot', 'api-bot'])
    expect(await second.exited).toBe(4)
    expect(second.log()).toContain(`workload api: another process serves ${socket}; stop it or listen elsewhere`)
    agent.child.kill('SIGKILL')
    await agent.stop()
    expect(existsSync(socket)).toBe(true)
    agent = startAgent(home, join(tmp.path, 'api.yaml'), ['--local', '--bot', 'api-bot'])
    await within(20, () => agent.log().includes('workload api listening'), agent.log)
    const [answer] = await workload(target, {uid: 1000, gid: 1000}, ['x509'])
    expect(answer!.ok!.map((svid) => svid.spiffe_id)).toEqual(['spiffe://example.org/svc/uid-1000'])
  }, 60_000)

  it('pushes renewed SVIDs to an open stream', async () => {
    const config = join(tmp.path, 'short.yaml')
    const shortSocket = join(run, 'short', 'workload.sock')
    writeFileSync(config, apiConfig(shortSocket, {ttl: '30s', renewal: '1s'}).replace(join(tmp.path, 'storage'), join(tmp.path, 'storage-short')))
    const short = startAgent(home, config, ['--local', '--bot', 'api-bot'])
    try {
      await within(20, () => short.log().includes('workload api listening'), short.log)
      // a dozen streams at once: more listeners than an EventEmitter allows by default
      const [answers] = await Promise.all(Array.from({length: 12}, () => workload(`unix://${shortSocket}`, {uid: 1000, gid: 1000}, ['watch', '2'])))
      expect(answers).toHaveLength(2)
      expect(short.log()).not.toMatch(/MaxListenersExceeded|memory leak/)
      const [first, second] = answers.map((a) => new X509Certificate(Buffer.from(a.ok![0]!.cert, 'base64')))
      expect(second!.serialNumber).not.toBe(first!.serialNumber)
      expect(answers[1]!.ok![0]!.key).not.toBe(answers[0]!.ok![0]!.key)
    } finally {
      expect(await short.stop()).toBe(0)
    }
    expect(existsSync(shortSocket)).toBe(false)
  }, 60_000)

  it('keeps hints unique within a response: of two identities with one hint, the first by name', async () => {
    const twin = (name: string) => `kind: workload_identity\nversion: v1\nmetadata:\n  name: ${name}\n  labels:\n    app: twins\nspec:\n  spiffe:\n    id: /svc/${name}\n    hint: same\n`
    const role = ROLE.replace('demo-issuer', 'twins-issuer').replace('["demo"]', '["twins"]')
    expect((await local(['create', '-f', '-'], {input: [twin('twin-a'), twin('twin-b'), role].join('---\n')})).code).toBe(0)
    expect((await local(['bots', 'update', 'api-bot', '--add-roles', 'twins-issuer'])).code).toBe(0)
    const config = join(tmp.path, 'twins.yaml')
    const twinSocket = join(run, 'twins', 'workload.sock')
    writeFileSync(config, apiConfig(twinSocket).replace('app: [demo]', 'app: [twins]').replace(join(tmp.path, 'storage'), join(tmp.path, 'storage-twins')))
    const twins = startAgent(home, config, ['--local', '--bot', 'api-bot'])
    try {
      await within(20, () => twins.log().includes('workload api listening'), twins.log)
      const [[x509], [jwt]] = await Promise.all([workload(`unix://${twinSocket}`, {uid: 2000, gid: 2000}, ['x509']), workload(`unix://${twinSocket}`, {uid: 2000, gid: 2000}, ['jwt', 'example.com'])])
      expect(x509!.ok!.map((svid) => [svid.spiffe_id, svid.hint])).toEqual([['spiffe://example.org/svc/twin-a', 'same']])
      expect(jwt!.ok!.map((svid) => [svid.spiffe_id, svid.hint])).toEqual([['spiffe://example.org/svc/twin-a', 'same']])
    } finally {
      await twins.stop()
    }
  }, 60_000)

  it('gives TCP callers no attestation: rules on unix attributes do not match', async () => {
    const config = join(tmp.path, 'tcp.yaml')
    const port = await freePort()
    writeFileSync(config, apiConfig('', {listen: `tcp://127.0.0.1:${port}`}).replace(join(tmp.path, 'storage'), join(tmp.path, 'storage-tcp')))
    const tcp = startAgent(home, config, ['--local', '--bot', 'api-bot'])
    try {
      await within(20, () => tcp.log().includes('workload api listening'), tcp.log)
      const [answer] = await workload(`127.0.0.1:${port}`, {uid: 1000, gid: 50}, ['x509'])
      expect(answer).toEqual({code: 'PERMISSION_DENIED', details: 'no identity issued'})
    } finally {
      await tcp.stop()
    }
  }, 60_000)
})

describe('wid bot start: the Workload API before the bot has an identity', () => {
  it('answers Unavailable while the cluster cannot be reached', async () => {
    const dir = join(tmp.path, 'unready')
    mkdirSync(dir, {mode: 0o755})
    const socket = join(dir, 'workload.sock')
    const config = join(dir, 'bot.yaml')
    writeFileSync(
      config,
      `version: v2\nproxy_server: 127.0.0.1:9\nonboarding:\n  join_method: token\n  token: 0123456789abcdef0123456789abcdef\nstorage:\n  type: directory\n  path: ${join(dir, 'storage')}\nservices:\n  - type: workload-identity-api\n    listen: unix://${socket}\n    selector:\n      name: by-uid\n`,
    )
    const agent = startAgent(join(dir, 'home'), config)
    try {
      await within(20, () => agent.log().includes('workload api listening'), agent.log)
      const [answer] = await workload(`unix://${socket}`, undefined, ['x509'])
      expect(answer).toEqual({code: 'UNAVAILABLE', details: 'the agent has no bot identity yet'})
    } finally {
      await agent.stop()
    }
  }, 60_000)
})
