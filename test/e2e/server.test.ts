import {execFileSync, spawn} from 'node:child_process'
import {generateKeyPairSync} from 'node:crypto'
import {chmodSync, chownSync, existsSync, readFileSync, renameSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {Agent, request} from 'undici'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {expectOneLineError, tempDir, widIn, WID_BIN} from '../helpers/cli.js'
import {ISSUER_ROLE, WORKLOAD_IDENTITY} from '../helpers/design-documents.js'
import {makeChain, openssl} from '../helpers/openssl.js'
import {inviteFile, startWidServer, within, type WidServer} from '../helpers/server.js'

const PYTHON = '/usr/bin/python3'
const PASSWORD = 'correct horse battery staple'
describe('wid server and remote mode', () => {
  const tmp = tempDir()
  const serverHome = join(tmp.path, 'server')
  const admin = widIn(serverHome)
  const aliceHome = join(tmp.path, 'alice')
  const alice = widIn(aliceHome)
  let server: WidServer
  let pin: string

  const login = async (home: string, user: string, extra: string[] = [], password = PASSWORD) =>
    widIn(home)(['login', '--proxy', `127.0.0.1:${server.port}`, '--user', user, '--ca-pin', pin, '--password-stdin', ...extra], {input: `${password}\n`})

  beforeAll(async () => {
    expect((await admin(['init', '--cluster-name', 'example.org'])).code).toBe(0)
    server = await startWidServer(serverHome)
    expect(server.log()).toMatch(/warning: the public address changed from https:\/\/example\.org to https:\/\/127\.0\.0\.1:\d+: JWT-SVIDs now name/)
    // The admin on the server host works in local mode beside the running server
    expect((await admin(['create', '-f', '-'], {input: `${WORKLOAD_IDENTITY}---\n${ISSUER_ROLE}`})).code).toBe(0)
    const invite = (await admin(['users', 'add', 'alice', '--roles', 'example-workload-identity-issuer'])).stdout.trim()
    pin = JSON.parse((await admin(['status', '--json'])).stdout).hostCaPins[0]
    const loggedIn = await login(aliceHome, 'alice', ['--invite-file', inviteFile(tmp.path, invite)])
    expect(loggedIn.code, loggedIn.stderr).toBe(0)
  })
  afterAll(async () => {
    await server?.stop()
    tmp.cleanup()
  })

  it('DESIGN §1.1: a JWT-SVID from the server verifies with an independent OIDC relying party', async () => {
    // Given alice, logged in, issues a JWT-SVID for AWS STS from the workload identity
    const out = join(tmp.path, 'alice-jwt')
    const issued = await alice(['svid', 'issue', '--name', 'example-workload-identity', '--type', 'jwt', '--audience', 'sts.amazonaws.com', '--output', out])
    expect(issued.code, issued.stderr).toBe(0)
    const token = readFileSync(join(out, 'jwt_svid'), 'utf8')
    // When python3-jwt's PyJWKClient fetches discovery and keys over HTTPS (trusting the host CA)
    writeFileSync(join(tmp.path, 'host-ca.pem'), readFileSync(join(aliceHome, 'profiles', `127.0.0.1_${server.port}`, 'host-ca.pem')))
    const script = `
import json, sys, urllib.request, jwt
discovery = json.load(urllib.request.urlopen(sys.argv[1] + "/workload-identity/.well-known/openid-configuration"))
token = open(sys.argv[2]).read()
unverified = jwt.decode(token, options={"verify_signature": False})
assert discovery["issuer"] == unverified["iss"], (discovery["issuer"], unverified["iss"])
key = jwt.PyJWKClient(discovery["jwks_uri"]).get_signing_key_from_jwt(token)
claims = jwt.decode(token, key.key, algorithms=discovery["id_token_signing_alg_values_supported"], audience="sts.amazonaws.com", issuer=discovery["issuer"])
print(json.dumps({"discovery": discovery, "claims": claims}))
`
    const output = execFileSync(PYTHON, ['-c', script, server.url, join(out, 'jwt_svid')], {encoding: 'utf8', env: {...process.env, SSL_CERT_FILE: join(tmp.path, 'host-ca.pem')}})
    const {discovery, claims} = JSON.parse(output)
    // Then the issuer is the server's public address, and the token verifies
    expect(discovery).toEqual({
      issuer: `${server.url}/workload-identity`,
      jwks_uri: `${server.url}/workload-identity/jwt-jwks.json`,
      claims_supported: ['iss', 'sub', 'aud', 'exp', 'iat', 'jti'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['id_token'],
      subject_types_supported: ['public'],
    })
    expect(claims).toMatchObject({iss: `${server.url}/workload-identity`, sub: 'spiffe://example.org/svc/example-service', aud: 'sts.amazonaws.com'})
    expect(token.split('.')).toHaveLength(3)
  })

  it('serves the SPIFFE bundle whose keys verify an issued X.509-SVID and JWT-SVID, and the thumbprint of its chain', async () => {
    const agent = new Agent({connect: {ca: readFileSync(join(tmp.path, 'host-ca.pem'), 'utf8'), checkServerIdentity: () => undefined}})
    const bundleResponse = await request(`${server.url}/webapi/spiffe/bundle.json`, {dispatcher: agent})
    expect(bundleResponse.statusCode).toBe(200)
    const etag = bundleResponse.headers.etag
    const bundleText = await bundleResponse.body.text()
    const bundle = JSON.parse(bundleText) as {keys: {use: string; x5c?: string[]; kid?: string}[]; spiffe_refresh_hint: number}
    expect(bundle.spiffe_refresh_hint).toBe(300)
    for (const header of [String(etag), `W/${etag}, "other"`, '*']) {
      const again = await request(`${server.url}/webapi/spiffe/bundle.json`, {dispatcher: agent, headers: {'if-none-match': header}})
      expect(again.statusCode).toBe(304)
      await again.body.dump()
    }
    const head = await request(`${server.url}/webapi/spiffe/bundle.json`, {dispatcher: agent, method: 'HEAD'})
    expect(head.headers['content-length']).toBe(String(Buffer.byteLength(bundleText)))
    await head.body.dump()
    const post = await request(`${server.url}/webapi/spiffe/bundle.json`, {dispatcher: agent, method: 'POST'})
    expect(post.statusCode).toBe(405)
    await post.body.dump()
    // X.509: the x509-svid key's certificate verifies a freshly issued SVID with openssl
    const x5c = bundle.keys.find((k) => k.use === 'x509-svid')!.x5c![0]!
    writeFileSync(join(tmp.path, 'bundle-ca.pem'), `-----BEGIN CERTIFICATE-----\n${x5c.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`)
    const out = join(tmp.path, 'alice-x509')
    expect((await alice(['svid', 'issue', '--name', 'example-workload-identity', '--output', out])).code).toBe(0)
    expect(openssl(['verify', '-CAfile', join(tmp.path, 'bundle-ca.pem'), join(out, 'svid.pem')])).toContain(': OK')
    // JWT: the jwt-svid key verifies the JWT-SVID (python3-jwt)
    writeFileSync(join(tmp.path, 'bundle.json'), JSON.stringify(bundle))
    const verified = execFileSync(PYTHON, ['-c', `
import json, sys, jwt
bundle = json.load(open(sys.argv[1])); token = open(sys.argv[2]).read()
kid = jwt.get_unverified_header(token)["kid"]
key = next(k for k in bundle["keys"] if k["use"] == "jwt-svid" and k["kid"] == kid)
jwk = dict(key); jwk.pop("use")
print(jwt.decode(token, jwt.PyJWK(jwk, algorithm="RS256").key, algorithms=["RS256"], audience="sts.amazonaws.com")["sub"])
`, join(tmp.path, 'bundle.json'), join(tmp.path, 'alice-jwt', 'jwt_svid')], {encoding: 'utf8'})
    expect(verified.trim()).toBe('spiffe://example.org/svc/example-service')
    // Thumbprint: SHA-1 of the top certificate of the chain the server presents, as openssl sees it
    const chain = execFileSync('openssl', ['s_client', '-connect', `127.0.0.1:${server.port}`, '-showcerts'], {input: '', encoding: 'utf8', stdio: ['pipe', 'pipe', 'ignore']})
    const presented = chain.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)!
    const fingerprint = openssl(['x509', '-noout', '-fingerprint', '-sha1'], presented.at(-1)! + '\n').split('=')[1]!.trim().replace(/:/g, '').toLowerCase()
    const thumbprint = await request(`${server.url}/webapi/thumbprint`, {dispatcher: agent})
    expect(await thumbprint.body.json()).toBe(fingerprint)
    const find = (await (await request(`${server.url}/webapi/find`, {dispatcher: agent})).body.json()) as {clusterName: string; hostCaPins: string[]}
    expect(find).toMatchObject({clusterName: 'example.org', hostCaPins: [pin]})
    await agent.close()
  })

  describe('refusals', () => {
    const profileDir = () => join(aliceHome, 'profiles', `127.0.0.1_${server.port}`)
    const call = async (connect: object, method = 'status', body = '{}') => {
      const agent = new Agent({connect: {ca: readFileSync(join(profileDir(), 'host-ca.pem'), 'utf8'), checkServerIdentity: () => undefined, ...connect}})
      try {
        const response = await request(`${server.url}/v1/${method}`, {method: 'POST', dispatcher: agent, body, headers: {'content-type': 'application/json'}})
        return {status: response.statusCode, body: (await response.body.json()) as {error?: {message: string}}}
      } finally {
        await agent.close()
      }
    }

    it('no client certificate', async () => {
      const result = await call({})
      expect(result.status).toBe(401)
      expect(result.body.error!.message).toMatch(/a client certificate is required; run wid login/)
    })

    it('a certificate from another CA, an expired one, a tampered one', async () => {
      // a login for one second, made first so that it expires while the other cases run
      const shortHome = join(tmp.path, 'alice-short')
      const invite2 = (await admin(['users', 'add', 'shorty', '--roles', 'access'])).stdout.trim()
      expect((await login(shortHome, 'shorty', ['--invite-file', inviteFile(tmp.path, invite2), '--ttl', '1s'])).code).toBe(0)
      const shortExpires = Date.now() + 2100
      // another cluster's client certificate
      const otherHome = join(tmp.path, 'other-server')
      const other = widIn(otherHome)
      expect((await other(['init', '--cluster-name', 'other.org'])).code).toBe(0)
      const otherServer = await startWidServer(otherHome)
      try {
        const invite = (await other(['users', 'add', 'mallory', '--roles', 'access'])).stdout.trim()
        const otherPin = JSON.parse((await other(['status', '--json'])).stdout).hostCaPins[0]
        const malloryHome = join(tmp.path, 'mallory')
        const loggedIn = await widIn(malloryHome)(['login', '--proxy', `127.0.0.1:${otherServer.port}`, '--user', 'mallory', '--invite-file', inviteFile(tmp.path, invite), '--ca-pin', otherPin, '--password-stdin'], {input: PASSWORD})
        expect(loggedIn.code, loggedIn.stderr).toBe(0)
        const dir = join(malloryHome, 'profiles', `127.0.0.1_${otherServer.port}`)
        const foreign = await call({cert: readFileSync(join(dir, 'cert.pem'), 'utf8'), key: readFileSync(join(dir, 'key.pem'), 'utf8')})
        expect(foreign.status).toBe(401)
        expect(foreign.body.error!.message).toMatch(/not issued by this cluster/)
      } finally {
        await otherServer.stop()
      }
      // an expired one: the one-second login above, once it is past
      await new Promise((r) => setTimeout(r, Math.max(0, shortExpires - Date.now())))
      const shortDir = join(shortHome, 'profiles', `127.0.0.1_${server.port}`)
      const expired = await call({cert: readFileSync(join(shortDir, 'cert.pem'), 'utf8'), key: readFileSync(join(shortDir, 'key.pem'), 'utf8')})
      expect(expired.status).toBe(401)
      expect(expired.body.error!.message).toMatch(/expired; run wid login/)
      expect(expectOneLineError(await widIn(shortHome)(['status']))).toMatch(/your login to 127.0.0.1:\d+ expired .*run wid login/)
      // a tampered one: alice's certificate with a changed name (the signature no longer matches)
      const pem = readFileSync(join(profileDir(), 'cert.pem'), 'utf8')
      const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64')
      const at = der.indexOf(Buffer.from('alice'))
      der.write('mlice', at)
      const tampered = `-----BEGIN CERTIFICATE-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`
      const forged = await call({cert: tampered, key: readFileSync(join(profileDir(), 'key.pem'), 'utf8')})
      expect(forged.status).toBe(401)
      expect(forged.body.error!.message).toMatch(/not issued by this cluster \(cert signature failure\)/)
    })

    it('a user without the role issuing, and without editor creating resources', async () => {
      const bobHome = join(tmp.path, 'bob')
      const invite = (await admin(['users', 'add', 'bob'])).stdout.trim()
      const loggedIn = await login(bobHome, 'bob', ['--invite-file', inviteFile(tmp.path, invite)])
      expect(loggedIn.code, loggedIn.stderr).toBe(0)
      const bob = widIn(bobHome)
      const issue = await bob(['svid', 'issue', '--name', 'example-workload-identity', '--output', join(tmp.path, 'bob-svid')])
      expect(issue.code).toBe(5)
      expect(expectOneLineError(issue)).toMatch(/user "bob" may not use workload identity "example-workload-identity": no role allows read on workload_identity/)
      // the API answers 403 with a structured error, which the CLI prints as one line
      const bobDir = join(bobHome, 'profiles', `127.0.0.1_${server.port}`)
      const bobCert = {cert: readFileSync(join(bobDir, 'cert.pem'), 'utf8'), key: readFileSync(join(bobDir, 'key.pem'), 'utf8')}
      const direct = await call(bobCert, 'getResource', JSON.stringify({kind: 'workload_identity', name: 'example-workload-identity'}))
      expect(direct).toEqual({status: 403, body: {error: {code: 'access_denied', message: 'auth: user "bob" is not allowed to read workload_identity (no role allows it)'}}})
      expect((await call(bobCert, 'noSuchMethod')).status).toBe(404)
      for (const inherited of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) expect((await call(bobCert, inherited)).status).toBe(404)
      expect((await call(bobCert, 'applyResource', JSON.stringify({resource: {kind: 'role', version: 'v7', metadata: {name: 'x'}, spec: {bogus: 1}}, mode: 'create'}))).body.error!.message).toMatch(/spec\.bogus: unknown field/)
      expect((await call(bobCert, 'applyResource', JSON.stringify({resource: 'x', mode: 'create'}))).status).toBe(400)
      expect((await call(bobCert, 'listAudit', JSON.stringify({since: 'garbage'}))).status).toBe(400)
      expect((await call(bobCert, 'exportTrust', JSON.stringify({type: 'bogus'}))).status).toBe(400)
      expect((await call(bobCert, 'status', 'not json')).status).toBe(400)
      expect((await call(bobCert, 'status', '[1, 2]')).body.error!.message).toBe('api: request body must be a JSON object')
      expect((await call(bobCert, 'addUser', JSON.stringify({name: 'x', roles: [], inviteTtlSeconds: 1e20}))).body.error!.message).toBe('api: addUser: inviteTtlSeconds: must be <= 316224000')
      const huge = await call(bobCert, 'status', JSON.stringify({padding: 'x'.repeat(1024 * 1024)}))
      expect(huge).toEqual({status: 413, body: {error: {code: 'bad_input', message: 'api: request body larger than 1 MiB'}}})
      // and the server still answers afterwards
      expect((await call(bobCert, 'status')).status).toBe(200)
      const create = await bob(['create', '-f', '-'], {input: 'kind: role\nversion: v7\nmetadata: {name: sneaky}\nspec: {}\n'})
      expect(create.code).toBe(5)
      expect(expectOneLineError(create)).toMatch(/user "bob" is not allowed to create role \(no role allows it\)/)
      // with editor, the same user may
      const update = await admin(['users', 'update', 'bob', '--add-roles', 'editor'])
      expect(update.code, update.stderr).toBe(0)
      const allowed = await bob(['create', '-f', '-'], {input: 'kind: role\nversion: v7\nmetadata: {name: allowed}\nspec: {}\n'})
      expect(allowed.code, allowed.stderr).toBe(0)
      // but a user document never carries credentials: a planted password hash is dropped
      const {scryptSync, randomBytes} = await import('node:crypto')
      const salt = randomBytes(16)
      const hash = `scrypt$32768$8$1$${salt.toString('base64')}$${scryptSync('planted password!', salt, 32, {N: 32768, r: 8, p: 1, maxmem: 64 * 1024 * 1024}).toString('base64')}`
      const planted = await call(bobCert, 'applyResource', JSON.stringify({resource: {kind: 'user', version: 'v2', metadata: {name: 'evil'}, spec: {roles: ['editor']}, status: {password_hash: hash}}, mode: 'create'}))
      expect(planted.status).toBe(200)
      expect(expectOneLineError(await login(join(tmp.path, 'evil'), 'evil', [], 'planted password!'))).toMatch(/invalid user name or password/)
      // and request label selectors are compared exactly, never as patterns
      const pattern = await widIn(bobHome)(['svid', 'issue', '--labels', 'example=^g.*$', '--output', join(tmp.path, 'pattern')])
      expect(expectOneLineError(pattern)).toMatch(/no workload identity labelled example=\^g\.\*\$ that user "bob" may use/)
    })

    it('a wrong password, the lockout after repeated failures, and a reused invite', async () => {
      const invite = (await admin(['users', 'add', 'carol', '--roles', 'access'])).stdout.trim()
      const carolHome = join(tmp.path, 'carol')
      expect((await login(carolHome, 'carol', ['--invite-file', inviteFile(tmp.path, invite)])).code).toBe(0)
      const reused = await login(join(tmp.path, 'carol2'), 'carol', ['--invite-file', inviteFile(tmp.path, invite)])
      expect(expectOneLineError(reused)).toMatch(/the invite is not valid \(wrong, expired, or already used\)/)
      const wrongOverHttp = await request(`${server.url}/v1/login`, {
        method: 'POST',
        dispatcher: new Agent({connect: {ca: readFileSync(join(profileDir(), 'host-ca.pem'), 'utf8'), checkServerIdentity: () => undefined}}),
        body: JSON.stringify({user: 'carol', password: 'not the password', publicKey: generateKeyPairSync('ec', {namedCurve: 'P-256'}).publicKey.export({type: 'spki', format: 'pem'})}),
      })
      expect(wrongOverHttp.statusCode).toBe(403)
      expect(await wrongOverHttp.body.json()).toEqual({error: {code: 'access_denied', message: 'auth: invalid user name or password'}})
      // a user name that cannot exist (here, with terminal escapes) is refused before any check and never audited
      const forged = await request(`${server.url}/v1/login`, {
        method: 'POST',
        dispatcher: new Agent({connect: {ca: readFileSync(join(profileDir(), 'host-ca.pem'), 'utf8'), checkServerIdentity: () => undefined}}),
        body: JSON.stringify({user: 'x\u001b[2J\nadmin:root  user.login', password: 'whatever', publicKey: generateKeyPairSync('ec', {namedCurve: 'P-256'}).publicKey.export({type: 'spki', format: 'pem'})}),
      })
      expect(forged.statusCode).toBe(403)
      await forged.body.dump()
      const listed = (await admin(['audit', 'ls', '--type', 'user.login_failed'])).stdout
      expect(listed).not.toContain('admin:root')
      expect(listed).not.toContain('\u001b')
      // (the reused invite above counts against the address only: an invite is not guessable)
      for (let i = 0; i < 4; i++) {
        expect(expectOneLineError(await login(join(tmp.path, 'carol3'), 'carol', [], 'not the password'))).toMatch(/invalid user name or password/)
      }
      expect(expectOneLineError(await login(join(tmp.path, 'carol3'), 'carol', [], PASSWORD))).toMatch(/too many failed logins; try again in \d+ min/)
    })
  })

  it('refuses the logins of a user that was deleted and created again, until it logs in again', async () => {
    // Given gina, logged in
    const ginaHome = join(tmp.path, 'gina')
    const gina = widIn(ginaHome)
    const first = (await admin(['users', 'add', 'gina', '--roles', 'access'])).stdout.trim()
    expect((await login(ginaHome, 'gina', ['--invite-file', inviteFile(tmp.path, first)])).code).toBe(0)
    expect((await gina(['status'])).code).toBe(0)
    // When an admin removes gina and adds a new user of the same name
    expect((await admin(['users', 'rm', 'gina'])).code).toBe(0)
    const second = (await admin(['users', 'add', 'gina', '--roles', 'access'])).stdout.trim()
    // Then the old login is refused with advice, although its certificate has not expired
    const stale = await gina(['get', 'role/access'])
    expect(stale.code).toBe(5)
    expect(expectOneLineError(stale)).toMatch(/user "gina" was reset, or removed and added again, since this login; run wid login/)
    // And after a new login (with the new invite) gina is gina again: the same request now
    // gets as far as the access rules, which do not let the access role read roles
    expect((await login(ginaHome, 'gina', ['--invite-file', inviteFile(tmp.path, second)])).code).toBe(0)
    expect(expectOneLineError(await gina(['get', 'role/access']))).toMatch(/user "gina" is not allowed to read role/)
  })

  it('a restart keeps the CA, resources and users, and clients keep working without a new login', async () => {
    const before = JSON.parse((await alice(['status', '--json'])).stdout)
    expect(await server.stop()).toBe(0)
    server = await startWidServer(serverHome, server.port)
    const after = JSON.parse((await alice(['status', '--json'])).stdout)
    expect(after.caPins).toEqual(before.caPins)
    expect(after.hostCaPins).toEqual(before.hostCaPins)
    expect((await alice(['get', 'workload_identity/example-workload-identity', '--format', 'json'])).code).toBe(0)
    const issued = await alice(['svid', 'issue', '--name', 'example-workload-identity', '--output', join(tmp.path, 'after-restart')])
    expect(issued.code, issued.stderr).toBe(0)
    // failed logins are counted in the store: carol, locked out before the restart, still is
    const carol = await login(join(tmp.path, 'carol4'), 'carol')
    expect(expectOneLineError(carol)).toMatch(/too many failed logins; try again in \d+ min/)
  })

  it('users reset lets a locked-out user in again with a new invite; failed logins are audited; status shows the roles held now', async () => {
    // Given carol, locked out by failed logins (before the restart above)
    const carolHome = join(tmp.path, 'carol5')
    expect(expectOneLineError(await login(carolHome, 'carol'))).toMatch(/too many failed logins/)
    // Then each refused password is in the audit log, with the client address as actor and the reason
    const failed = JSON.parse((await admin(['audit', 'ls', '--type', 'user.login_failed', '--json'])).stdout) as {actor: string; name: string; reason: string}[]
    expect(failed.filter((e) => e.name === 'carol').length).toBeGreaterThanOrEqual(4)
    expect(failed).toContainEqual(expect.objectContaining({name: 'carol', actor: 'address:127.0.0.1', reason: 'auth: invalid user name or password'}))
    // (refusals by the throttle itself are not recorded one by one: nothing limits how many a client causes)
    expect(failed.some((e) => /too many failed logins/.test(e.reason))).toBe(false)
    // When an admin resets her
    const reset = await admin(['users', 'reset', 'carol'])
    expect(reset.code, reset.stderr).toBe(0)
    expect(reset.stderr).toMatch(/user "carol" has been reset: the password is cleared and current logins are refused/)
    // And someone who keeps guessing her password locks her out again (the old password no longer works)
    for (let i = 0; i < 5; i++) expect(expectOneLineError(await login(join(tmp.path, 'carol6'), 'carol'))).toMatch(/invalid user name or password/)
    expect(expectOneLineError(await login(join(tmp.path, 'carol6'), 'carol'))).toMatch(/too many failed logins/)
    // Then she still sets a new password with the new invite, which counts against her address only
    const redeemed = await login(carolHome, 'carol', ['--invite-file', inviteFile(tmp.path, reset.stdout.trim())], 'a brand new password')
    expect(redeemed.code, redeemed.stderr).toBe(0)
    expect((await admin(['audit', 'ls', '--type', 'user.reset', '--json'])).stdout).toContain('"name": "carol"')
    // And wid status shows the roles she holds now, not those of her login
    expect((await admin(['users', 'update', 'carol', '--add-roles', 'editor'])).code).toBe(0)
    expect(JSON.parse((await widIn(carolHome)(['status', '--json'])).stdout).login.roles).toEqual(['access', 'editor'])
    expect((await widIn(carolHome)(['status'])).stdout).toMatch(/Backend: +sqlite \(on the server\)/)
    // And a user that does not exist cannot be reset
    const unknown = await admin(['users', 'reset', 'nobody'])
    expect([unknown.code, expectOneLineError(unknown)]).toEqual([3, 'user "nobody" not found'])
  })

  it('SIGKILL during 200 concurrent issuances: after a restart, every acknowledged issuance is in the audit log', async () => {
    const dir = join(aliceHome, 'profiles', `127.0.0.1_${server.port}`)
    const agent = new Agent({
      connections: 32,
      connect: {ca: readFileSync(join(dir, 'host-ca.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8'), key: readFileSync(join(dir, 'key.pem'), 'utf8'), checkServerIdentity: () => undefined},
    })
    const publicKey = generateKeyPairSync('ec', {namedCurve: 'P-256'}).publicKey.export({type: 'spki', format: 'pem'}) as string
    const acknowledged: string[] = []
    const attempts = Array.from({length: 200}, async () => {
      try {
        const response = await request(`${server.url}/v1/issueX509Svid`, {
          method: 'POST',
          dispatcher: agent,
          headers: {'content-type': 'application/json'},
          body: JSON.stringify({name: 'example-workload-identity', publicKey}),
        })
        const body = (await response.body.json()) as {result?: {serial: string}}
        if (response.statusCode === 200 && body.result) acknowledged.push(body.result.serial)
      } catch {
        // cut off by the kill
      }
    })
    // kill the server once some, but not all, have been answered
    while (acknowledged.length < 20) await new Promise((r) => setTimeout(r, 5))
    server.child.kill('SIGKILL')
    await Promise.all(attempts)
    await agent.close()
    await server.stop()
    expect(acknowledged.length).toBeGreaterThanOrEqual(20)
    server = await startWidServer(serverHome, server.port)
    const audit = JSON.parse((await admin(['audit', 'ls', '--type', 'svid.issued', '--json'])).stdout) as {serial: string}[]
    const logged = new Set(audit.map((e) => e.serial))
    for (const serial of acknowledged) expect(logged.has(serial), `serial ${serial} acknowledged but not audited`).toBe(true)
    expect((await alice(['status'])).code).toBe(0)
  })

  it('--local uses the embedded cluster while logged in, once wid init made one; logout forgets the login', async () => {
    expect(expectOneLineError(await alice(['status', '--local']))).toMatch(/^not a local cluster: .* is logged in to 127\.0\.0\.1:\d+ \(drop --local/)
    expect((await alice(['init'])).code).toBe(0)
    const local = await alice(['status', '--local', '--json'])
    expect(JSON.parse(local.stdout).mode).toBe('local')
    expect(expectOneLineError(await alice(['svid', 'issue', '--as', 'user/alice', '--name', 'x', '--output', join(tmp.path, 'x')]))).toMatch(/--as rehearses access in local mode only/)
    const out = await alice(['logout'])
    expect(out.code).toBe(0)
    expect(JSON.parse((await alice(['status', '--json'])).stdout).mode).toBe('local')
    // a hostile current-profile never makes logout delete anything but itself
    writeFileSync(join(aliceHome, 'current-profile'), '..\n')
    expect((await alice(['logout'])).code).toBe(0)
    expect((await alice(['status', '--local'])).code).toBe(0)
    expect(readFileSync(join(aliceHome, 'wid.db')).length).toBeGreaterThan(0)
  })

  it('on a terminal, login asks to trust the pin and for the password', async () => {
    // Given a person at a terminal (script(1) gives wid a real one) who answers the questions
    const invite = (await admin(['users', 'add', 'dave', '--roles', 'access'])).stdout.trim()
    const daveHome = join(tmp.path, 'dave')
    const command = `${process.execPath} ${WID_BIN} login --proxy 127.0.0.1:${server.port} --user dave --invite`
    const terminal = spawn('script', ['-qec', command, '/dev/null'], {env: {...process.env, WID_HOME: daveHome}, stdio: ['pipe', 'pipe', 'inherit']})
    let screen = ''
    terminal.stdout.on('data', (d) => (screen += d))
    const closed = new Promise((resolve) => terminal.on('close', resolve))
    // the text without escapes and without spaces (the prompt wraps its lines to the terminal's width)
    // eslint-disable-next-line no-control-regex
    const shown = () => screen.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '').replace(/\s+/g, '')
    // each answer is typed once its question is on the screen: the prompt is in raw mode by then
    // (typed earlier, the terminal would echo it), and no fixed pause has to cover a slow start
    for (const [question, answer] of [['Trustit?', 'y'], ['Invite', invite], ['Chooseapassword', PASSWORD], ['Repeatit', PASSWORD]] as const) {
      await within(20, () => shown().includes(question), () => screen)
      terminal.stdin.write(`${answer}\r`)
    }
    await closed
    terminal.stdin.end()
    // Then it showed the pin, asked for the invite and the password masked, and logged in
    const text = shown()
    expect(text).toContain(pin)
    expect(text).toContain('Invite')
    expect(text).not.toContain(invite)
    expect(text).not.toContain(PASSWORD.replace(/\s+/g, ''))
    expect(JSON.parse((await widIn(daveHome)(['status', '--json'])).stdout).login).toMatchObject({user: 'dave', roles: ['access']})
  })

  it('an invite is never on the command line: --invite VALUE is refused without showing it, --invite-file reads it, and the audit log has the address', async () => {
    // Given a new user's invite
    const invite = (await admin(['users', 'add', 'ivan', '--roles', 'access'])).stdout.trim()
    const ivanHome = join(tmp.path, 'ivan')
    // When it is given the old way, as the value of --invite (where ps shows it to every user of the host)
    // (these refusals run at once: each is refused as bad input before the login stores or sends anything)
    const empty = join(tmp.path, 'empty-invite')
    writeFileSync(empty, '\n')
    const [asValue, asValueEquals, noTerminal, dash, missing, emptied] = await Promise.all(
      [['--invite', invite], [`--invite=${invite}`], ['--invite'], ['--invite-file', '-'], ['--invite-file', join(tmp.path, 'no-such-invite')], ['--invite-file', empty]].map((given) => login(ivanHome, 'ivan', given)),
    )
    for (const refused of [asValue!, asValueEquals!]) {
      // Then the login is refused as bad input, with what to do instead, and the invite is not echoed
      expect(refused.code).toBe(2)
      expect(expectOneLineError(refused)).toMatch(/^login: --invite takes no value: a command line is visible to every user of this host \(ps\); type the invite at the prompt of --invite, or give --invite-file PATH/)
      expect(refused.stderr + refused.stdout).not.toContain(invite)
    }
    // And --invite without a terminal, and --invite-file - (stdin carries the password), are refused with advice
    expect([noTerminal!.code, expectOneLineError(noTerminal!)]).toEqual([2, 'login: --invite asks for the invite on a terminal; without one, give --invite-file PATH'])
    expect([dash!.code, expectOneLineError(dash!)]).toEqual([2, 'login: --invite-file cannot be - (standard input carries the password); give the path of a file'])
    expect([missing!.code, expectOneLineError(missing!)]).toEqual([2, `login: the invite file ${join(tmp.path, 'no-such-invite')} does not exist`])
    expect(expectOneLineError(emptied!)).toBe(`login: the invite file ${empty} is empty`)
    // When ivan logs in with --invite-file (the file's first line, trimmed)
    const file = join(tmp.path, 'ivan-invite')
    writeFileSync(file, `  ${invite}  \nignored second line\n`, {mode: 0o600})
    const argv = ['--invite-file', file]
    const loggedIn = await login(ivanHome, 'ivan', argv)
    // Then it works, and the invite was nowhere in the process's command line
    expect(loggedIn.code, loggedIn.stderr).toBe(0)
    expect(argv.join(' ')).not.toContain(invite)
    // And the audit log records from which address the invite was redeemed and the login made
    const events = JSON.parse((await admin(['audit', 'ls', '--json'])).stdout) as {type: string; name: string; address?: string}[]
    const ivans = events.filter((e) => e.name === 'ivan' && e.type !== 'resource.created')
    expect(ivans).toHaveLength(2)
    expect(ivans).toEqual(expect.arrayContaining([
      expect.objectContaining({type: 'user.invite_redeemed', actor: 'user:ivan', address: '127.0.0.1'}),
      expect.objectContaining({type: 'user.login', actor: 'user:ivan', address: '127.0.0.1'}),
    ]))
    expect((await admin(['audit', 'ls', '--type', 'user.login'])).stdout).toMatch(/user:ivan +user ivan \(from 127\.0\.0\.1\)/)
    // And a script may hand the invite over through bash's process substitution (printf is a builtin: in no command line)
    const irisInvite = (await admin(['users', 'add', 'iris', '--roles', 'access'])).stdout.trim()
    const script = `printf '%s\\n' "$PASSWORD" | ${process.execPath} ${WID_BIN} login --proxy 127.0.0.1:${server.port} --user iris --ca-pin ${pin} --password-stdin --invite-file <(printf '%s\\n' "$INVITE")`
    execFileSync('bash', ['-c', script], {env: {...process.env, WID_HOME: join(tmp.path, 'iris'), PASSWORD, INVITE: irisInvite}})
    expect(JSON.parse((await widIn(join(tmp.path, 'iris'))(['status', '--json'])).stdout).login).toMatchObject({user: 'iris'})
  })

  it('login refuses a wrong pin, and needs --ca-pin and --password-stdin without a terminal', async () => {
    const eve = widIn(join(tmp.path, 'eve'))
    const proxy = `127.0.0.1:${server.port}`
    // a port that answers something other than TLS
    const {createServer} = await import('node:http')
    const plain = createServer((_req, res) => res.end('not TLS'))
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve))
    try {
      const plainPort = (plain.address() as {port: number}).port
      // (all at once: each is refused before it stores anything, and the one login has a home of its own)
      const [wrong, noPin, noPassword, upper, bare, portZero, notTls] = await Promise.all([
        eve(['login', '--proxy', proxy, '--user', 'alice', '--ca-pin', `sha256:${'0'.repeat(64)}`, '--password-stdin'], {input: PASSWORD}),
        eve(['login', '--proxy', proxy, '--user', 'alice', '--password-stdin']),
        eve(['login', '--proxy', proxy, '--user', 'alice', '--ca-pin', pin]),
        // a pin written in capitals is the same pin
        widIn(join(tmp.path, 'alice-upper'))(['login', '--proxy', proxy, '--user', 'alice', '--ca-pin', pin.toUpperCase(), '--password-stdin'], {input: `${PASSWORD}\n`}),
        eve(['login']),
        eve(['login', '--proxy', '127.0.0.1:0', '--user', 'alice']),
        eve(['login', '--proxy', `127.0.0.1:${plainPort}`, '--user', 'alice', '--ca-pin', pin, '--password-stdin'], {input: PASSWORD}),
      ])
      expect(expectOneLineError(wrong)).toMatch(/presents CA sha256:[0-9a-f]{64}, not the pinned sha256:0+; refusing to send a password/)
      expect(expectOneLineError(noPin)).toMatch(/--ca-pin is required without a terminal/)
      expect(expectOneLineError(noPassword)).toMatch(/--password-stdin is required without a terminal/)
      expect(upper.code, upper.stderr).toBe(0)
      // no flags at all: both missing ones are named
      expect(expectOneLineError(bare)).toBe('missing required flags --proxy, --user')
      // port 0, and the port that does not speak TLS
      expect(expectOneLineError(portZero)).toMatch(/invalid --proxy "127\.0\.0\.1:0" \(expected HOST\[:PORT\], a port from 1 to 65535\)/)
      expect(expectOneLineError(notTls)).toMatch(/cannot reach 127\.0\.0\.1:\d+: it does not speak TLS on that port \(is it the wid server's HTTPS port\?\)/)
    } finally {
      plain.close()
    }
  })

  it('a later login reuses the pin trusted the first time, and refuses a server that presents another CA', async () => {
    // Given alice, who logged in once with --ca-pin: logging in again needs no pin
    const home = join(tmp.path, 'alice-again')
    const again = widIn(home)
    expect((await login(home, 'alice')).code).toBe(0)
    const second = await again(['login', '--proxy', `127.0.0.1:${server.port}`, '--user', 'alice', '--password-stdin'], {input: `${PASSWORD}\n`})
    expect(second.code, second.stderr).toBe(0)
    // When the pin she trusted no longer matches what the server presents (as if its CA were replaced)
    const profileJson = join(home, 'profiles', `127.0.0.1_${server.port}`, 'profile.json')
    const saved = readFileSync(profileJson, 'utf8')
    writeFileSync(profileJson, saved.replace(pin, `sha256:${'1'.repeat(64)}`))
    // Then the login refuses to send the password, saying what to do if the change is real
    const changed = await again(['login', '--proxy', `127.0.0.1:${server.port}`, '--user', 'alice', '--password-stdin'], {input: `${PASSWORD}\n`})
    expect(expectOneLineError(changed)).toMatch(/presents CA sha256:[0-9a-f]{64}, not the one trusted at your last login sha256:1{64}; refusing to send a password to it; if its CA really changed, log in with the new --ca-pin/)
    // And logging in with the right --ca-pin trusts it again
    expect((await login(home, 'alice')).code).toBe(0)
    expect(JSON.parse(readFileSync(profileJson, 'utf8')).caPin).toBe(pin)
  })

  it('refuses a login kept where others may change it, and a private key others may read, as ssh does', async () => {
    // Given alice's login in a WID_HOME of its own
    const home = join(tmp.path, 'alice-loose')
    expect((await login(home, 'alice')).code).toBe(0)
    const profiles = join(home, 'profiles')
    const dir = join(profiles, `127.0.0.1_${server.port}`)
    const file = (name: string) => join(dir, name)
    const cases: [string, number, string][] = [
      [profiles, 0o777, `login: ${profiles} is writable by others (mode 0777); chmod go-w ${profiles}, or choose another directory`],
      [dir, 0o777, `login: ${dir} is writable by others (mode 0777); chmod go-w ${dir}, or choose another directory`],
      [file('key.pem'), 0o666, `login: the private key ${file('key.pem')} is readable or writable by group or others (mode 0666); chmod 600 ${file('key.pem')}, or log in again`],
      [file('key.pem'), 0o640, `login: the private key ${file('key.pem')} is readable or writable by group or others (mode 0640); chmod 600 ${file('key.pem')}, or log in again`],
      [file('host-ca.pem'), 0o666, `login: ${file('host-ca.pem')} is writable by group or others (mode 0666); chmod go-w ${file('host-ca.pem')}, or log in again`],
      [file('profile.json'), 0o622, `login: ${file('profile.json')} is writable by group or others (mode 0622); chmod go-w ${file('profile.json')}, or log in again`],
    ]
    for (const [path, mode, message] of cases) {
      // When one of its directories or files is opened to other users
      const before = statSync(path).mode & 0o7777
      chmodSync(path, mode)
      // Then commands that use the login refuse it as bad input, before sending anything (the two
      // run at once: each only reads the profile)
      const commands = [['status'], ['svid', 'issue', '--name', 'example-workload-identity', '--output', join(tmp.path, 'loose-svid')]]
      const results = await Promise.all(commands.map((args) => widIn(home)(args)))
      for (const [i, result] of results.entries()) {
        expect(expectOneLineError(result), `${path} ${commands[i]![0]}`).toBe(message)
        expect(result.code).toBe(2)
      }
      chmodSync(path, before)
    }
    expect(existsSync(join(tmp.path, 'loose-svid'))).toBe(false)
    // And a file of the profile that belongs to another user, or is not a regular file, is refused too
    chownSync(file('host-ca.pem'), 65534, 65534)
    expect(expectOneLineError(await widIn(home)(['status']))).toBe(`login: ${file('host-ca.pem')} is owned by another user (uid 65534); log in again`)
    chownSync(file('host-ca.pem'), 0, 0)
    renameSync(file('cert.pem'), file('cert.real'))
    symlinkSync(file('cert.real'), file('cert.pem'))
    expect(expectOneLineError(await widIn(home)(['status']))).toBe(`login: ${file('cert.pem')} is a symlink, not a regular file; log in again`)
    renameSync(file('cert.real'), file('cert.pem'))
    // And a later login does not trust the pin kept in a loose profile directory
    chmodSync(dir, 0o777)
    const again = await widIn(home)(['login', '--proxy', `127.0.0.1:${server.port}`, '--user', 'alice', '--password-stdin'], {input: `${PASSWORD}\n`})
    expect([again.code, expectOneLineError(again)]).toEqual([2, `login: ${dir} is writable by others (mode 0777); chmod go-w ${dir}, or choose another directory`])
    chmodSync(dir, 0o700)
    // And with everything private again, the login works
    expect((await widIn(home)(['status'])).code).toBe(0)
  })

  it('serves a certificate chain from another CA (--tls-cert), which wid login pins at its top', async () => {
    // Given a chain as public CAs issue it: leaf + intermediate, the root kept elsewhere
    const {chain, leafKey} = makeChain(join(tmp.path, 'pki'), 'wid.example.org')
    const home = join(tmp.path, 'pki-server')
    const owner = widIn(home)
    expect((await owner(['init', '--cluster-name', 'pki.example'])).code).toBe(0)
    const invite = (await owner(['users', 'add', 'erin', '--roles', 'access'])).stdout.trim()
    const pkiServer = await startWidServer(home, undefined, ['--tls-cert', chain, '--tls-key', leafKey])
    try {
      // When erin pins what the server printed at start-up
      const printed = /--ca-pin (sha256:[0-9a-f]{64})/.exec(pkiServer.log())![1]!
      const erinHome = join(tmp.path, 'erin')
      const loggedIn = await widIn(erinHome)(['login', '--proxy', `127.0.0.1:${pkiServer.port}`, '--user', 'erin', '--invite-file', inviteFile(tmp.path, invite), '--ca-pin', printed, '--password-stdin'], {input: PASSWORD})
      // Then login and remote calls work over the partial chain
      expect(loggedIn.code, loggedIn.stderr).toBe(0)
      expect(JSON.parse((await widIn(erinHome)(['status', '--json'])).stdout).clusterName).toBe('pki.example')
    } finally {
      await pkiServer.stop()
    }
    // And mismatched material is refused with one line naming the files
    const mismatched = await owner(['server', 'start', '--listen', '127.0.0.1:0', '--tls-cert', chain, '--tls-key', join(tmp.path, 'pki', 'int.key')])
    expect(mismatched.code).toBe(2)
    expect(expectOneLineError(mismatched)).toMatch(/cannot use .*chain\.pem with .*int\.key/)
  })

  it('the server refuses a bad configuration file with its line', async () => {
    const config = join(tmp.path, 'wid.yaml')
    writeFileSync(config, 'listen: 127.0.0.1:0\npublic_adr: https://x.example\n')
    const result = await widIn(join(tmp.path, 'cfg-home'))(['server', 'start', '-c', config])
    expect(expectOneLineError(result)).toMatch(/wid\.yaml:2:1: public_adr: unknown field \(allowed: listen, public_addr, data_dir, storage, tls, join, log, diag_addr\)/)
    writeFileSync(config, '- listen: 127.0.0.1:0\n')
    expect(expectOneLineError(await widIn(join(tmp.path, 'cfg-home'))(['server', 'start', '-c', config]))).toMatch(/wid\.yaml:1:1: the document: must be a mapping$/)
    const directory = await widIn(join(tmp.path, 'cfg-home'))(['server', 'start', '-c', tmp.path])
    expect(expectOneLineError(directory)).toMatch(/server: cannot read .*: it is a directory \(give the YAML file\)$/)
  })
})
