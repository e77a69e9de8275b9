/**
 * A server on PostgreSQL when things go wrong (issue 14, faults): a database that is down at
 * start is waited for; one that restarts while the server serves makes /readyz and requests
 * 503 `unavailable`, and the server recovers by itself; a server killed under load has every
 * issuance it answered in the audit log. A throwaway PostgreSQL for the file.
 */
import {generateKeyPairSync} from 'node:crypto'
import {Agent, request} from 'node:https'
import {join} from 'node:path'
import pg from 'pg'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {ISSUER_ROLE, WORKLOAD_IDENTITY} from '../helpers/design-documents.js'
import {expectOneLineError, tempDir, widIn} from '../helpers/cli.js'
import {startPostgres, storageConfig, type TestPostgres} from '../helpers/postgres.js'
import {getPublic, inviteFile, type PublicAnswer, loginProfile, spawnWidServer, startWidServer, within, type WidServer} from '../helpers/server.js'

const PASSWORD = 'correct horse battery staple'

type Answer = PublicAnswer

/** A GET as a load balancer's probe sends it. */
const probe = (port: number, path = '/readyz') => getPublic(port, path)

/** POST /v1/issueX509Svid with alice's login certificate, over keep-alive connections; `status` 0 when the connection failed. */
function issuer(home: string, port: number): {issue: () => Promise<Answer>; close: () => void} {
  const {key, cert, ca} = loginProfile(home, port)
  const agent = new Agent({keepAlive: true, key, cert, ca})
  const publicKey = generateKeyPairSync('ec', {namedCurve: 'P-256'}).publicKey.export({type: 'spki', format: 'pem'}) as string
  const body = JSON.stringify({name: 'example-workload-identity', publicKey})
  const issue = () =>
    new Promise<Answer>((resolve) => {
      const sent = request({host: '127.0.0.1', port, path: '/v1/issueX509Svid', method: 'POST', agent, headers: {'content-type': 'application/json'}}, (res) => {
        let text = ''
        res.on('data', (d) => (text += d))
        res.on('end', () => resolve({status: res.statusCode ?? 0, body: text}))
        res.on('error', (error) => resolve({status: 0, body: error.message}))
      })
      sent.on('error', (error) => resolve({status: 0, body: error.message}))
      sent.end(body)
    })
  return {issue, close: () => agent.destroy()}
}

/** `clients` loops issuing at once until `stop()`; every answer is kept, in order of arrival. */
function load(issue: () => Promise<Answer>, clients: number): {answers: Answer[]; stop: () => Promise<void>} {
  const answers: Answer[] = []
  let running = true
  const loops = Array.from({length: clients}, async () => {
    while (running) {
      const answer = await issue()
      answers.push(answer)
      // a failure answers at once: no need to spin on it
      if (answer.status !== 200) await new Promise((resolve) => setTimeout(resolve, 20))
    }
  })
  return {
    answers,
    stop: async () => {
      running = false
      await Promise.all(loops)
    },
  }
}

/** The JSON lines of a server's log with this message. */
function logLines(server: WidServer, msg: string): Record<string, unknown>[] {
  return server
    .log()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.msg === msg)
}

describe('a server on PostgreSQL, when the database fails', () => {
  const tmp = tempDir()
  const admin = widIn(join(tmp.path, 'admin-home'))
  let postgres: TestPostgres
  const servers: WidServer[] = []
  let configs = 0

  /** A wid.yaml naming `url`. */
  const configFor = (url: string) => {
    const path = join(tmp.path, `wid-${++configs}.yaml`)
    storageConfig(path, url)
    return path
  }

  beforeAll(async () => {
    postgres = await startPostgres()
  }, 60_000)
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop('SIGKILL')))
    await postgres?.destroy()
    tmp.cleanup()
  })

  it('waits for a database that is down at start, warning once per attempt, and serves once it answers', async () => {
    // Given a database that is down
    const config = configFor(await postgres.createDatabase())
    await postgres.stop()
    // When a server starts on it
    const server = await spawnWidServer(join(tmp.path, 'waiting'), undefined, ['-c', config])
    servers.push(server)
    // Then it logs one warning per attempt, with where the database is (no password) and the next delay
    await within(20, () => logLines(server, 'storage unavailable: retrying').length >= 2, server.log)
    const [first, second] = logLines(server, 'storage unavailable: retrying')
    expect(first).toMatchObject({level: 40, service: 'wid-server', attempt: 1, storage: expect.stringMatching(/^postgresql:\/\/wid@127\.0\.0\.1:\d+\/wid_test_\d+$/)})
    expect(first!.reason).toMatch(/^backend: PostgreSQL at 127\.0\.0\.1:\d+ is unavailable \(connection refused\)/)
    expect(first!.retryInMs).toBeGreaterThanOrEqual(500)
    expect(second).toMatchObject({attempt: 2})
    expect(server.log()).not.toContain(postgres.password)
    // And it serves nothing meanwhile
    expect((await probe(server.port, '/healthz')).status).toBe(0)
    // When the database comes up, the server starts by itself and is ready
    await postgres.start()
    await server.listening
    expect(await probe(server.port)).toEqual({status: 200, body: '{"status":"ready"}'})
    expect(await server.stop()).toBe(0)
  }, 60_000)

  it('ends the wait with status 0 on SIGTERM', async () => {
    const config = configFor(await postgres.createDatabase())
    await postgres.stop()
    try {
      const server = await spawnWidServer(join(tmp.path, 'stopped'), undefined, ['-c', config])
      servers.push(server)
      await within(20, () => logLines(server, 'storage unavailable: retrying').length >= 1, server.log)
      expect(await server.stop('SIGTERM')).toBe(0)
      expect(logLines(server, 'stopped before serving: the storage never answered')).toEqual([expect.objectContaining({signal: 'SIGTERM'})])
    } finally {
      await postgres.start()
    }
  }, 60_000)

  it('ends the start with one line when retrying cannot help: a refused login, no such database, a newer schema, a bad connection string', async () => {
    const start = (config: string) => admin(['server', 'start', '-c', config, '--listen', '127.0.0.1:0'])
    const url = await postgres.createDatabase()
    const cases: [string, RegExp][] = [
      [postgres.url(new URL(url).pathname.slice(1), 'wrong-password'), /^backend: PostgreSQL at 127\.0\.0\.1:\d+ refused the login: password authentication failed for user "wid" \(check the connection string\)$/],
      [postgres.url('no_such_database'), /^backend: postgresql:\/\/wid@127\.0\.0\.1:\d+\/no_such_database: database "no_such_database" does not exist$/],
      ['mysql://wid:secret@127.0.0.1/wid', /^backend: the PostgreSQL connection string must be a postgresql:\/\/ URL$/],
    ]
    // a database that a newer wid has migrated
    const newer = await postgres.createDatabase()
    const client = new pg.Client({connectionString: newer})
    await client.connect()
    await client.query('CREATE TABLE wid_schema (version integer NOT NULL); INSERT INTO wid_schema (version) VALUES (99)')
    await client.end()
    cases.push([newer, /^backend: the database was written by a newer wid \(schema 99\); upgrade wid$/])
    for (const [connString, message] of cases) {
      const result = await start(configFor(connString))
      expect(expectOneLineError(result)).toMatch(message)
      expect(result.stdout).not.toContain('retrying')
      expect(result.stderr + result.stdout).not.toContain(postgres.password)
    }
  }, 60_000)

  describe('while serving', () => {
    let server: WidServer
    let alice: string
    let config: string

    beforeAll(async () => {
      config = configFor(await postgres.createDatabase())
      server = await startWidServer(join(tmp.path, 'serving'), undefined, ['-c', config])
      servers.push(server)
      const status = await admin(['status', '-c', config, '--json'])
      const pin = (JSON.parse(status.stdout) as {hostCaPins: string[]}).hostCaPins[0]!
      expect((await admin(['create', '-c', config, '-f', '-'], {input: `${WORKLOAD_IDENTITY}---\n${ISSUER_ROLE}`})).code).toBe(0)
      const invite = await admin(['users', 'add', 'alice', '--roles', 'example-workload-identity-issuer', '-c', config])
      alice = join(tmp.path, 'alice')
      const login = await widIn(alice)(['login', '--proxy', `127.0.0.1:${server.port}`, '--user', 'alice', '--ca-pin', pin, '--password-stdin', '--invite-file', inviteFile(tmp.path, invite.stdout.trim())], {input: `${PASSWORD}\n`})
      expect(login.code, login.stderr).toBe(0)
    }, 60_000)

    it('answers /readyz 503 when PostgreSQL hangs, without waiting for TCP to give up, and 200 once it answers again', async () => {
      // Given a server that is ready (asked twice: a read cache, if the probe went through one, would hold the answer)
      for (let i = 0; i < 2; i++) expect((await probe(server.port)).status).toBe(200)
      // When the database keeps its connections open but answers nothing (a hung host, a cut network)
      await postgres.pause()
      try {
        // Then /readyz says so within its own timeout, though the connection does not fail
        const ready = await probe(server.port)
        expect(ready.status, ready.body).toBe(503)
        expect(JSON.parse(ready.body)).toEqual({error: {code: 'unavailable', message: 'server: the store did not answer within 2 s'}})
      } finally {
        await postgres.resume()
      }
      expect(await probe(server.port)).toEqual({status: 200, body: '{"status":"ready"}'})
    }, 60_000)

    it('answers 503 unavailable while PostgreSQL restarts under load, then recovers by itself', async () => {
      const client = issuer(alice, server.port)
      const traffic = load(client.issue, 4)
      try {
        await within(20, () => traffic.answers.filter((a) => a.status === 200).length >= 20, () => JSON.stringify(traffic.answers.slice(-3)))
        // When PostgreSQL stops (fast: its sessions are ended) under load
        await postgres.stop()
        const stoppedAt = traffic.answers.length
        // Then /readyz says so, and issuance answers 503 unavailable in one line
        const ready = await probe(server.port)
        expect(ready.status, ready.body).toBe(503)
        expect(JSON.parse(ready.body)).toEqual({error: {code: 'unavailable', message: expect.stringMatching(/^backend: PostgreSQL at 127\.0\.0\.1:\d+ is unavailable \(connection refused\); try again$/)}})
        await within(20, () => traffic.answers.slice(stoppedAt).filter((a) => a.status === 503).length >= 10, () => JSON.stringify(traffic.answers.slice(-3)))
        // When it is back, the server recovers without a restart
        await postgres.start()
        await within(30, () => traffic.answers.at(-1)?.status === 200, () => JSON.stringify(traffic.answers.slice(-3)))
        expect(await probe(server.port)).toEqual({status: 200, body: '{"status":"ready"}'})
      } finally {
        await traffic.stop()
        client.close()
      }
      // And every failure was a one-line 503 unavailable (no 500, no dropped connection), and the log has no error and no stack trace
      const failed = traffic.answers.filter((a) => a.status !== 200)
      expect(failed.length).toBeGreaterThan(0)
      for (const answer of failed) {
        expect(answer.status, answer.body).toBe(503)
        const {error} = JSON.parse(answer.body) as {error: {code: string; message: string; processed?: boolean}}
        expect(error.code).toBe('unavailable')
        // A request that met the failure says what the store said; once the server has found
        // its store down, it refuses requests unread, and says so (a client may ask another server)
        if (error.processed === false) expect(error.message).toBe('api: this server cannot reach its store; the request was not processed (another server of the cluster may answer it)')
        else expect(error.message).toMatch(/^backend: PostgreSQL at 127\.0\.0\.1:\d+ is unavailable \([^\n]+\); (try again|the write may or may not have been applied)$/)
      }
      expect(server.child.exitCode).toBeNull()
      expect(server.log()).not.toMatch(/"level":(50|60)/)
      expect(server.log()).not.toMatch(/\n\s+at /)
    }, 120_000)

    it('loses no answered issuance when killed under load', async () => {
      const client = issuer(alice, server.port)
      const traffic = load(client.issue, 6)
      try {
        await within(30, () => traffic.answers.filter((a) => a.status === 200).length >= 150, () => JSON.stringify(traffic.answers.slice(-3)))
        // When the server is killed while it answers
        expect(await server.stop('SIGKILL')).toBeNull()
      } finally {
        await traffic.stop()
        client.close()
      }
      // Then every SVID that a client received is in the audit log
      const received = traffic.answers.filter((a) => a.status === 200).map((a) => (JSON.parse(a.body) as {result: {serial: string}}).result.serial)
      expect(received.length).toBeGreaterThanOrEqual(150)
      const audit = await admin(['audit', 'ls', '-c', config, '--json'])
      expect(audit.code, audit.stderr).toBe(0)
      const logged = new Set((JSON.parse(audit.stdout) as {type: string; serial?: string}[]).filter((e) => e.type === 'svid.issued').map((e) => e.serial))
      expect(received.filter((serial) => !logged.has(serial))).toEqual([])
    }, 120_000)
  })
})
