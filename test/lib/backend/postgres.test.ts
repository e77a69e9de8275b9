/**
 * What PostgresBackend adds to the contract (contract.test.ts): correctness when several
 * backends (standing for several servers) write at once, revisions in commit order, the
 * changes log and its NOTIFY, migrations, and one-line errors that never show the password.
 * One throwaway server for the file, a new database for each test.
 */
import pg from 'pg'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'
import {createItem, putItem, updateItem} from '../../../src/lib/backend/backend.js'
import {CHANGES_CHANNEL, listQuery, PostgresBackend, type PostgresOptions} from '../../../src/lib/backend/postgres.js'
import {WidError} from '../../../src/lib/errors.js'
import {rejection} from '../../helpers/errors.js'
import {closedPort, startPostgres, type TestPostgres} from '../../helpers/postgres.js'

let server: TestPostgres
const opened: PostgresBackend[] = []
const clients: pg.Client[] = []

beforeAll(async () => {
  server = await startPostgres()
})

afterEach(async () => {
  for (const backend of opened.splice(0)) await backend.close()
  for (const client of clients.splice(0)) await client.end()
})

afterAll(async () => {
  await server?.destroy()
})

async function open(url: string, options?: PostgresOptions): Promise<PostgresBackend> {
  const backend = await PostgresBackend.open(url, options)
  opened.push(backend)
  return backend
}

/** A plain connection, as an administrator (or another server) would have. */
async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({connectionString: url})
  await client.connect()
  clients.push(client)
  return client
}

const databaseOf = (url: string) => new URL(url).pathname.slice(1)

describe('PostgresBackend: concurrent writers', () => {
  it('lets exactly one of many concurrent create-if-absent writes of a key win, across two backends', async () => {
    // Given two backends on one database
    const url = await server.createDatabase()
    const backends = [await open(url), await open(url)]
    for (let round = 0; round < 5; round++) {
      const key = `/race/${round}`
      // When 16 writers, half on each backend, create the same key at once
      const results = await Promise.allSettled(Array.from({length: 16}, (_, i) => createItem(backends[i % 2]!, key, `writer ${i}`)))
      // Then exactly one succeeds, every other fails with compare_failed, and the winner's value is stored
      const winner = results.findIndex((r) => r.status === 'fulfilled')
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({code: 'compare_failed'})
      expect((await backends[1]!.get(key))?.value).toBe(`writer ${winner}`)
    }
  })

  it('loses no update when clients on four backends increment one counter with compare-and-swap', async () => {
    // Given a counter at 0 and four backends
    const url = await server.createDatabase()
    const backends = await Promise.all(Array.from({length: 4}, () => open(url)))
    await createItem(backends[0]!, '/counter', '0')
    // When two clients per backend each add 1, fifteen times, retrying when they lose a race
    const increment = async (backend: PostgresBackend) => {
      for (;;) {
        const current = (await backend.get('/counter'))!
        try {
          return await updateItem(backend, '/counter', String(Number(current.value) + 1), current.revision)
        } catch (error) {
          if (!(error instanceof WidError && error.code === 'compare_failed')) throw error
        }
      }
    }
    const clientsPerBackend = backends.flatMap((backend) => [backend, backend])
    const revisions = (
      await Promise.all(
        clientsPerBackend.map(async (backend) => {
          const mine: number[] = []
          for (let i = 0; i < 15; i++) mine.push(await increment(backend))
          return mine
        }),
      )
    ).flat()
    // Then the counter counts every increment, and each successful one had a revision of its own
    expect((await backends[3]!.get('/counter'))?.value).toBe(String(8 * 15))
    expect(new Set(revisions).size).toBe(8 * 15)
  })

  it('assigns revisions in commit order: whoever has seen revision N has seen every revision before it', async () => {
    // Given two writing backends, a third that follows the changes log, and a LISTENing connection
    const url = await server.createDatabase()
    const writers = [await open(url), await open(url)]
    const follower = await open(url)
    const listener = await connect(url)
    await listener.query(`LISTEN ${CHANGES_CHANNEL}`)
    const notified = notifications(listener)
    const base = (await follower.changesSince(0))!.length
    // When 200 writes run on the two backends, four at a time each, while the follower polls the log
    let writing = true
    const written = Promise.all(
      writers.flatMap((writer, w) =>
        Array.from({length: 4}, async (_, lane) => {
          const mine: number[] = []
          for (let i = 0; i < 25; i++) mine.push(await putItem(writer, `/order/${w}/${lane}/${i}`, String(i)))
          return mine
        }),
      ),
    ).finally(() => (writing = false))
    let last = base
    let polls = 0
    while (writing) {
      // Then every poll finds revisions that continue exactly where the last one stopped: none is skipped and seen later
      for (const change of (await follower.changesSince(last))!) {
        expect(change.revision).toBe(last + 1)
        last = change.revision
      }
      polls++
    }
    const revisions = (await written).flat().sort((a, b) => a - b)
    // And the writes got the revisions after the base, one each, without gaps
    expect(revisions).toEqual(Array.from({length: 200}, (_, i) => base + i + 1))
    expect(polls).toBeGreaterThan(0)
    // And the notifications, sent at commit, arrive in revision order
    await notified.received(200)
    expect(notified.payloads.map(Number)).toEqual(revisions)
  })
})

/** The payloads of the notifications a LISTENing connection receives, and a wait for the count to reach n. */
function notifications(listener: pg.Client): {payloads: string[]; received(count: number): Promise<void>} {
  const payloads: string[] = []
  let waiter: {count: number; resolve: () => void} | undefined
  listener.on('notification', (n) => {
    payloads.push(n.payload!)
    if (waiter && payloads.length >= waiter.count) waiter.resolve()
  })
  return {
    payloads,
    received: (count) => (payloads.length >= count ? Promise.resolve() : new Promise((resolve) => (waiter = {count, resolve}))),
  }
}

describe('PostgresBackend: schema', () => {
  it('migrates an empty database exactly once when four backends open it at once', async () => {
    // Given an empty database
    const url = await server.createDatabase()
    // When four backends open it at the same time
    const backends = await Promise.all(Array.from({length: 4}, () => open(url)))
    // Then all four open, the schema is recorded once, and they share one store
    const admin = await connect(url)
    expect((await admin.query('SELECT version FROM wid_schema')).rows).toEqual([{version: 2}])
    const revision = await createItem(backends[0]!, '/shared', 'x')
    for (const backend of backends) expect(await backend.get('/shared')).toEqual({key: '/shared', value: 'x', revision})
  })

  it('refuses a database written by a newer wid, in one line', async () => {
    // Given a database whose schema a newer wid has moved on
    const url = await server.createDatabase()
    await (await open(url)).close()
    await (await connect(url)).query('UPDATE wid_schema SET version = 99')
    // When this wid opens it
    const error = await rejection(PostgresBackend.open(url))
    // Then it refuses, saying why and what to do
    expect(error.code).toBe('state')
    expect(error.message).toBe('backend: the database was written by a newer wid (schema 99); upgrade wid')
  })

  it('keys sort by bytes even where the database would sort text by a language', async () => {
    // Given a database whose default collation is English (ICU), which puts "a" before "B"
    const backend = await open(await server.createDatabase({icuLocale: 'en-US'}))
    for (const key of ['/k/b', '/k/B', '/k/a', '/k/-', '/k/\u00e9']) await putItem(backend, key, key)
    // When the keys are listed
    // Then they come in UTF-8 byte order, as every other backend lists them
    expect((await backend.list('/k/')).map((i) => i.key)).toEqual(['/k/-', '/k/B', '/k/a', '/k/b', '/k/\u00e9'])
  })

  it('lists a prefix through a range of the primary key, with or without an upper bound', async () => {
    // Given a database with the schema
    const url = await server.createDatabase()
    await open(url)
    const admin = await connect(url)
    // (the planner would read a table this small whole: the question is whether the index serves the query)
    await admin.query('SET enable_seqscan = off; SET enable_bitmapscan = off')
    for (const prefix of ['/users/a%_', '\u{10FFFF}']) {
      // When the list query of a prefix is planned
      const {text, values} = listQuery(prefix)
      const plan = (await admin.query<{'QUERY PLAN': string}>(`EXPLAIN ${text}`, values)).rows.map((r) => r['QUERY PLAN']).join('\n')
      // Then it scans the primary key's index from the prefix on, in the index's order, filtering nothing
      expect(plan).toMatch(/^Index Scan using wid_kv_pkey on wid_kv/)
      expect(plan).toMatch(prefix.startsWith('/') ? /Index Cond: \(\(key >= .+\) AND \(key < .+\)\)/ : /Index Cond: \(key >= .+\)/)
      expect(plan).not.toMatch(/Filter|Sort/)
    }
  })
})

describe('PostgresBackend: changes log', () => {
  it("logs each write's keys under its revision and notifies a listening connection of the revision", async () => {
    // Given a backend and another connection that LISTENs on the changes channel
    const url = await server.createDatabase()
    const backend = await open(url)
    const listener = await connect(url)
    await listener.query(`LISTEN ${CHANGES_CHANNEL}`)
    const {payloads, received} = notifications(listener)
    const r1 = await putItem(backend, '/b', 'b')
    // When one write puts a key, deletes another, and puts then deletes a third
    const r2 = await backend.atomicWrite(
      [{key: '/b', type: 'exists'}],
      [
        {key: '/a', type: 'put', value: 'a'},
        {key: '/b', type: 'delete'},
        {key: '/c', type: 'put', value: 'c'},
        {key: '/c', type: 'delete'},
      ],
    )
    // Then the listener is told both revisions, in order
    await received(2)
    expect(payloads).toEqual([String(r1), String(r2)])
    // And the log holds each key's final effect under its write's revision
    expect(await backend.changesSince(r1 - 1)).toEqual([
      {revision: r1, key: '/b', deleted: false},
      {revision: r2, key: '/a', deleted: false},
      {revision: r2, key: '/b', deleted: true},
      {revision: r2, key: '/c', deleted: true},
    ])
    expect(await backend.changesSince(r2)).toEqual([])
    // And a refused write logs nothing and notifies nothing
    await rejection(createItem(backend, '/a', 'again'))
    expect(await backend.changesSince(r2)).toEqual([])
    const r3 = await putItem(backend, '/d', 'd')
    await received(3)
    expect(payloads[2]).toBe(String(r3))
  })

  it('prunes old entries; changes asked for from before the pruned point answer undefined', async () => {
    // Given five writes
    const backend = await open(await server.createDatabase())
    const revisions: number[] = []
    for (let i = 0; i < 5; i++) revisions.push(await putItem(backend, `/p/${i}`, String(i)))
    // When the log is pruned through the third
    expect(await backend.pruneChanges(revisions[2]!)).toBe(3)
    // Then changes after it are still there, and changes from before it are reported as lost
    expect((await backend.changesSince(revisions[2]!))!.map((c) => c.revision)).toEqual(revisions.slice(3))
    expect(await backend.changesSince(revisions[1]!)).toBeUndefined()
    // When it is pruned through a revision beyond the current one
    expect(await backend.pruneChanges(revisions[4]! + 1000)).toBe(2)
    // Then pruning stopped at the current revision: later writes are followed as before
    expect(await backend.changesSince(revisions[4]!)).toEqual([])
    const next = await putItem(backend, '/p/next', 'n')
    expect(await backend.changesSince(revisions[4]!)).toEqual([{revision: next, key: '/p/next', deleted: false}])
  })
})

describe('PostgresBackend: failures', () => {
  it('shows where it is without the password', async () => {
    const url = await server.createDatabase()
    const backend = await open(url)
    expect(backend.kind).toBe('postgresql')
    expect(backend.location).toBe(`postgresql://${server.user}@127.0.0.1:${server.port}/${databaseOf(url)}`)
  })

  it('reports an unreachable server as unavailable in one line naming host:port, never the password', async () => {
    // Given a connection string whose port nothing listens on
    const port = await closedPort()
    // When it is opened
    const error = await rejection(PostgresBackend.open(`postgresql://wid:hunter2-secret@127.0.0.1:${port}/wid`))
    // Then it is unavailable, said in one line with the address and without the password
    expect(error.code).toBe('unavailable')
    expect(error.message).toBe(`backend: PostgreSQL at 127.0.0.1:${port} is unavailable (connection refused); try again`)
  })

  it('reports a wrong password as a refused login, without the password', async () => {
    // Given the server's URL with a wrong password
    const url = server.url(databaseOf(await server.createDatabase()), 'wrong-secret')
    // When it is opened
    const error = await rejection(PostgresBackend.open(url))
    // Then the message says the login was refused and why, in one line, without the password
    expect(error.code).toBe('bad_input')
    expect(error.message).toMatch(/^backend: PostgreSQL at 127\.0\.0\.1:\d+ refused the login: password authentication failed for user "wid"/)
    expect(error.message).not.toContain('wrong-secret')
    expect(error.message).not.toContain('\n')
  })

  it('refuses a connection string that is not a postgresql:// URL without repeating it', async () => {
    for (const connString of ['host=db password=hunter2', 'postgresql://wid:hunter2@[db/wid']) {
      // When it is opened
      const error = await rejection(PostgresBackend.open(connString))
      // Then it is bad input, and the message does not repeat the string
      expect(error.code).toBe('bad_input')
      expect(error.message).not.toContain('hunter2')
    }
  })

  it('is unavailable while PostgreSQL is down, then works again by itself once it is back', async () => {
    // Given a backend with a stored item and connections in its pool
    const backend = await open(await server.createDatabase())
    const revision = await putItem(backend, '/survives', 'yes')
    // When the server stops
    await server.stop()
    try {
      // Then reads, writes and pings fail as unavailable, naming the server
      for (const attempt of [backend.get('/survives'), putItem(backend, '/lost', 'no'), backend.ping()]) {
        const error = await rejection(attempt)
        expect(error.code).toBe('unavailable')
        expect(error.message).toContain(`PostgreSQL at 127.0.0.1:${server.port} is unavailable`)
        expect(error.message).not.toContain(server.password)
      }
    } finally {
      await server.start()
    }
    // And once it is back the same backend reads and writes again
    expect(await backend.get('/survives')).toEqual({key: '/survives', value: 'yes', revision})
    expect(await putItem(backend, '/after', 'x')).toBeGreaterThan(revision)
  })

  it('gives a statement up when the server stops answering without closing its connections, then works again', async () => {
    // Given a backend with two connections in its pool, and short timeouts
    const backend = await open(await server.createDatabase(), {queryTimeoutMs: 500, connectTimeoutMs: 500})
    const revision = await putItem(backend, '/survives', 'yes')
    await Promise.all([backend.get('/survives'), backend.get('/survives')])
    // When the server hangs (as a frozen host or a cut network looks)
    await server.pause()
    try {
      // Then a write and a read on those connections each fail as unavailable once their answer is late
      for (const attempt of [() => putItem(backend, '/lost', 'no'), () => backend.get('/survives')]) {
        const error = await rejection(attempt())
        expect(error.code).toBe('unavailable')
        expect(error.message).toBe(`backend: PostgreSQL at 127.0.0.1:${server.port} is unavailable (no answer within 0.5 s); try again`)
      }
    } finally {
      await server.resume()
    }
    // And once it answers, the backend reads and writes again, the lost write not applied
    expect(await backend.get('/survives')).toEqual({key: '/survives', value: 'yes', revision})
    expect(await backend.get('/lost')).toBeUndefined()
    expect(await putItem(backend, '/after', 'x')).toBeGreaterThan(revision)
  })

  it('refuses to be used once closed', async () => {
    const backend = await PostgresBackend.open(await server.createDatabase())
    await backend.close()
    const error = await rejection(backend.get('/x'))
    expect(error.code).toBe('unavailable')
    expect(error.message).toContain('is closed')
  })
})
