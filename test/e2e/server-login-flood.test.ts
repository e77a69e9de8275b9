/**
 * A flood of bad logins from many addresses does not deny logins from an address that is
 * not flooding. (On Linux every 127.x.y.z reaches a server on 127.0.0.1, so each flooder
 * binds a source address of its own.)
 */
import {generateKeyPairSync} from 'node:crypto'
import {join} from 'node:path'
import {Agent, request} from 'undici'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {tempDir, widIn} from '../helpers/cli.js'
import {inviteFile, loginProfile, startWidServer, type WidServer} from '../helpers/server.js'

const PASSWORD = 'correct horse battery staple'
const FLOODERS = 32
/** Below the 20 failures that lock an address, so that every attempt costs a password check. */
const ATTEMPTS_PER_FLOODER = 19
const publicKey = generateKeyPairSync('ec', {namedCurve: 'P-256'}).publicKey.export({type: 'spki', format: 'pem'}) as string

describe('a login flood from many addresses', () => {
  const tmp = tempDir()
  const serverHome = join(tmp.path, 'server')
  const admin = widIn(serverHome)
  let server: WidServer
  let ca: string

  beforeAll(async () => {
    expect((await admin(['init', '--cluster-name', 'example.org'])).code).toBe(0)
    server = await startWidServer(serverHome)
    const invite = (await admin(['users', 'add', 'alice', '--roles', 'access'])).stdout.trim()
    const pin = JSON.parse((await admin(['status', '--json'])).stdout).hostCaPins[0]
    const home = join(tmp.path, 'alice')
    const loggedIn = await widIn(home)(['login', '--proxy', `127.0.0.1:${server.port}`, '--user', 'alice', '--invite-file', inviteFile(tmp.path, invite), '--ca-pin', pin, '--password-stdin'], {input: PASSWORD})
    expect(loggedIn.code, loggedIn.stderr).toBe(0)
    ca = loginProfile(home, server.port).ca
  })
  afterAll(async () => {
    await server?.stop()
    tmp.cleanup()
  })

  const loginFrom = async (agent: Agent, user: string, password: string) => {
    const response = await request(`${server.url}/v1/login`, {
      method: 'POST',
      dispatcher: agent,
      headers: {'content-type': 'application/json'},
      body: JSON.stringify({user, password, publicKey}),
    })
    return {status: response.statusCode, body: (await response.body.json()) as {error?: {message: string}}}
  }
  const agentAt = (localAddress: string) => new Agent({localAddress, connect: {ca, checkServerIdentity: () => undefined}})

  it('does not deny the logins of an address that is not flooding', async () => {
    // Given 32 addresses, each sending bad logins back to back (a new user name each time, so
    // that no user's lockout stops them) until the legitimate logins below are done
    const flooders = Array.from({length: FLOODERS}, (_, i) => agentAt(`127.0.0.${10 + i}`))
    const answered = new Set<number>()
    const floodStatuses: number[] = []
    let done = false
    const flood = flooders.map(async (agent, i) => {
      for (let attempt = 0; attempt < ATTEMPTS_PER_FLOODER && !done; attempt++) {
        floodStatuses.push((await loginFrom(agent, `nobody-${i}-${attempt}`, 'not the password')).status)
        answered.add(i)
      }
    })
    const legitimate = agentAt('127.0.0.250')
    try {
      // (once every flooder has had an answer, so that all of them have failed at least once)
      while (answered.size < FLOODERS) await new Promise((resolve) => setTimeout(resolve, 20))
      const floodBefore = floodStatuses.length
      // When alice logs in five times from another address while the flood goes on
      const results = []
      for (let i = 0; i < 5; i++) results.push(await loginFrom(legitimate, 'alice', PASSWORD))
      const floodDuring = floodStatuses.length - floodBefore
      done = true
      await Promise.all(flood)
      // Then every one of her logins succeeded
      expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200])
      // And the flood was going on meanwhile, refused as wrong passwords or turned away
      expect(floodDuring).toBeGreaterThan(0)
      expect(floodStatuses.filter((s) => s !== 403 && s !== 503)).toEqual([])
    } finally {
      done = true
      await Promise.all([...flooders, legitimate].map((agent) => agent.close()))
    }
  })
})
