/**
 * The bot agent end to end: the built `wid bot start` joins a real `wid server` with a token
 * from `wid bots add`, writes the outputs of tbot's configuration, renews them, survives the
 * server going away, and refuses what it must.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {chmodSync, chownSync, cpSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {X509Certificate} from 'node:crypto'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {expectOneLineError, tempDir, WID_BIN, widIn, type RunOptions} from '../helpers/cli.js'
import {startBotCluster, type BotCluster} from '../helpers/bot-cluster.js'
import {ISSUER_ROLE, LEGACY_ROLE, WORKLOAD_IDENTITY} from '../helpers/design-documents.js'
import {openssl} from '../helpers/openssl.js'
import {freePort, within} from '../helpers/server.js'

const tmp = tempDir('wid-bot-')
afterAll(() => tmp.cleanup())
let cluster: BotCluster
let port: number
let pin: string
const admin = (args: string[], options?: RunOptions) => cluster.admin(args, options)
const newToken = () => cluster.newToken()

/** A tbot v2 configuration as the documents write it, with this test's addresses and paths. */
function botYaml(options: {storage: string; out: string; token?: string; extra?: string; renewal?: string; ttl?: string}): string {
  return `version: v2
proxy_server: 127.0.0.1:${port}
onboarding:
  join_method: token
${options.token ? `  token: ${options.token}\n` : ''}  ca_pins:
    - ${pin}
storage:
  type: directory
  path: ${options.storage}
${options.ttl ? `credential_ttl: ${options.ttl}\n` : ''}${options.renewal ? `renewal_interval: ${options.renewal}\n` : ''}services:
  - type: workload-identity-jwt
    selector:
      name: example-workload-identity
    audiences: ["sts.amazonaws.com"]
    destination:
      type: directory
      path: ${join(options.out, 'jwt')}
  - type: workload-identity-x509
    selector:
      labels:
        example: getting-started
    destination:
      type: directory
      path: ${join(options.out, 'x509')}
outputs:
  - type: spiffe-svid
    destination:
      type: directory
      path: ${join(options.out, 'legacy')}
    svid:
      path: /svc/example-service
      sans:
        dns: [example-service.internal]
    jwts:
      - audience: mys3
        file_name: jwt_mys3
${options.extra ?? ''}`
}

function writeConfig(name: string, yaml: string): string {
  const path = join(tmp.path, name)
  writeFileSync(path, yaml, {mode: 0o600})
  return path
}

const mode = (path: string) => statSync(path).mode & 0o777

function jwtClaims(path: string): {sub: string; aud: string | string[]; exp: number} {
  return JSON.parse(Buffer.from(readFileSync(path, 'utf8').split('.')[1]!, 'base64url').toString('utf8'))
}

// the legacy output asks for a DNS SAN, which the role must allow for the path
const SAN_ROLE = 'kind: role\nversion: v6\nmetadata:\n  name: example-service-san\nspec:\n  allow:\n    spiffe:\n      - path: /svc/example-service\n        dns_sans: [example-service.internal]\n'

beforeAll(async () => {
  cluster = await startBotCluster(tmp.path, {
    documents: [WORKLOAD_IDENTITY, ISSUER_ROLE, LEGACY_ROLE, SAN_ROLE],
    bot: 'my-bot',
    roles: ['example-workload-identity-issuer', 'example-service-legacy', 'example-service-san'],
  })
  ;({port, pin} = cluster)
}, 60_000)
afterAll(async () => {
  await cluster?.stop()
})

describe('wid bot start --oneshot', () => {
  const storage = join(tmp.path, 'storage-a')
  const out = join(tmp.path, 'out-a')
  const bot = widIn(join(tmp.path, 'bot-home'))

  it('joins with a token and writes every output of the documents\' configuration, as one private file set each', async () => {
    const token = await newToken()
    const config = writeConfig('bot-a.yaml', botYaml({storage, out, token}))
    const result = await bot(['bot', 'start', '-c', config, '--oneshot'])
    expect(result.stderr).toContain('bot identity ready')
    expect(result.code).toBe(0)

    // the X.509-SVID verifies against the bundle written beside it (openssl as the peer)
    const x509 = join(out, 'x509')
    expect(openssl(['verify', '-CAfile', join(x509, 'svid_bundle.pem'), join(x509, 'svid.pem')])).toContain(': OK')
    expect(new X509Certificate(readFileSync(join(x509, 'svid.pem'))).subjectAltName).toBe('URI:spiffe://example.org/svc/example-service')
    expect(readFileSync(join(x509, 'svid_key.pem'), 'utf8')).toContain('BEGIN PRIVATE KEY')
    for (const file of ['svid.pem', 'svid_key.pem', 'svid_bundle.pem']) expect(mode(join(x509, file))).toBe(0o600)
    expect(mode(x509)).toBe(0o700)

    const jwt = jwtClaims(join(out, 'jwt', 'jwt_svid'))
    expect(jwt.sub).toBe('spiffe://example.org/svc/example-service')
    expect(jwt.aud).toBe('sts.amazonaws.com')

    const legacy = join(out, 'legacy')
    expect(new X509Certificate(readFileSync(join(legacy, 'svid.pem'))).subjectAltName).toContain('DNS:example-service.internal')
    expect(jwtClaims(join(legacy, 'jwt_mys3')).aud).toBe('mys3')

    // the bot identity is kept private in the storage
    expect(mode(storage)).toBe(0o700)
    for (const file of ['identity.pem', 'identity_key.pem', 'identity.json']) expect(mode(join(storage, file))).toBe(0o600)
    expect(existsSync(join(storage, 'agent.lock'))).toBe(false)
  }, 60_000)

  it('uses a token once: a second join with it is refused, saying so', async () => {
    const token = await newToken()
    const first = await bot(['bot', 'start', '-c', writeConfig('bot-once.yaml', botYaml({storage: join(tmp.path, 'once-1'), out: join(tmp.path, 'out-once-1'), token})), '--oneshot'])
    expect(first.code).toBe(0)
    const second = await bot(['bot', 'start', '-c', writeConfig('bot-twice.yaml', botYaml({storage: join(tmp.path, 'once-2'), out: join(tmp.path, 'out-once-2'), token})), '--oneshot'])
    expect(second.code).not.toBe(0)
    expect(second.stderr).toMatch(/token .*(not known|used already)/)
  }, 60_000)

  it('starts again from its storage without a token, renewing its identity (the generation goes up)', async () => {
    const before = JSON.parse(readFileSync(join(storage, 'identity.json'), 'utf8')) as {generation: number; instanceId: string}
    const result = await bot(['bot', 'start', '-c', writeConfig('bot-a2.yaml', botYaml({storage, out})), '--oneshot'])
    expect(result.code).toBe(0)
    const after = JSON.parse(readFileSync(join(storage, 'identity.json'), 'utf8')) as {generation: number; instanceId: string}
    expect(after.instanceId).toBe(before.instanceId)
    expect(after.generation).toBe(before.generation + 1)
  }, 60_000)

  it('detects a copied identity: the instance is locked, both copies are refused, and the event is audited', async () => {
    const original = join(tmp.path, 'copy-original')
    const copy = join(tmp.path, 'copy-stolen')
    const outA = join(tmp.path, 'out-copy-a')
    const outB = join(tmp.path, 'out-copy-b')
    expect((await bot(['bot', 'start', '-c', writeConfig('copy-0.yaml', botYaml({storage: original, out: outA, token: await newToken()})), '--oneshot'])).code).toBe(0)
    cpSync(original, copy, {recursive: true, verbatimSymlinks: true}) // as cp -a: the file set's links stay relative
    chmodSync(copy, 0o700)
    expect((await bot(['bot', 'start', '-c', writeConfig('copy-a.yaml', botYaml({storage: original, out: outA})), '--oneshot'])).code).toBe(0)
    const stolen = await bot(['bot', 'start', '-c', writeConfig('copy-b.yaml', botYaml({storage: copy, out: outB})), '--oneshot'])
    expect(stolen.code).not.toBe(0)
    expect(stolen.stderr).toContain('locked')
    const owner = await bot(['bot', 'start', '-c', writeConfig('copy-a2.yaml', botYaml({storage: original, out: outA})), '--oneshot'])
    expect(owner.code).not.toBe(0)
    expect(owner.stderr).toContain('locked')

    const instance = (JSON.parse(readFileSync(join(original, 'identity.json'), 'utf8')) as {instanceId: string}).instanceId
    const listed = await admin(['bots', 'instances', 'ls', 'my-bot', '--json'])
    expect(listed.code).toBe(0)
    expect(listed.stdout).toContain(instance)
    const audit = await admin(['audit', 'ls', '--json'])
    expect(audit.stdout).toContain('bot.instance_locked')
  }, 90_000)

  it('issues from the embedded cluster as a named bot with --local', async () => {
    const home = join(tmp.path, 'local-home')
    const local = widIn(home)
    expect((await local(['init', '--cluster-name', 'local.example'])).code).toBe(0)
    expect((await local(['create', '-f', '-'], {input: LEGACY_ROLE})).code).toBe(0)
    expect((await local(['bots', 'add', 'cron', '--roles', 'example-service-legacy'])).code).toBe(0)
    const dest = join(tmp.path, 'out-local')
    const result = await local(['bot', 'start', '--oneshot', '--local', '--bot', 'cron', '--destination', dest, '--svid-path', '/svc/example-service'])
    expect(result.code).toBe(0)
    expect(new X509Certificate(readFileSync(join(dest, 'svid.pem'))).subjectAltName).toBe('URI:spiffe://local.example/svc/example-service')
    // exactly the bot's roles: a path its role does not allow is refused
    const refused = await local(['bot', 'start', '--oneshot', '--local', '--bot', 'cron', '--destination', join(tmp.path, 'out-local-2'), '--svid-path', '/svc/other'])
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toContain('/svc/other')
  }, 60_000)
})

// (these run at once: each has a configuration, storage and output of its own, and none changes the cluster)
describe.concurrent('wid bot start refuses, in one line', () => {
  const bot = widIn(join(tmp.path, 'bot-home-errors'))

  it('a wrong CA pin, naming the pin the server presents', async () => {
    const yaml = botYaml({storage: join(tmp.path, 'err-pin'), out: join(tmp.path, 'out-err-pin'), token: 'abc'}).replace(pin, `sha256:${'0'.repeat(64)}`)
    const result = await bot(['bot', 'start', '-c', writeConfig('err-pin.yaml', yaml), '--oneshot'])
    expect(expectOneLineError(result)).toContain(`presents CA ${pin}, which is not in onboarding.ca_pins`)
  }, 30_000)

  it('an unknown token, and an expired one, saying which', async () => {
    // (the one-second token is made first, so that it expires while the unknown one is tried)
    const expiring = await admin(['tokens', 'add', '--bot-name', 'my-bot', '--ttl', '1s'])
    const expires = Date.now() + 1500
    const unknown = await bot(['bot', 'start', '-c', writeConfig('err-token.yaml', botYaml({storage: join(tmp.path, 'err-tok'), out: join(tmp.path, 'out-err-tok'), token: 'f'.repeat(32)})), '--oneshot'])
    expect(expectOneLineError(unknown)).toMatch(/token .*not known/)
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, expires - Date.now())))
    const expired = await bot(['bot', 'start', '-c', writeConfig('err-exp.yaml', botYaml({storage: join(tmp.path, 'err-exp'), out: join(tmp.path, 'out-err-exp'), token: expiring.stdout.trim()})), '--oneshot'])
    expect(expectOneLineError(expired)).toContain('expired')
  }, 30_000)

  it('a server that cannot be reached (oneshot)', async () => {
    const closed = await freePort()
    const yaml = botYaml({storage: join(tmp.path, 'err-down'), out: join(tmp.path, 'out-err-down'), token: 'abc'}).replace(`127.0.0.1:${port}`, `127.0.0.1:${closed}`)
    const result = await bot(['bot', 'start', '-c', writeConfig('err-down.yaml', yaml), '--oneshot'])
    expect(expectOneLineError(result)).toContain(`127.0.0.1:${closed}`)
  }, 30_000)

  it('a configuration error, at file:line:col, before anything starts', async () => {
    const path = writeConfig('err-config.yaml', botYaml({storage: join(tmp.path, 'err-cfg'), out: join(tmp.path, 'out-err-cfg'), token: 'abc'}).replace('audiences:', 'audience:'))
    const result = await bot(['bot', 'start', '-c', path, '--oneshot'])
    expect(expectOneLineError(result)).toMatch(new RegExp(`err-config\\.yaml:\\d+:\\d+`))
    expect(existsSync(join(tmp.path, 'err-cfg'))).toBe(false)
  })

  it('a destination another user owns', async () => {
    const foreign = join(tmp.path, 'foreign')
    mkdirSync(foreign, {mode: 0o700})
    chownSync(foreign, 65534, 65534)
    const result = await bot(['bot', 'start', '--oneshot', '--proxy-server', `127.0.0.1:${port}`, '--token', 'abc', '--ca-pin', pin, '--storage', join(tmp.path, 'err-foreign'), '--destination', foreign, '--svid-path', '/svc/example-service'])
    expect(expectOneLineError(result)).toContain(foreign)
    expect(existsSync(join(tmp.path, 'err-foreign'))).toBe(false)
  })

  it('a second agent on the same storage', async () => {
    const storage = join(tmp.path, 'err-shared')
    const yaml = botYaml({storage, out: join(tmp.path, 'out-shared'), token: await newToken(), renewal: '1m', ttl: '5m'})
    const first = startAgent(writeConfig('shared-1.yaml', yaml), join(tmp.path, 'bot-home-errors'))
    try {
      await within(30, () => first.log().includes('output renewed'), first.log)
      const second = await bot(['bot', 'start', '-c', writeConfig('shared-2.yaml', yaml), '--oneshot'])
      expect(expectOneLineError(second)).toContain('in use by another agent')
    } finally {
      await first.stop()
    }
  }, 60_000)
})

interface RunningAgent {
  child: ChildProcess
  log: () => string
  stop: (signal?: NodeJS.Signals) => Promise<number | null>
}

function startAgent(config: string, home: string, extra: string[] = []): RunningAgent {
  const child = spawn(process.execPath, [WID_BIN, 'bot', 'start', '-c', config, ...extra], {env: {...process.env, WID_HOME: home, DEBUG: ''}, stdio: ['ignore', 'pipe', 'pipe']})
  let output = ''
  child.stdout!.on('data', (d) => (output += d))
  child.stderr!.on('data', (d) => (output += d))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return {
    child,
    log: () => output,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null) child.kill(signal)
      return exited
    },
  }
}

async function get(url: string): Promise<{status: number; body: string}> {
  const response = await fetch(url)
  return {status: response.status, body: await response.text()}
}

describe('wid bot start (the daemon)', () => {
  it('renews on its interval and on SIGUSR1, survives a SIGKILLed server, reloads on SIGHUP, stops on SIGTERM', async () => {
    const storage = join(tmp.path, 'daemon-storage')
    const out = join(tmp.path, 'daemon-out')
    const diag = await freePort()
    const yaml = botYaml({storage, out, token: await newToken(), renewal: '2s', ttl: '20s'}) + `diag_addr: 127.0.0.1:${diag}\n`
    const config = writeConfig('daemon.yaml', yaml)
    const agent = startAgent(config, join(tmp.path, 'daemon-home'))
    const serial = () => new X509Certificate(readFileSync(join(out, 'x509', 'svid.pem'))).serialNumber
    try {
      await within(30, () => existsSync(join(out, 'x509', 'svid.pem')), agent.log)
      const ready = await get(`http://127.0.0.1:${diag}/readyz`)
      expect(ready.status).toBe(200)
      expect((await get(`http://127.0.0.1:${diag}/healthz`)).status).toBe(200)

      // renewal on the interval: a new certificate appears
      const first = serial()
      await within(20, () => serial() !== first, agent.log)

      // SIGUSR1: renewed now
      const renewals = () => agent.log().split('\n').filter((l) => l.includes('output renewed')).length
      const before = renewals()
      agent.child.kill('SIGUSR1')
      await within(10, () => renewals() >= before + 3, agent.log)

      // the server dies: the agent keeps the last good files and keeps trying
      await cluster.server.stop('SIGKILL')
      const kept = serial()
      // (each output fails on its own schedule: wait for the one the metrics are read for)
      await within(20, () => agent.log().split('\n').some((line) => line.includes('output renewal failed') && line.includes('workload-identity-x509-2')), agent.log)
      expect(existsSync(join(out, 'x509', 'svid.pem'))).toBe(true)
      expect(agent.child.exitCode).toBe(null)
      const metrics = await get(`http://127.0.0.1:${diag}/metrics`)
      expect(metrics.body).toMatch(/wid_bot_renewal_failures_total\{service="workload-identity-x509-2"\} [1-9]/)
      expect(metrics.body).toContain('wid_bot_output_expiry_seconds{service="identity"}')

      // back again on the same port: renewals resume with no action from anyone
      await cluster.restart()
      await within(40, () => serial() !== kept, agent.log)

      // SIGHUP with a bad file: refused, the old configuration kept
      writeFileSync(config, yaml.replace('version: v2', 'version: v9'))
      agent.child.kill('SIGHUP')
      await within(10, () => agent.log().includes('configuration not reloaded'), agent.log)
      expect(agent.child.exitCode).toBe(null)

      // SIGHUP with a good file: its new output appears
      const added = join(out, 'added')
      // (and a new diag_addr, which only a start can apply: it says so and keeps the old one)
      const reloaded = yaml.replace(`diag_addr: 127.0.0.1:${diag}`, `diag_addr: 127.0.0.1:${diag + 1}`)
      writeFileSync(config, reloaded.replace('diag_addr:', `  - type: spiffe-svid\n    destination:\n      type: directory\n      path: ${added}\n    svid:\n      path: /svc/example-service\ndiag_addr:`))
      agent.child.kill('SIGHUP')
      await within(20, () => existsSync(join(added, 'svid.pem')), agent.log)
      expect(agent.log()).toContain('configuration reloaded')
      expect(agent.log()).toContain('diag_addr changed: the running agent keeps the old value until it is started again')
      expect((await get(`http://127.0.0.1:${diag}/healthz`)).status).toBe(200)

      expect(await agent.stop('SIGTERM')).toBe(0)
      expect(existsSync(join(storage, 'agent.lock'))).toBe(false)
    } finally {
      await agent.stop('SIGKILL')
    }
  }, 180_000)

  it('a selector that matches nothing fails that service only: /readyz names it, the others keep going', async () => {
    const storage = join(tmp.path, 'nomatch-storage')
    const out = join(tmp.path, 'nomatch-out')
    const diag = await freePort()
    const extra = `  - type: workload-identity-x509
    name: nothing-here
    selector:
      name: no-such-identity
    destination:
      type: directory
      path: ${join(out, 'none')}
`
    // (on every address: it works, with a warning)
    const yaml = botYaml({storage, out, token: await newToken(), renewal: '1m', ttl: '5m'}).replace('outputs:', `${extra}outputs:`) + `diag_addr: 0.0.0.0:${diag}\n`
    const agent = startAgent(writeConfig('nomatch.yaml', yaml), join(tmp.path, 'nomatch-home'), ['--log-format', 'json'])
    try {
      await within(30, () => existsSync(join(out, 'x509', 'svid.pem')) && agent.log().includes('nothing-here'), agent.log)
      // every log line is one JSON object, for machines
      const lines = agent.log().split('\n').filter((l) => l.trim() !== '')
      for (const line of lines) expect(JSON.parse(line)).toMatchObject({time: expect.any(String), level: expect.any(String), msg: expect.any(String)})
      expect(lines.map((l) => JSON.parse(l) as {service?: string; error?: string}).find((l) => l.service === 'nothing-here')?.error).toContain('no-such-identity')
      expect(lines.map((l) => JSON.parse(l) as {level: string; msg: string}).find((l) => l.level === 'warn')?.msg).toMatch(/^the diagnostics endpoints answer anyone/)
      const ready = await get(`http://127.0.0.1:${diag}/readyz`)
      expect(ready.status).toBe(503)
      expect(ready.body).toContain('nothing-here')
      expect(ready.body).toContain('no-such-identity')
      expect(existsSync(join(out, 'jwt', 'jwt_svid'))).toBe(true)
    } finally {
      await agent.stop()
    }
  }, 60_000)
})

describe('the workload-identity-aws-roles-anywhere service', () => {
  it('trades its X.509-SVID for a Roles Anywhere session and writes an AWS credentials file the SDK reads, keeping other profiles', async () => {
    // a local HTTPS stand-in for Roles Anywhere, reached as the AWS SDKs are told to: AWS_ENDPOINT_URL_ROLESANYWHERE and AWS_CA_BUNDLE
    const dir = join(tmp.path, 'ra')
    mkdirSync(dir)
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'ra.key'), '-out', join(dir, 'ra.pem'), '-subj', '/CN=127.0.0.1', '-days', '1', '-addext', 'subjectAltName=IP:127.0.0.1'])
    const requests: Array<{url: string; headers: Record<string, unknown>; body: string}> = []
    const {createServer} = await import('node:https')
    const fake = createServer({key: readFileSync(join(dir, 'ra.key')), cert: readFileSync(join(dir, 'ra.pem'))}, (req, res) => {
      let body = ''
      req.on('data', (d) => (body += d))
      req.on('end', () => {
        requests.push({url: req.url!, headers: req.headers, body})
        const expiration = new Date(Date.now() + 6 * 3600_000).toISOString()
        res.writeHead(201, {'content-type': 'application/json'}).end(JSON.stringify({credentialSet: [{credentials: {accessKeyId: 'ASIARA', secretAccessKey: 'ra-secret', sessionToken: 'ra-token', expiration}}]}))
      })
    })
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve))
    const endpoint = `https://127.0.0.1:${(fake.address() as {port: number}).port}`
    const home = join(tmp.path, 'ra-home')
    const local = widIn(home)
    try {
      expect((await local(['init', '--cluster-name', 'example.org'])).code).toBe(0)
      expect((await local(['create', '-f', '-'], {input: [WORKLOAD_IDENTITY, ISSUER_ROLE].join('---\n')})).code).toBe(0)
      expect((await local(['bots', 'add', 'aws-bot', '--roles', 'example-workload-identity-issuer'])).code).toBe(0)
      const out = join(tmp.path, 'ra-out')
      mkdirSync(out, {mode: 0o700})
      writeFileSync(join(out, 'aws_credentials'), '[other]\naws_access_key_id = KEEPME\n', {mode: 0o600})
      const config = writeConfig('ra.yaml', `version: v2
services:
  - type: workload-identity-aws-roles-anywhere
    selector:
      name: example-workload-identity
    role_arn: arn:aws:iam::123456789012:role/example
    profile_arn: arn:aws:rolesanywhere:us-east-1:123456789012:profile/0d5c2b61-9a3e-4e1a-8f3c-1f2e3d4c5b6a
    trust_anchor_arn: arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/6f3a9e1c-2b4d-4c8e-9f1a-7b6c5d4e3f2a
    destination:
      type: directory
      path: ${out}
`)
      const result = await local(['bot', 'start', '-c', config, '--oneshot', '--local', '--bot', 'aws-bot'], {env: {AWS_ENDPOINT_URL_ROLESANYWHERE: endpoint, AWS_CA_BUNDLE: join(dir, 'ra.pem')}})
      expect(result.code, result.stderr).toBe(0)
      expect(requests).toHaveLength(1)
      expect(JSON.parse(requests[0]!.body)).toEqual({durationSeconds: 6 * 3600})
      expect(String(requests[0]!.headers.authorization)).toMatch(/^AWS4-X509-ECDSA-SHA256 Credential=\d+\//)
      const file = join(out, 'aws_credentials')
      expect(mode(file)).toBe(0o600)
      expect(readFileSync(file, 'utf8')).toContain('aws_access_key_id = KEEPME')
      const {fromIni} = await import('@aws-sdk/credential-providers')
      const credentials = await fromIni({profile: 'default', filepath: file, configFilepath: join(dir, 'no-config')})()
      expect(credentials).toMatchObject({accessKeyId: 'ASIARA', secretAccessKey: 'ra-secret', sessionToken: 'ra-token'})
    } finally {
      fake.close()
    }
  }, 60_000)
})
