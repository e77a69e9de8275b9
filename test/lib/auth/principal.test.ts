/** Who is calling (src/lib/auth/principal.ts), and the names users may not take. */
import {beforeAll, describe, expect, it} from 'vitest'
import {AuthServer, type Caller} from '../../../src/lib/auth/auth-server.js'
import {initializeCluster} from '../../../src/lib/auth/init.js'
import {resolvePrincipal} from '../../../src/lib/auth/principal.js'
import {MemoryBackend} from '../../../src/lib/backend/memory.js'
import type {Bot, User} from '../../../src/lib/resources/types.js'
import {putResource} from '../../../src/lib/services/resources.js'
import {rejection} from '../../helpers/errors.js'

const admin: Caller = {kind: 'admin', name: 'root'}
const NOW = new Date('2026-11-23T10:00:00Z')
const RESERVED =
  'metadata.name: names starting with "bot-", in any case, are reserved for bots (the bot NAME is user.name "bot-NAME" in roles and templates, and DNS names ignore case); choose another name'

describe('user names starting with "bot-" are reserved for bots', () => {
  const backend = new MemoryBackend()
  let auth: AuthServer

  beforeAll(async () => {
    await initializeCluster(backend, {clusterName: 'example.org', defaultClusterName: 'unused', now: NOW})
    // A user bot-deployer stored before the names were reserved, and the bot deployer
    const user: User = {kind: 'user', version: 'v2', metadata: {name: 'bot-deployer'}, spec: {roles: ['access']}, status: {login_id: ''}}
    const upper: User = {kind: 'user', version: 'v2', metadata: {name: 'BOT-ci'}, spec: {roles: ['access']}, status: {login_id: ''}}
    const bot: Bot = {kind: 'bot', version: 'v1', metadata: {name: 'deployer'}, spec: {roles: ['access']}}
    await backend.atomicWrite([], [putResource(user), putResource(upper), putResource(bot)])
    auth = await AuthServer.open(backend, () => NOW)
  })

  it('refuses to add such a user (wid users add)', async () => {
    // When the admin adds a user named bot-builder
    const error = await rejection(auth.addUser(admin, {name: 'bot-builder', roles: [], inviteTtlSeconds: 3600}))
    // Then it is bad input, saying why and what to do
    expect([error.code, error.message]).toEqual(['bad_input', RESERVED])
  })

  it('refuses to create such a user from a document (wid create -f)', async () => {
    // When the admin applies a user document named bot-builder
    const error = await rejection(auth.applyResource(admin, {kind: 'user', version: 'v2', metadata: {name: 'bot-builder'}, spec: {roles: []}}, 'create'))
    // Then it is the same refusal
    expect([error.code, error.message]).toEqual(['bad_input', RESERVED])
  })

  it.each(['BOT-ci', 'Bot-ci', 'bOt-ci'])('refuses %j too: the DNS SAN {{ user.name }}.callers.internal of the bot ci is bot-ci.callers.internal', async (name) => {
    // When the admin adds the user, or applies a document naming it
    const added = await rejection(auth.addUser(admin, {name, roles: [], inviteTtlSeconds: 3600}))
    const applied = await rejection(auth.applyResource(admin, {kind: 'user', version: 'v2', metadata: {name}, spec: {roles: []}}, 'create'))
    // Then both are refused as a name reserved for bots
    expect([added.code, added.message]).toEqual(['bad_input', RESERVED])
    expect([applied.code, applied.message]).toEqual(['bad_input', RESERVED])
  })

  it('refuses a stored user whose name starts with "bot-" in another case as a caller', async () => {
    // When the stored user BOT-ci calls
    const error = await rejection(resolvePrincipal(backend, {kind: 'user', name: 'BOT-ci'}))
    // Then it is refused, naming the bot whose user.name it would pass for
    expect([error.code, error.message]).toEqual([
      'access_denied',
      'auth: user "BOT-ci" is refused: user names starting with "bot-", in any case, are reserved for bots, and the bot "ci" is user.name "bot-ci"; remove the user (wid users rm BOT-ci) and add it under another name',
    ])
  })

  it('refuses a stored user of such a name as a caller, and still resolves the bot', async () => {
    // When the stored user bot-deployer calls
    const error = await rejection(resolvePrincipal(backend, {kind: 'user', name: 'bot-deployer'}))
    // Then it is refused: its user.name would be the bot's
    expect([error.code, error.message]).toEqual([
      'access_denied',
      'auth: user "bot-deployer" is refused: user names starting with "bot-", in any case, are reserved for bots, and the bot "deployer" is user.name "bot-deployer"; remove the user (wid users rm bot-deployer) and add it under another name',
    ])
    // And the bot deployer is user.name bot-deployer, unambiguously
    expect((await resolvePrincipal(backend, {kind: 'bot', name: 'deployer'})).attributes.user).toMatchObject({name: 'bot-deployer', is_bot: true, bot_name: 'deployer'})
  })
})
