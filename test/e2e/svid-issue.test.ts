import {execFileSync, spawn} from 'node:child_process'
import {existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {expectOneLineError, tempDir, widIn, WID_BIN} from '../helpers/cli.js'
import {certificateDates, certificateText, openssl} from '../helpers/openssl.js'

const PYTHON = '/usr/bin/python3'

describe('wid svid issue (embedded cluster)', () => {
  const tmp = tempDir()
  const home = join(tmp.path, 'home')
  const wid = widIn(home)
  let caFile: string

  beforeAll(async () => {
    const init = await wid(['init', '--cluster-name', 'example.org'])
    expect(init.code, init.stderr).toBe(0)
    const exported = await wid(['auth', 'export', '--type', 'tls-spiffe'])
    caFile = join(tmp.path, 'ca.pem')
    writeFileSync(caFile, exported.stdout)
  })
  afterAll(() => tmp.cleanup())

  it('writes an X.509-SVID that openssl verifies against the exported CA, with the SPIFFE contents', async () => {
    // Given an empty output path
    const out = join(tmp.path, 'svid')
    // When an engineer issues an 8h SVID
    const before = Date.now()
    const result = await wid(['svid', 'issue', '--output', out, '--svid-ttl', '8h', '/svc/example-service'])
    const after = Date.now()
    // Then it succeeds, with chatter on stderr only
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toBe('')
    expect(result.stderr).toContain('spiffe://example.org/svc/example-service')
    // And openssl verifies the chain to the exported CA
    expect(openssl(['verify', '-CAfile', caFile, join(out, 'svid.pem')])).toContain(': OK')
    expect(openssl(['verify', '-CAfile', join(out, 'svid_bundle.pem'), join(out, 'svid.pem')])).toContain(': OK')
    // And the certificate has exactly one URI SAN and the X509-SVID extensions
    const text = certificateText(join(out, 'svid.pem'))
    expect(text.match(/URI:/g)).toHaveLength(1)
    expect(text).toContain('URI:spiffe://example.org/svc/example-service')
    expect(text).toMatch(/Basic Constraints: critical\s+CA:FALSE/)
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature, Key Agreement\n/)
    expect(text).not.toMatch(/Certificate Sign|CRL Sign/)
    expect(text).toMatch(/Extended Key Usage:\s+TLS Web Server Authentication, TLS Web Client Authentication/)
    expect(text).toMatch(/Subject: *\n/)
    // And the validity is the requested TTL, backdated by 60 s
    const {notBefore, notAfter} = certificateDates(join(out, 'svid.pem'))
    expect(notAfter.getTime()).toBeGreaterThanOrEqual(before + 8 * 3600_000 - 60_000)
    expect(notAfter.getTime()).toBeLessThanOrEqual(after + 8 * 3600_000 + 60_000)
    expect(notBefore.getTime()).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 - 61_000)
    expect(notBefore.getTime()).toBeLessThanOrEqual(after - 59_000)
    // And the key is PKCS#8, mode 0600, and matches the certificate
    const keyPem = readFileSync(join(out, 'svid_key.pem'), 'utf8')
    expect(keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/)
    expect(statSync(join(out, 'svid_key.pem')).mode & 0o777).toBe(0o600)
    expect(statSync(out).mode & 0o777).toBe(0o700)
    const fromKey = openssl(['pkey', '-in', join(out, 'svid_key.pem'), '-pubout'])
    const fromCert = openssl(['x509', '-in', join(out, 'svid.pem'), '-noout', '-pubkey'])
    expect(fromKey).toBe(fromCert)
  })

  it('issues with the default TTL of 1h, DNS and IP SANs, and an RSA key', async () => {
    const out = join(tmp.path, 'svid-rsa')
    const result = await wid([
      'svid', 'issue', '--output', out, '--key-type', 'rsa-2048',
      '--dns-san', 'api.example.com', '--ip-san', '10.0.0.7', '--ip-san', '2001:db8::1', '/svc/api',
    ])
    expect(result.code, result.stderr).toBe(0)
    const text = certificateText(join(out, 'svid.pem'))
    expect(text).toContain('DNS:api.example.com')
    expect(text).toContain('IP Address:10.0.0.7')
    expect(text).toContain('IP Address:2001:DB8:0:0:0:0:0:1')
    expect(text).toMatch(/Digital Signature, Key Encipherment\n/)
    expect(text).toContain('Public-Key: (2048 bit)')
    const {notBefore, notAfter} = certificateDates(join(out, 'svid.pem'))
    expect(notAfter.getTime() - notBefore.getTime()).toBe(3600_000 + 60_000)
  })

  it('prints a JSON summary with --json and nothing else on stdout', async () => {
    const out = join(tmp.path, 'svid-json')
    const result = await wid(['svid', 'issue', '--json', '--output', out, '/svc/json'])
    expect(result.code, result.stderr).toBe(0)
    const summary = JSON.parse(result.stdout)
    expect(summary).toMatchObject({type: 'x509', spiffeId: 'spiffe://example.org/svc/json'})
    expect(summary.serial).toMatch(/^[0-9a-f]{32}$/)
    expect(summary.files).toEqual(['svid.pem', 'svid_key.pem', 'svid_bundle.pem'].map((f) => join(out, f)))
  })

  it('writes a JWT-SVID that python3-jwt verifies against the exported JWKS', async () => {
    // Given a JWKS exported by the cluster
    const jwksFile = join(tmp.path, 'jwks.json')
    writeFileSync(jwksFile, (await wid(['auth', 'export', '--type', 'jwks'])).stdout)
    // When a JWT-SVID for AWS STS is issued
    const out = join(tmp.path, 'jwt')
    const result = await wid(['svid', 'issue', '--type', 'jwt', '--audience', 'sts.amazonaws.com', '--svid-ttl', '30m', '--output', out, '/svc/example-service'])
    expect(result.code, result.stderr).toBe(0)
    expect(statSync(join(out, 'jwt_svid')).mode & 0o777).toBe(0o600)
    // Then an independent verifier accepts it, with the claims of DESIGN §4
    const script = `
import json, sys, jwt
jwks = json.load(open(sys.argv[1]))
token = open(sys.argv[2]).read()
header = jwt.get_unverified_header(token)
key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
claims = jwt.decode(token, jwt.PyJWK(key).key, algorithms=["RS256"], audience="sts.amazonaws.com")
print(json.dumps({"header": header, "claims": claims}))
`
    const verified = JSON.parse(execFileSync(PYTHON, ['-c', script, jwksFile, join(out, 'jwt_svid')], {encoding: 'utf8'}))
    expect(verified.header).toEqual({alg: 'RS256', kid: expect.any(String), typ: 'JWT'})
    const {claims} = verified
    expect(claims.sub).toBe('spiffe://example.org/svc/example-service')
    expect(claims.aud).toBe('sts.amazonaws.com')
    expect(claims.iss).toBe('https://example.org/workload-identity')
    expect(claims.jti).toMatch(/^[0-9a-f]{32}$/)
    expect(claims.exp - claims.iat).toBe(1800)
    expect(claims).not.toHaveProperty('nbf')
    expect(Object.keys(claims).sort()).toEqual(['aud', 'exp', 'iat', 'iss', 'jti', 'sub'])
  })

  it('keeps several audiences as an array', async () => {
    const out = join(tmp.path, 'jwt-multi')
    const result = await wid(['svid', 'issue', '--type', 'jwt', '--audience', 'a', '--audience', 'b', '--output', out, '/svc/x'])
    expect(result.code, result.stderr).toBe(0)
    const payload = JSON.parse(Buffer.from(readFileSync(join(out, 'jwt_svid'), 'utf8').split('.')[1]!, 'base64url').toString())
    expect(payload.aud).toEqual(['a', 'b'])
  })

  describe('refuses bad input with one clear line, a non-zero exit and no file written', () => {
    const cases: [string, string[], RegExp][] = [
      ['dot-dot segment', ['/svc/../x'], /path cannot contain dot segments/],
      ['dot segment', ['/svc/./x'], /path cannot contain dot segments/],
      ['empty segment', ['/svc//x'], /path cannot contain empty segments/],
      ['trailing slash', ['/svc/x/'], /path cannot have a trailing slash/],
      ['no leading slash', ['svc/x'], /path must have a leading slash/],
      ['percent-encoding', ['/svc/%41'], /percent-encoded/],
      ['query', ['/svc/x?y=1'], /query/],
      ['fragment', ['/svc/x#y'], /fragment/],
      ['space', ['/svc/a b'], /path segment characters are limited to letters, numbers, dots, dashes, and underscores/],
      ['TTL above the maximum', ['--svid-ttl', '25h', '/svc/x'], /exceeds the maximum of 24h/],
      ['TTL that is not a duration', ['--svid-ttl', 'banana', '/svc/x'], /invalid --svid-ttl "banana"/],
      ['bad DNS SAN', ['--dns-san', 'bad_name!', '/svc/x'], /invalid DNS SAN "bad_name!"/],
      ['bad IP SAN', ['--ip-san', '10.0.0.256', '/svc/x'], /invalid IP SAN "10.0.0.256"/],
      ['jwt without audience', ['--type', 'jwt', '/svc/x'], /needs at least one --audience/],
      ['audience on x509', ['--audience', 'x', '/svc/x'], /--audience applies to JWT-SVIDs only/],
      ['no path', [], /give the SPIFFE ID path/],
      ['unknown key type', ['--key-type', 'dsa', '/svc/x'], /key-type/],
      ['unknown flag', ['--bogus', '/svc/x'], /bogus/],
    ]
    // (these run at once: each is refused, with an output directory of its own)
    for (const [name, args, message] of cases) {
      it.concurrent(name, async () => {
        const out = join(tmp.path, `bad-${name.replace(/\W+/g, '-')}`)
        const result = await wid(['svid', 'issue', '--output', out, ...args])
        expect(expectOneLineError(result)).toMatch(message)
        expect(result.stdout).toBe('')
        expect(existsSync(out)).toBe(false)
      })
    }

    it('--output pointing at an existing file', async () => {
      const file = join(tmp.path, 'a-file')
      writeFileSync(file, 'keep me')
      const result = await wid(['svid', 'issue', '--output', file, '/svc/x'])
      expect(expectOneLineError(result)).toMatch(/exists and is not a directory/)
      expect(readFileSync(file, 'utf8')).toBe('keep me')
    })

    it('reports errors as JSON on stdout with --json, and the line on stderr', async () => {
      const out = join(tmp.path, 'bad-json')
      const result = await wid(['svid', 'issue', '--json', '--output', out, '/svc/../x'])
      expect(expectOneLineError(result)).toMatch(/dot segments/)
      expect(JSON.parse(result.stdout)).toEqual({error: {code: 'bad_input', message: 'spiffeid: path cannot contain dot segments'}})
    })
  })

  describe('re-issuing into the same directory', () => {
    it('replaces the files as one set, leaving no old version behind', async () => {
      const out = join(tmp.path, 'daily')
      expect((await wid(['svid', 'issue', '--output', out, '/svc/daily'])).code).toBe(0)
      const first = readFileSync(join(out, 'svid.pem'), 'utf8')
      const firstVersion = readlinkSync(join(out, '..data'))
      expect((await wid(['svid', 'issue', '--output', out, '/svc/daily'])).code).toBe(0)
      expect(readFileSync(join(out, 'svid.pem'), 'utf8')).not.toBe(first)
      expect(readlinkSync(join(out, '..data'))).not.toBe(firstVersion)
      expect(existsSync(join(out, firstVersion))).toBe(false)
      expect(lstatSync(join(out, 'svid.pem')).isSymbolicLink()).toBe(true)
      const fromKey = openssl(['pkey', '-in', join(out, 'svid_key.pem'), '-pubout'])
      expect(openssl(['x509', '-in', join(out, 'svid.pem'), '-noout', '-pubkey'])).toBe(fromKey)
    })

    it('never shows a reader a certificate beside a key it does not match', async () => {
      // Given a directory that is re-issued continuously by another process
      const out = join(tmp.path, 'race')
      expect((await wid(['svid', 'issue', '--output', out, '/svc/race'])).code).toBe(0)
      const writer = spawn(process.execPath, ['-e', `
        const {execFileSync} = require('node:child_process')
        for (let i = 0; i < 8; i++) execFileSync(process.execPath, [${JSON.stringify(WID_BIN)}, 'svid', 'issue', '--output', ${JSON.stringify(out)}, '/svc/race'], {env: {...process.env, WID_HOME: ${JSON.stringify(home)}}})
      `])
      const done = new Promise((resolve) => writer.on('close', resolve))
      let running = true
      void done.then(() => (running = false))
      // When a reader reads certificate, key, and certificate again, as a careful reader does
      const {createPublicKey, X509Certificate} = await import('node:crypto')
      let checked = 0
      while (running) {
        const cert1 = readFileSync(join(out, 'svid.pem'), 'utf8')
        const key = readFileSync(join(out, 'svid_key.pem'), 'utf8')
        const cert2 = readFileSync(join(out, 'svid.pem'), 'utf8')
        if (cert1 !== cert2) continue
        // Then whenever the certificate did not change around the key read, they match
        const certKey = new X509Certificate(cert1).publicKey.export({type: 'spki', format: 'der'})
        const privKey = createPublicKey(key).export({type: 'spki', format: 'der'})
        expect(Buffer.compare(certKey, privKey)).toBe(0)
        checked++
        await new Promise((r) => setImmediate(r))
      }
      expect(checked).toBeGreaterThan(0)
    })

    it('refuses a target that is a symlink it did not create, or not a regular file', async () => {
      const out = join(tmp.path, 'foreign')
      mkdirSync(out)
      const victim = join(tmp.path, 'victim.txt')
      writeFileSync(victim, 'precious')
      symlinkSync(victim, join(out, 'svid.pem'))
      const viaLink = await wid(['svid', 'issue', '--output', out, '/svc/x'])
      expect(expectOneLineError(viaLink)).toMatch(/svid\.pem is a symlink wid did not create; use --force/)
      expect(readFileSync(victim, 'utf8')).toBe('precious')

      const out2 = join(tmp.path, 'foreign-dir')
      mkdirSync(join(out2, 'svid_key.pem'), {recursive: true})
      const dir = await wid(['svid', 'issue', '--output', out2, '/svc/x'])
      expect(expectOneLineError(dir)).toMatch(/svid_key\.pem is a directory/)

      const out3 = join(tmp.path, 'foreign-file')
      mkdirSync(out3)
      writeFileSync(join(out3, 'svid.pem'), 'not ours')
      const file = await wid(['svid', 'issue', '--output', out3, '/svc/x'])
      expect(expectOneLineError(file)).toMatch(/exists and was not written by wid; use --force/)
      expect(readFileSync(join(out3, 'svid.pem'), 'utf8')).toBe('not ours')
      const forced = await wid(['svid', 'issue', '--force', '--output', out3, '/svc/x'])
      expect(forced.code, forced.stderr).toBe(0)
      expect(readFileSync(join(out3, 'svid.pem'), 'utf8')).toMatch(/BEGIN CERTIFICATE/)
    })
  })
})

describe('hostile output directories', () => {
  const tmp = tempDir()
  const wid = widIn(join(tmp.path, 'home'))
  beforeAll(async () => {
    expect((await wid(['init'])).code).toBe(0)
  })
  afterAll(() => tmp.cleanup())

  it('never deletes what a planted ..data link points at', async () => {
    // Given ..data links planted to the parent, to itself, and to a user directory
    const parent = join(tmp.path, 'parent')
    mkdirSync(join(parent, 'out'), {recursive: true})
    writeFileSync(join(parent, 'keep.txt'), 'keep')
    symlinkSync('..', join(parent, 'out', '..data'))
    const mine = join(tmp.path, 'mine')
    mkdirSync(join(mine, '..mystuff'), {recursive: true})
    writeFileSync(join(mine, '..mystuff', 'precious'), 'x')
    symlinkSync('..mystuff', join(mine, '..data'))
    // When an SVID is issued into them, Then it is refused and nothing is deleted
    for (const dir of [join(parent, 'out'), mine]) {
      expect(expectOneLineError(await wid(['svid', 'issue', '--output', dir, '/svc/x']))).toMatch(/\.\.data was not written by wid; use --force/)
    }
    expect(readFileSync(join(parent, 'keep.txt'), 'utf8')).toBe('keep')
    expect(readFileSync(join(mine, '..mystuff', 'precious'), 'utf8')).toBe('x')
    // And with --force the link is replaced, but what it pointed at survives
    expect((await wid(['svid', 'issue', '--force', '--output', mine, '/svc/x'])).code).toBe(0)
    expect(readFileSync(join(mine, '..mystuff', 'precious'), 'utf8')).toBe('x')
  })

  it('leaves exactly one version behind after concurrent issuers of both kinds', async () => {
    const out = join(tmp.path, 'shared')
    const runs = Array.from({length: 6}, (_, i) =>
      wid(i % 2 ? ['svid', 'issue', '--type', 'jwt', '--audience', 'a', '--output', out, '/svc/j'] : ['svid', 'issue', '--output', out, '/svc/x']),
    )
    const results = await Promise.all(runs)
    for (const r of results) expect(r.code, r.stderr).toBe(0)
    const {readdirSync} = await import('node:fs')
    const versions = readdirSync(out).filter((n) => /^\.\.\d{4}-/.test(n))
    expect(versions).toEqual([readlinkSync(join(out, '..data'))])
    expect(readdirSync(out).sort()).toEqual(['..data', versions[0], 'jwt_svid', 'svid.pem', 'svid_bundle.pem', 'svid_key.pem'].sort())
  })

  it('auth export --force refuses to replace a device or FIFO', async () => {
    const fifo = join(tmp.path, 'fifo')
    execFileSync('mkfifo', [fifo])
    expect(expectOneLineError(await wid(['auth', 'export', '--type', 'jwks', '--out', fifo, '--force']))).toMatch(/not a regular file/)
    expect(lstatSync(fifo).isFIFO()).toBe(true)
  })

  it('bad init options leave no store behind', async () => {
    const home = join(tmp.path, 'fresh-home')
    const fresh = widIn(home)
    expect(expectOneLineError(await fresh(['init', '--cluster-name', 'BAD']))).toMatch(/trust domain characters/)
    expect(expectOneLineError(await fresh(['init', '--public-addr', 'http://x']))).toMatch(/must use https/)
    expect(expectOneLineError(await fresh(['init', '--public-addr', 'https://1.2.3']))).toMatch(/valid host name/)
    expect(existsSync(home)).toBe(false)
  })

  it('stdout closed early or full: a quiet end, or one error line', async () => {
    const piped = spawn('sh', ['-c', `${process.execPath} ${WID_BIN} auth export --type jwks | head -c1 >/dev/null`], {env: {...process.env, WID_HOME: join(tmp.path, 'home')}})
    let stderr = ''
    piped.stderr.on('data', (d) => (stderr += d))
    await new Promise((resolve) => piped.on('close', resolve))
    expect(stderr).toBe('')
    const full = spawn('sh', ['-c', `${process.execPath} ${WID_BIN} auth export --type jwks >/dev/full`], {env: {...process.env, WID_HOME: join(tmp.path, 'home')}})
    let fullErr = ''
    full.stderr.on('data', (d) => (fullErr += d))
    const code = await new Promise((resolve) => full.on('close', resolve))
    expect(code).toBe(8)
    expect(fullErr).toBe('Error: cannot write to standard output: no space left on device\n')
  })
})

describe('first use on an empty WID_HOME', () => {
  it('two concurrent issuers both succeed and chain to the same CA', async () => {
    const tmp = tempDir()
    try {
      const home = join(tmp.path, 'home')
      const wid = widIn(home)
      const [a, b] = await Promise.all([
        wid(['svid', 'issue', '--output', join(tmp.path, 'a'), '/svc/a']),
        wid(['svid', 'issue', '--output', join(tmp.path, 'b'), '/svc/b']),
      ])
      expect(a.code, a.stderr).toBe(0)
      expect(b.code, b.stderr).toBe(0)
      const bundleA = readFileSync(join(tmp.path, 'a', 'svid_bundle.pem'), 'utf8')
      expect(readFileSync(join(tmp.path, 'b', 'svid_bundle.pem'), 'utf8')).toBe(bundleA)
      const ca = join(tmp.path, 'ca.pem')
      writeFileSync(ca, (await wid(['auth', 'export', '--type', 'tls-spiffe'])).stdout)
      expect(readFileSync(ca, 'utf8')).toBe(bundleA)
      for (const d of ['a', 'b']) expect(openssl(['verify', '-CAfile', ca, join(tmp.path, d, 'svid.pem')])).toContain(': OK')
      expect(statSync(home).mode & 0o777).toBe(0o700)
    } finally {
      tmp.cleanup()
    }
  })
})
