/** `wid server start` and stop: the data directory it serves, and its signals. */
import {connect, createServer} from 'node:net'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {expectOneLineError, tempDir, widIn} from '../helpers/cli.js'
import {loginInFlight, startWidServer} from '../helpers/server.js'

const PASSWORD = 'correct horse battery staple'

/** Whether a TCP connection to 127.0.0.1:`port` is refused (nothing listens). */
const refused = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect({host: '127.0.0.1', port})
    socket.once('connect', () => {
      socket.destroy()
      resolve(false)
    })
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'))
  })

describe('wid server start', () => {
  const tmp = tempDir()
  afterAll(() => tmp.cleanup())

  it('stores a new public address only once it listens: a start that cannot listen changes nothing and warns of nothing', async () => {
    // Given a cluster whose public address is https://a.example.org, and a port in use
    const home = join(tmp.path, 'busy')
    expect((await widIn(home)(['init', '--cluster-name', 'example.org', '--public-addr', 'https://a.example.org'])).code).toBe(0)
    const other = createServer()
    const port = await new Promise<number>((resolve) => other.listen(0, '127.0.0.1', () => resolve((other.address() as {port: number}).port)))
    try {
      // When the server is started on that port with another public address
      const result = await widIn(home)(['server', 'start', '--listen', `127.0.0.1:${port}`, '--public-addr', 'https://b.example.org'])
      // Then it fails with exit status 10, in one line: no warning of a new public address
      expect(expectOneLineError(result)).toBe(`server: cannot listen on 127.0.0.1:${port}: the address is in use`)
      expect(result.code).toBe(10)
    } finally {
      other.close()
    }
    // And the cluster keeps its public address
    expect(JSON.parse((await widIn(home)(['status', '--json'])).stdout)).toMatchObject({publicAddr: 'https://a.example.org', jwtIssuer: 'https://a.example.org/workload-identity'})
    // When it starts on a free port, Then it warns, and stores the new one
    const server = await startWidServer(home)
    try {
      expect(server.log()).toMatch(new RegExp(`warning: the public address changed from https://a\\.example\\.org to ${server.url.replace(/\./g, '\\.')}: JWT-SVIDs now name`))
      expect(JSON.parse((await widIn(home)(['status', '--json'])).stdout)).toMatchObject({publicAddr: server.url})
    } finally {
      await server.stop()
    }
  })

  it('on a new data directory, creates the cluster with its public address and does not warn that it changed', async () => {
    // Given a data directory with no cluster
    const home = join(tmp.path, 'new')
    // When the server starts there with --public-addr
    const server = await startWidServer(home)
    try {
      // Then the cluster has it
      expect(JSON.parse((await widIn(home)(['status', '--json'])).stdout)).toMatchObject({publicAddr: server.url, jwtIssuer: `${server.url}/workload-identity`})
    } finally {
      await server.stop()
    }
    // And nothing warned of a changed public address, on stderr or in the log (nothing could have trusted the one before)
    expect(server.log()).not.toMatch(/public address changed/)
  })

  it('a second SIGTERM while it drains changes nothing: the request in flight is answered, and the status is 0', async () => {
    // Given a server with a login in flight
    const home = join(tmp.path, 'twice')
    expect((await widIn(home)(['init', '--cluster-name', 'example.org'])).code).toBe(0)
    const invite = (await widIn(home)(['users', 'add', 'alice', '--roles', 'access'])).stdout.trim()
    const server = await startWidServer(home)
    try {
      const login = await loginInFlight(server.port, 'alice', PASSWORD, invite)
      // When it gets SIGTERM, and again once it has stopped listening
      server.child.kill('SIGTERM')
      for (let tries = 0; !(await refused(server.port)); tries++) {
        if (tries === 200) throw new Error(`still listening after SIGTERM:\n${server.log()}`)
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      server.child.kill('SIGTERM')
      // Then the login is answered, the log says that it was already stopping, and the status is 0
      expect((await login.finish()).status).toBe(200)
      expect(await server.stop()).toBe(0)
      expect(server.log()).toMatch(/"signal":"SIGTERM","requests":1,"msg":"already stopping: still finishing the requests in flight"/)
      expect(server.log()).toMatch(/"msg":"server stopped"/)
    } finally {
      await server.stop('SIGKILL')
    }
  })
})
