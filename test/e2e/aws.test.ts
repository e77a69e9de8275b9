import {execFileSync} from 'node:child_process'
import {createServer, type IncomingMessage, type Server} from 'node:http'
import {createServer as createTlsServer} from 'node:https'
import {createHash} from 'node:crypto'
import {chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import type {AddressInfo} from 'node:net'
import {basename, join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {expectOneLineError, tempDir, widIn} from '../helpers/cli.js'
import {INTEGRATION} from '../helpers/design-documents.js'
import {makeChain, openssl} from '../helpers/openssl.js'

const ROLE_ARN = 'arn:aws:iam::123456789012:role/s3-reader'
const PROFILE_ARN = 'arn:aws:rolesanywhere:us-east-1:123456789012:profile/0d5c2b61-9a3e-4e1a-8f3c-1f2e3d4c5b6a'
const TRUST_ANCHOR_ARN = 'arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/6f3a9e1c-2b4d-4c8e-9f1a-7b6c5d4e3f2a'
const EXPIRES = () => new Date(Date.now() + 3600_000).toISOString()

interface Recorded {
  method: string
  url: string
  headers: IncomingMessage['headers']
  body: string
}

/** A local stand-in for AWS (HTTPS when given a key and certificate): records each request and answers with `respond`. */
async function fakeAws(respond: (request: Recorded) => {status: number; type: string; body: string} | undefined, tls?: {key: string; cert: string}) {
  const requests: Recorded[] = []
  const handler = (req: IncomingMessage, res: import('node:http').ServerResponse) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      const recorded = {method: req.method!, url: req.url!, headers: req.headers, body}
      requests.push(recorded)
      const answer = respond(recorded)
      if (!answer) return // never answer: a hanging endpoint
      res.writeHead(answer.status, {'content-type': answer.type}).end(answer.body)
    })
  }
  const server: Server = tls ? createTlsServer(tls, handler) : createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {url: `${tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, close: () => {
      server.closeAllConnections()
      server.close()
    }}
}

const stsCredentials = () => `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <Credentials>
      <AccessKeyId>ASIAWIDTEST</AccessKeyId>
      <SecretAccessKey>secret/with+chars&amp;more</SecretAccessKey>
      <SessionToken>token-from-sts</SessionToken>
      <Expiration>${EXPIRES()}</Expiration>
    </Credentials>
    <SubjectFromWebIdentityToken>spiffe://example.org/svc/example-service</SubjectFromWebIdentityToken>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>1</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>`

const stsError = (code: string, message: string) =>
  `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>2</RequestId></ErrorResponse>`

describe('AWS', () => {
  const tmp = tempDir()
  const home = join(tmp.path, 'home')
  const wid = widIn(home)
  const svid = join(tmp.path, 'svid')
  const emptyCredentials = join(tmp.path, 'credentials')

  beforeAll(async () => {
    writeFileSync(emptyCredentials, '')
    expect((await wid(['init', '--cluster-name', 'example.org', '--public-addr', 'https://wid.example.org'])).code).toBe(0)
    const jwt = await wid(['svid', 'issue', '--type', 'jwt', '--audience', 'sts.amazonaws.com', '--output', svid, '/svc/example-service'])
    expect(jwt.code, jwt.stderr).toBe(0)
    const x509 = await wid(['svid', 'issue', '--output', svid, '--svid-ttl', '8h', '/svc/example-service'])
    expect(x509.code, x509.stderr).toBe(0)
  })
  afterAll(() => tmp.cleanup())

  it('the AWS SDK resolves a web-identity profile written by wid aws profile, sending exactly our token and role', async () => {
    // Given a local STS and a profile for the JWT-SVID
    const sts = await fakeAws(() => ({status: 200, type: 'text/xml', body: stsCredentials()}))
    const config = join(tmp.path, 'config-oidc')
    const written = await wid(['aws', 'profile', 'web', '--role-arn', ROLE_ARN, '--svid-dir', svid, '--session-name', 'wid-test', '--config-file', config])
    expect(written.code, written.stderr).toBe(0)
    expect(readFileSync(config, 'utf8')).toBe(`[profile web]\nrole_arn = ${ROLE_ARN}\nweb_identity_token_file = ${join(svid, 'jwt_svid')}\nrole_session_name = wid-test\n`)
    expect(statSync(config).mode & 0o777).toBe(0o600)
    // (the SDK reaches STS through the endpoint override that AWS documents for all its SDKs)
    process.env.AWS_ENDPOINT_URL_STS = sts.url
    try {
      // When the SDK resolves the profile
      const {fromIni} = await import('@aws-sdk/credential-providers')
      const credentials = await fromIni({profile: 'web', configFilepath: config, filepath: emptyCredentials, clientConfig: {region: 'us-east-1'}})()
      // Then it used our token and role, and got the credentials
      expect(credentials).toMatchObject({accessKeyId: 'ASIAWIDTEST', secretAccessKey: 'secret/with+chars&more', sessionToken: 'token-from-sts'})
      expect(sts.requests).toHaveLength(1)
      const form = new URLSearchParams(sts.requests[0]!.body)
      expect(form.get('Action')).toBe('AssumeRoleWithWebIdentity')
      expect(form.get('RoleArn')).toBe(ROLE_ARN)
      expect(form.get('RoleSessionName')).toBe('wid-test')
      expect(form.get('WebIdentityToken')).toBe(readFileSync(join(svid, 'jwt_svid'), 'utf8'))
    } finally {
      delete process.env.AWS_ENDPOINT_URL_STS
      sts.close()
    }
  })

  it('the AWS SDK runs the credential_process profile, which signs a Roles Anywhere CreateSession with the X.509-SVID', async () => {
    // Given a local HTTPS Roles Anywhere (wid trusts its certificate through NODE_EXTRA_CA_CERTS, as for any private CA)
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ra.key', '-out', 'ra.pem', '-subj', '/CN=127.0.0.1', '-days', '1', '-addext', 'subjectAltName=IP:127.0.0.1'], {cwd: tmp.path, stdio: 'pipe'})
    const tls = {key: readFileSync(join(tmp.path, 'ra.key'), 'utf8'), cert: readFileSync(join(tmp.path, 'ra.pem'), 'utf8')}
    process.env.NODE_EXTRA_CA_CERTS = join(tmp.path, 'ra.pem')
    const ra = await fakeAws(() => ({
      status: 201,
      type: 'application/json',
      body: JSON.stringify({credentialSet: [{credentials: {accessKeyId: 'ASIARA', secretAccessKey: 'ra-secret', sessionToken: 'ra-token', expiration: EXPIRES()}}]}),
    }), tls)
    const config = join(tmp.path, 'config-ra')
    try {
      const written = await wid([
        'aws', 'profile', 'ra', '--roles-anywhere', '--svid-dir', svid, '--profile-arn', PROFILE_ARN, '--trust-anchor-arn', TRUST_ANCHOR_ARN,
        '--role-arn', ROLE_ARN, '--endpoint', ra.url, '--config-file', config,
      ])
      expect(written.code, written.stderr).toBe(0)
      expect(readFileSync(config, 'utf8')).toMatch(/^\[profile ra\]\ncredential_process = \S+node\S* \S+run\.js aws credential-process --roles-anywhere --certificate /)
      const {fromIni} = await import('@aws-sdk/credential-providers')
      const credentials = await fromIni({profile: 'ra', configFilepath: config, filepath: emptyCredentials})()
      expect(credentials).toMatchObject({accessKeyId: 'ASIARA', secretAccessKey: 'ra-secret', sessionToken: 'ra-token'})
      expect(ra.requests).toHaveLength(1)
      const request = ra.requests[0]!
      expect(request.method).toBe('POST')
      const url = new URL(request.url, ra.url)
      expect(url.pathname).toBe('/sessions')
      expect(Object.fromEntries(url.searchParams)).toEqual({profileArn: PROFILE_ARN, roleArn: ROLE_ARN, trustAnchorArn: TRUST_ANCHOR_ARN})
      expect(JSON.parse(request.body)).toEqual({durationSeconds: 3600})
      const derBase64 = readFileSync(join(svid, 'svid.pem'), 'utf8').replace(/-----[^-]+-----|\s/g, '')
      expect(request.headers['x-amz-x509']).toBe(derBase64)
      expect(request.headers.authorization).toMatch(/^AWS4-X509-ECDSA-SHA256 Credential=\d+\/\d{8}\/us-east-1\/rolesanywhere\/aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]+$/)

      // And a second call is served from the cache next to the SVID (mode 0600)
      const again = await wid(['aws', 'credential-process', '--roles-anywhere', '--certificate', join(svid, 'svid.pem'), '--private-key', join(svid, 'svid_key.pem'), '--profile-arn', PROFILE_ARN, '--trust-anchor-arn', TRUST_ANCHOR_ARN, '--role-arn', ROLE_ARN, '--endpoint', ra.url])
      expect(again.code, again.stderr).toBe(0)
      expect(JSON.parse(again.stdout)).toMatchObject({Version: 1, AccessKeyId: 'ASIARA'})
      expect(ra.requests).toHaveLength(1)
      const {readdirSync} = await import('node:fs')
      const cache = readdirSync(svid).find((n) => n.startsWith('.wid-aws-credentials-'))!
      expect(statSync(join(svid, cache)).mode & 0o777).toBe(0o600)
    } finally {
      delete process.env.NODE_EXTRA_CA_CERTS
      ra.close()
    }
  })

  it('credential-process neither trusts nor writes a credentials cache in a directory others may write', async () => {
    // Given an SVID in a directory others may write (0777), where uid 65534 planted a cache of
    // its own credentials under the name wid gives it, computed from public ARNs, endpoint and SVID
    const loose = join(tmp.path, 'loose-svid')
    mkdirSync(loose)
    for (const name of ['jwt_svid', 'svid.pem', 'svid_key.pem']) copyFileSync(join(svid, name), join(loose, name))
    chmodSync(loose, 0o777)
    const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')
    const plant = (key: object, source: string) => {
      const path = join(loose, `.wid-aws-credentials-${sha256(JSON.stringify(key)).slice(0, 16)}.json`)
      writeFileSync(path, JSON.stringify({source: sha256(source), credentials: {Version: 1, AccessKeyId: 'ATTACKER', SecretAccessKey: 'x', SessionToken: 'x', Expiration: EXPIRES()}}))
      chownSync(path, 65534, 65534)
      return basename(path)
    }
    const warning = `warning: aws: ${loose} is writable by others (mode 0777); chmod go-w ${loose}, or choose another directory (until then, credentials are not cached)`
    const sts = await fakeAws(() => ({status: 200, type: 'text/xml', body: stsCredentials()}))
    try {
      const planted = plant({kind: 'oidc', role: ROLE_ARN, endpoint: sts.url}, readFileSync(join(loose, 'jwt_svid'), 'utf8').trim())
      // When credential-process runs for that role with the JWT-SVID
      const result = await wid(['aws', 'credential-process', '--oidc', '--role-arn', ROLE_ARN, '--token-file', join(loose, 'jwt_svid'), '--sts-endpoint', sts.url])
      // Then it gets its own credentials from STS, says why it does not cache them, and writes no cache
      expect(result.code, result.stderr).toBe(0)
      expect(JSON.parse(result.stdout)).toMatchObject({AccessKeyId: 'ASIAWIDTEST'})
      expect(sts.requests).toHaveLength(1)
      expect(result.stderr.trim()).toBe(warning)
      expect(readdirSync(loose).filter((n) => n.startsWith('.wid-aws-credentials-'))).toEqual([planted])
    } finally {
      sts.close()
    }
    // And with the X.509-SVID (Roles Anywhere), the planted cache is not used either: wid asks AWS (here, nobody answers)
    const endpoint = 'https://127.0.0.1:9'
    plant({kind: 'roles-anywhere', profile: PROFILE_ARN, role: ROLE_ARN, anchor: TRUST_ANCHOR_ARN, endpoint}, readFileSync(join(loose, 'svid.pem'), 'utf8'))
    const ra = await wid(['aws', 'credential-process', '--roles-anywhere', '--certificate', join(loose, 'svid.pem'), '--private-key', join(loose, 'svid_key.pem'), '--profile-arn', PROFILE_ARN, '--trust-anchor-arn', TRUST_ANCHOR_ARN, '--role-arn', ROLE_ARN, '--endpoint', endpoint])
    expect(ra.stdout).not.toContain('ATTACKER')
    expect(ra.code).toBe(10)
    expect(ra.stderr.split('\n')[0]).toBe(warning)
  })

  it('credential-process reads regular files only: a FIFO for the certificate, key, intermediates or token is refused at once', async () => {
    // Given a private SVID directory where each file in turn is a FIFO nobody writes to
    const dir = join(tmp.path, 'fifo-svid')
    mkdirSync(dir, {mode: 0o700})
    for (const name of ['jwt_svid', 'svid.pem', 'svid_key.pem', 'svid_bundle.pem']) copyFileSync(join(svid, name), join(dir, name))
    const ra = ['aws', 'credential-process', '--roles-anywhere', '--certificate', join(dir, 'svid.pem'), '--private-key', join(dir, 'svid_key.pem'), '--intermediates', join(dir, 'svid_bundle.pem'), '--profile-arn', PROFILE_ARN, '--trust-anchor-arn', TRUST_ANCHOR_ARN, '--role-arn', ROLE_ARN, '--endpoint', 'https://127.0.0.1:9']
    const oidc = ['aws', 'credential-process', '--oidc', '--role-arn', ROLE_ARN, '--token-file', join(dir, 'jwt_svid'), '--sts-endpoint', 'http://127.0.0.1:9']
    for (const [name, args] of [['svid.pem', ra], ['svid_key.pem', ra], ['svid_bundle.pem', ra], ['jwt_svid', oidc]] as const) {
      const path = join(dir, name)
      const saved = readFileSync(path)
      execFileSync('rm', [path])
      execFileSync('mkfifo', [path])
      // When credential-process reads it, Then it is refused as bad input instead of waiting for a writer
      const result = await wid([...args])
      expect([result.code, expectOneLineError(result)], name).toEqual([2, `aws: ${path} is a FIFO, not a regular file`])
      execFileSync('rm', [path])
      writeFileSync(path, saved)
    }
  })

  it('edits a hand-written config byte for byte, and refuses to replace a profile without --force', async () => {
    const before = '; my AWS config \xe9t\xe9\r\n[default]\r\nregion = eu-west-1\r\n\r\n# work account\r\n[profile   work ]\r\nrole_arn = arn:aws:iam::111111111111:role/old\r\ns3 =\r\n  max_concurrent_requests = 10\r\n\r\n; keep this comment\r\n[profile other]\r\noutput = json'
    const config = join(tmp.path, 'config-odd')
    writeFileSync(config, Buffer.from(before, 'latin1'))
    const result = await wid(['aws', 'profile', 'work', '--force', '--role-arn', ROLE_ARN, '--token-file', join(svid, 'jwt_svid'), '--config-file', config])
    expect(result.code, result.stderr).toBe(0)
    const after = readFileSync(config).toString('latin1')
    const head = '; my AWS config \xe9t\xe9\r\n[default]\r\nregion = eu-west-1\r\n\r\n# work account\r\n[profile   work ]\r\n'
    const tail = '\r\n\r\n; keep this comment\r\n[profile other]\r\noutput = json'
    expect(after).toBe(`${head}role_arn = ${ROLE_ARN}\r\nweb_identity_token_file = ${join(svid, 'jwt_svid')}${tail}`)

    const refused = await wid(['aws', 'profile', 'work', '--role-arn', ROLE_ARN, '--token-file', join(svid, 'jwt_svid'), '--config-file', config])
    expect(expectOneLineError(refused)).toMatch(/profile "work" already exists in .*; use --force/)
    expect(readFileSync(config).toString('latin1')).toBe(after)
  })

  it('prints the section with --dry-run and export lines with --env, writing nothing', async () => {
    const config = join(tmp.path, 'config-dry')
    const dry = await wid(['aws', 'profile', 'web', '--role-arn', ROLE_ARN, '--svid-dir', svid, '--region', 'us-east-1', '--config-file', config, '--dry-run'])
    expect(dry.stdout).toBe(`[profile web]\nrole_arn = ${ROLE_ARN}\nweb_identity_token_file = ${join(svid, 'jwt_svid')}\nregion = us-east-1\n`)
    const env = await wid(['aws', 'profile', 'web', '--role-arn', ROLE_ARN, '--svid-dir', svid, '--session-name', 'ci', '--env'])
    expect(env.stdout).toBe(`export AWS_ROLE_ARN=${ROLE_ARN}\nexport AWS_WEB_IDENTITY_TOKEN_FILE=${join(svid, 'jwt_svid')}\nexport AWS_ROLE_SESSION_NAME=ci\n`)
    expect(existsSync(config)).toBe(false)
  })

  it('warns when the token file does not exist yet, naming the command that creates it', async () => {
    const result = await wid(['aws', 'profile', 'later', '--role-arn', ROLE_ARN, '--svid-dir', join(tmp.path, 'not-yet'), '--config-file', join(tmp.path, 'config-later')])
    expect(result.code).toBe(0)
    expect(result.stderr).toMatch(/warning: .*not-yet\/jwt_svid does not exist yet; create it with: wid svid issue --type jwt --audience sts.amazonaws.com --output .*not-yet/)
  })

  describe('trust policies', () => {
    it('OIDC federation for the example service', async () => {
      const result = await wid(['aws', 'trust-policy', '--oidc', '--spiffe-id', '/svc/example-service', '--account-id', '123456789012'])
      expect(result.code, result.stderr).toBe(0)
      expect(JSON.parse(result.stdout)).toEqual({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: {Federated: 'arn:aws:iam::123456789012:oidc-provider/wid.example.org/workload-identity'},
            Action: 'sts:AssumeRoleWithWebIdentity',
            Condition: {
              StringEquals: {
                'wid.example.org/workload-identity:aud': 'sts.amazonaws.com',
                'wid.example.org/workload-identity:sub': 'spiffe://example.org/svc/example-service',
              },
            },
          },
        ],
      })
    })

    it('IAM Roles Anywhere for the example service', async () => {
      const result = await wid(['aws', 'trust-policy', '--roles-anywhere', '--spiffe-id', 'spiffe://example.org/svc/example-service', '--trust-anchor-arn', TRUST_ANCHOR_ARN])
      expect(JSON.parse(result.stdout)).toEqual({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: {Service: 'rolesanywhere.amazonaws.com'},
            Action: ['sts:AssumeRole', 'sts:TagSession', 'sts:SetSourceIdentity'],
            Condition: {
              StringEquals: {'aws:PrincipalTag/x509SAN/URI': 'spiffe://example.org/svc/example-service'},
              ArnEquals: {'aws:SourceArn': TRUST_ANCHOR_ARN},
            },
          },
        ],
      })
    })

    it('the aws-oidc integration, also as Terraform', async () => {
      expect((await wid(['create', '-f', '-'], {input: INTEGRATION})).code).toBe(0)
      const json = await wid(['aws', 'trust-policy', '--integration', 'my-integration'])
      expect(JSON.parse(json.stdout)).toEqual({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: {Federated: 'arn:aws:iam::123456789012:oidc-provider/wid.example.org'},
            Action: 'sts:AssumeRoleWithWebIdentity',
            Condition: {StringEquals: {'wid.example.org:aud': 'discover.teleport'}},
          },
        ],
      })
      const tf = await wid(['aws', 'trust-policy', '--integration', 'my-integration', '--format', 'terraform'])
      expect(tf.stdout.startsWith('resource "aws_iam_role" "my_integration" {\n  name               = "my-integration"\n  assume_role_policy = jsonencode({')).toBe(true)
      expect(JSON.parse(/jsonencode\(([\s\S]*)\)\n\}\n$/.exec(tf.stdout)![1]!)).toEqual(JSON.parse(json.stdout))
    })
  })

  it('oidc-provider reports the thumbprint of the top certificate the public address presents', async () => {
    // Given a TLS server presenting leaf + intermediate, made with openssl
    const {chain, leafKey, intermediate} = makeChain(join(tmp.path, 'pki'))
    const server = createTlsServer({key: readFileSync(leafKey), cert: readFileSync(chain, 'utf8')}, (_req, res) => res.end())
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const port = (server.address() as AddressInfo).port
      const other = widIn(join(tmp.path, 'home-tls'))
      expect((await other(['init', '--cluster-name', 'example.org', '--public-addr', `https://127.0.0.1:${port}`])).code).toBe(0)
      const result = await other(['aws', 'oidc-provider', '--json'])
      expect(result.code, result.stderr).toBe(0)
      const expected = openssl(['x509', '-in', intermediate, '-noout', '-fingerprint', '-sha1']).split('=')[1]!.trim().replace(/:/g, '').toLowerCase()
      expect(JSON.parse(result.stdout)).toEqual({url: `https://127.0.0.1:${port}/workload-identity`, audience: 'sts.amazonaws.com', thumbprint: expected})
      const tf = await other(['aws', 'oidc-provider', '--format', 'terraform'])
      expect(tf.stdout, tf.stderr).toContain(`thumbprint_list = ["${expected}"]`)
    } finally {
      server.close()
    }
  })

  describe('bad input: one clear line, a non-zero exit, nothing written', () => {
    const config = () => join(tmp.path, 'config-bad')
    const cases: [string, string[], RegExp][] = [
      ['a malformed ARN', ['--role-arn', 'arn:aws:iam:123456789012:role/x'], /--role-arn: invalid ARN .*expected arn:<partition>/],
      ['an ARN of the wrong service', ['--role-arn', 'arn:aws:s3::123456789012:role/x'], /service is "s3", expected "iam"/],
      ['a short account', ['--role-arn', 'arn:aws:iam::1234:role/x'], /account "1234" must be 12 digits/],
      ['a session name with a space', ['--role-arn', ROLE_ARN, '--session-name', 'my session'], /invalid session name "my session"/],
      ['both token file and svid dir', ['--role-arn', ROLE_ARN, '--token-file', 'x'], /exactly one of --token-file and --svid-dir/],
      ['roles anywhere without ARNs', ['--role-arn', ROLE_ARN, '--roles-anywhere'], /needs --profile-arn and --trust-anchor-arn/],
      ['a trust anchor ARN of the wrong type', ['--role-arn', ROLE_ARN, '--roles-anywhere', '--profile-arn', PROFILE_ARN, '--trust-anchor-arn', PROFILE_ARN], /resource type is "profile", expected "trust-anchor/],
      ['a pasted placeholder', ['--role-arn', ROLE_ARN, '--roles-anywhere', '--profile-arn', PROFILE_ARN, '--trust-anchor-arn', `${TRUST_ANCHOR_ARN.slice(0, -30)}…`], /--trust-anchor-arn: invalid ARN .*: it contains "…", which an ARN cannot/],
      ['a bad profile name', ['--role-arn', ROLE_ARN], /invalid profile name/],
    ]
    // (these run at once: each is refused before it writes anything)
    for (const [name, args, message] of cases) {
      it.concurrent(name, async () => {
        const profile = name === 'a bad profile name' ? 'bad name' : 'p'
        const result = await wid(['aws', 'profile', profile, ...args, '--svid-dir', svid, '--config-file', config()])
        expect(expectOneLineError(result)).toMatch(message)
        expect(existsSync(config())).toBe(false)
      })
    }

    const oidc = (tokenFile: string, endpoint: string, extra: string[] = []) =>
      wid(['aws', 'credential-process', '--oidc', '--role-arn', ROLE_ARN, '--token-file', tokenFile, '--sts-endpoint', endpoint, ...extra])

    it('a token file that is empty or not a JWT', async () => {
      writeFileSync(join(tmp.path, 'empty-token'), '')
      writeFileSync(join(tmp.path, 'not-jwt'), 'hello world')
      const [empty, notJwt, http, missing] = await Promise.all([
        oidc(join(tmp.path, 'empty-token'), 'http://127.0.0.1:9'),
        oidc(join(tmp.path, 'not-jwt'), 'http://127.0.0.1:9'),
        oidc(join(svid, 'jwt_svid'), 'http://sts.example.com'),
        oidc(join(tmp.path, 'missing-token'), 'http://127.0.0.1:9'),
      ])
      expect(expectOneLineError(empty)).toMatch(/empty-token is empty/)
      expect(expectOneLineError(notJwt)).toMatch(/not-jwt is not a JWT/)
      expect(expectOneLineError(http)).toMatch(/--sts-endpoint must be https:\/\//)
      expect(expectOneLineError(missing)).toMatch(/token file .*missing-token does not exist/)
    })

    it('an STS endpoint that returns an error, with advice', async () => {
      const sts = await fakeAws(() => ({status: 400, type: 'text/xml', body: stsError('InvalidIdentityToken', 'No OpenIDConnect provider found in your account for https://wid.example.org/workload-identity')}))
      try {
        const result = await oidc(join(svid, 'jwt_svid'), sts.url, ['--session-name', 'fresh1'])
        expect(result.code).toBe(5)
        expect(result.stdout).toBe('')
        expect(expectOneLineError(result)).toMatch(/STS refused AssumeRoleWithWebIdentity \(InvalidIdentityToken: No OpenIDConnect provider.*\); check that an IAM OIDC provider exists for https:\/\/wid.example.org\/workload-identity/)
      } finally {
        sts.close()
      }
    })

    it('an STS endpoint that times out', async () => {
      const sts = await fakeAws(() => undefined)
      try {
        const result = await oidc(join(svid, 'jwt_svid'), sts.url, ['--session-name', 'fresh2', '--timeout', '1s'])
        expect(result.code).toBe(10)
        expect(expectOneLineError(result)).toMatch(/cannot reach STS at http:\/\/127.0.0.1:\d+: no answer within 1s/)
      } finally {
        sts.close()
      }
    })
  })
})
