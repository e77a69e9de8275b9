import {execFileSync} from 'node:child_process'
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {expectOneLineError, SHARED, tempDir, widIn} from '../helpers/cli.js'
import {openssl} from '../helpers/openssl.js'

const VECTORS = join(SHARED, 'testdata', 'go-spiffe', 'svid', 'x509svid', 'testdata')
// Every go-spiffe vector has expired: each is checked at an instant inside its validity window.
const AT = '2021-01-01T00:00:00Z'
const AT_SPIRE_MINTED = '2020-03-24T14:30:00Z'

describe('wid init, status, auth export, svid inspect', () => {
  const tmp = tempDir()
  const home = join(tmp.path, 'home')
  const wid = widIn(home)

  beforeAll(async () => {
    const init = await wid(['init', '--cluster-name', 'example.org', '--public-addr', 'https://wid.example.org', '--ca-key-type', 'ec-p384', '--json'])
    expect(init.code, init.stderr).toBe(0)
    expect(JSON.parse(init.stdout)).toEqual({clusterName: 'example.org', publicAddr: 'https://wid.example.org', home, created: true})
  })
  afterAll(() => tmp.cleanup())

  it('init is idempotent and refuses options that contradict the existing cluster', async () => {
    const again = await wid(['init'])
    expect(again.code).toBe(0)
    expect(again.stderr).toContain('already exists')
    const other = await wid(['init', '--cluster-name', 'other.org'])
    expect(expectOneLineError(other)).toMatch(/already exists with cluster name example.org \(asked for other.org\)/)
    const key = await wid(['init', '--ca-key-type', 'rsa-2048'])
    expect(expectOneLineError(key)).toMatch(/CA key type ec-p384/)
  })

  it('init refuses an invalid trust domain or public address', async () => {
    const fresh = widIn(join(tmp.path, 'fresh'))
    // (at once: each is refused before a cluster is made)
    const [domain, http, path] = await Promise.all([fresh(['init', '--cluster-name', 'Example.ORG']), fresh(['init', '--public-addr', 'http://x.example']), fresh(['init', '--public-addr', 'https://x.example/path'])])
    expect(expectOneLineError(domain)).toMatch(/trust domain characters are limited/)
    expect(expectOneLineError(http)).toMatch(/must use https/)
    expect(expectOneLineError(path)).toMatch(/must not have a path/)
  })

  it('status shows the cluster, its CA pin and JWT key id', async () => {
    const [status, exported, text] = await Promise.all([wid(['status', '--json']), wid(['auth', 'export', '--type', 'tls-spiffe']), wid(['status'])])
    expect(status.code, status.stderr).toBe(0)
    const s = JSON.parse(status.stdout)
    expect(s).toMatchObject({clusterName: 'example.org', jwtIssuer: 'https://wid.example.org/workload-identity', mode: 'local', dataDir: home})
    expect(s.backend).toEqual({kind: 'sqlite', location: join(home, 'wid.db')})
    // The pin is sha256 over the CA's SubjectPublicKeyInfo, as openssl computes it
    const ca = join(tmp.path, 'ca.pem')
    writeFileSync(ca, exported.stdout)
    writeFileSync(join(tmp.path, 'ca.pub'), openssl(['x509', '-in', ca, '-noout', '-pubkey']))
    openssl(['pkey', '-pubin', '-in', join(tmp.path, 'ca.pub'), '-outform', 'DER', '-out', join(tmp.path, 'ca.spki')])
    const digest = openssl(['dgst', '-sha256', '-r', join(tmp.path, 'ca.spki')]).split(' ')[0]
    expect(s.caPins).toEqual([`sha256:${digest}`])
    expect(text.stdout).toContain('CA pin:')
    expect(text.stdout).toContain(s.jwtKeyIds[0])
  })

  it('auth export prints the CA as PEM, the JWKS and the SPIFFE bundle, never a private key', async () => {
    const [pem, jwksOut, bundleOut] = await Promise.all(['tls-spiffe', 'jwks', 'spiffe-bundle'].map((type) => wid(['auth', 'export', '--type', type])))
    expect(pem.stdout).toMatch(/^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n$/)
    const caText = openssl(['x509', '-noout', '-text'], pem.stdout)
    expect(caText).toMatch(/CA:TRUE/)
    expect(caText).toMatch(/Key Usage: critical\s+Certificate Sign, CRL Sign/)
    expect(caText).toContain('URI:spiffe://example.org')
    expect(caText).toContain('NIST CURVE: P-384')

    const jwks = JSON.parse(jwksOut!.stdout)
    expect(jwks.keys).toHaveLength(1)
    expect(jwks.keys[0]).toEqual({kty: 'RSA', n: expect.any(String), e: 'AQAB', use: 'sig', kid: expect.any(String), alg: 'RS256'})

    const bundle = JSON.parse(bundleOut!.stdout)
    expect(bundle.spiffe_refresh_hint).toBe(300)
    expect(bundle.spiffe_sequence).toBeGreaterThan(0)
    const x509 = bundle.keys.filter((k: {use: string}) => k.use === 'x509-svid')
    const jwt = bundle.keys.filter((k: {use: string}) => k.use === 'jwt-svid')
    expect(x509).toHaveLength(1)
    expect(x509[0]).toMatchObject({kty: 'EC', crv: 'P-384'})
    expect(x509[0]).not.toHaveProperty('kid')
    expect(x509[0].x5c).toHaveLength(1)
    expect(`-----BEGIN CERTIFICATE-----\n${x509[0].x5c[0].match(/.{1,64}/g).join('\n')}\n-----END CERTIFICATE-----\n`).toBe(pem.stdout)
    expect(jwt).toEqual([{kty: 'RSA', n: jwks.keys[0].n, e: 'AQAB', use: 'jwt-svid', kid: jwks.keys[0].kid}])

    for (const out of [pem!.stdout, jwksOut!.stdout, bundleOut!.stdout]) expect(out).not.toMatch(/PRIVATE KEY|"d":/)
  })

  it('auth export --out writes a file and refuses to overwrite without --force', async () => {
    const out = join(tmp.path, 'exports', 'ca.pem')
    expect((await wid(['auth', 'export', '--type', 'tls-spiffe', '--out', out])).code).toBe(0)
    expect(readFileSync(out, 'utf8')).toMatch(/BEGIN CERTIFICATE/)
    expect(expectOneLineError(await wid(['auth', 'export', '--type', 'tls-spiffe', '--out', out]))).toMatch(/already exists; use --force/)
    expect((await wid(['auth', 'export', '--type', 'jwks', '--out', out, '--force'])).code).toBe(0)
    expect(JSON.parse(readFileSync(out, 'utf8')).keys).toHaveLength(1)
    const [pemType, noType] = await Promise.all([wid(['auth', 'export', '--type', 'pem']), wid(['auth', 'export'])])
    expect(expectOneLineError(pemType)).toMatch(/--type/)
    expect(expectOneLineError(noType)).toMatch(/missing required flag --type/)
  })

  it('svid inspect shows a fresh SVID as valid against its bundle', async () => {
    const dir = join(tmp.path, 'svid')
    expect((await wid(['svid', 'issue', '--output', dir, '--dns-san', 'x.example.org', '/svc/inspect'])).code).toBe(0)
    const [text, jsonOut] = await Promise.all([wid(['svid', 'inspect', dir]), wid(['svid', 'inspect', dir, '--json'])])
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toContain('spiffe://example.org/svc/inspect')
    expect(text.stdout).toMatch(/Private key:\s+matches/)
    expect(text.stdout).toMatch(/chain verified/)
    expect(text.stdout).toMatch(/Status:\s+valid/)
    const json = JSON.parse(jsonOut.stdout)
    expect(json.valid).toBe(true)
    expect(json.x509).toMatchObject({spiffeId: 'spiffe://example.org/svc/inspect', keyType: 'ec-p256', dnsSans: ['x.example.org'], problems: []})
    expect(json.x509.secondsLeft).toBeGreaterThan(3500)
  })

  it('svid inspect fails an SVID checked after it expires, or against another trust domain', async () => {
    const dir = join(tmp.path, 'svid')
    const other = widIn(join(tmp.path, 'other-home'))
    const [late] = await Promise.all([wid(['svid', 'inspect', dir, '--at', new Date(Date.now() + 2 * 3600_000).toISOString()]), other(['init', '--cluster-name', 'other.org'])])
    expect(late.code).toBe(7)
    expect(expectOneLineError(late)).toMatch(/certificate expired at/)
    const otherCa = join(tmp.path, 'other-ca.pem')
    writeFileSync(otherCa, (await other(['auth', 'export', '--type', 'tls-spiffe'])).stdout)
    const wrong = await wid(['svid', 'inspect', join(dir, 'svid.pem'), '--bundle', otherCa])
    expect(wrong.code).toBe(7)
    expect(wrong.stdout).toMatch(/NOT VERIFIED/)
  })

  // (these run at once: each only reads its file)
  describe.concurrent('go-spiffe vectors', () => {
    const valid: [string, string, string][] = [
      ['good-leaf-only.pem', 'spiffe://example.org/workload-1', AT],
      ['good-leaf-and-intermediate.pem', 'spiffe://example.org/workload-1', AT_SPIRE_MINTED],
      ['good-cert-and-key.pem', 'spiffe://example.org/workload-1', AT_SPIRE_MINTED],
      ['good-key-and-cert.pem', 'spiffe://example.org/workload-1', AT_SPIRE_MINTED],
    ]
    for (const [file, id, at] of valid) {
      it(`${file} is valid`, async () => {
        const result = await wid(['svid', 'inspect', join(VECTORS, file), '--no-bundle', '--at', at, '--json'])
        expect(result.code, result.stderr).toBe(0)
        expect(JSON.parse(result.stdout).x509).toMatchObject({spiffeId: id, problems: []})
      })
    }
    const invalid: [string, RegExp][] = [
      ['wrong-leaf-ca-true.pem', /leaf certificate must not have CA flag set to true/],
      ['wrong-leaf-cert-sign.pem', /leaf certificate must not have 'keyCertSign' set as key usage/],
      ['wrong-leaf-crl-sign.pem', /leaf certificate must not have 'cRLSign' set as key usage/],
      ['wrong-leaf-no-digital-signature.pem', /leaf certificate must have 'digitalSignature' set as key usage/],
      ['wrong-leaf-empty-id.pem', /certificate contains no URI SAN/],
      ['wrong-intermediate-no-ca.pem', /signing certificate must have CA flag set to true/],
      ['wrong-intermediate-no-key-cert-sign.pem', /signing certificate must have 'keyCertSign' set as key usage/],
    ]
    for (const [file, message] of invalid) {
      it(`${file} is refused`, async () => {
        const result = await wid(['svid', 'inspect', join(VECTORS, file), '--no-bundle', '--at', AT])
        expect(result.code).toBe(7)
        expect(expectOneLineError(result)).toMatch(message)
        expect(result.stdout).toMatch(/Status:\s+INVALID/)
      })
    }
    for (const file of ['corrupt-cert.pem', 'not-pem']) {
      it(`${file} cannot be parsed`, async () => {
        const result = await wid(['svid', 'inspect', join(VECTORS, file), '--no-bundle', '--at', AT])
        expect(result.code).toBe(2)
        expectOneLineError(result)
      })
    }
    it('corrupt-key.pem beside a good certificate cannot be parsed', async () => {
      const dir = join(tmp.path, 'corrupt-key')
      mkdirSync(dir)
      writeFileSync(join(dir, 'svid.pem'), readFileSync(join(VECTORS, 'good-leaf-only.pem')))
      writeFileSync(join(dir, 'svid_key.pem'), readFileSync(join(VECTORS, 'corrupt-key.pem')))
      const result = await wid(['svid', 'inspect', dir, '--no-bundle', '--at', AT])
      expect(result.code).toBe(2)
      expectOneLineError(result)
    })
  })

  it('svid inspect does not call an SVID valid when it has no bundle to check the chain against', async () => {
    const dir = join(tmp.path, 'lonely')
    mkdirSync(dir)
    writeFileSync(join(dir, 'svid.pem'), readFileSync(join(tmp.path, 'svid', 'svid.pem')))
    const result = await wid(['svid', 'inspect', dir])
    expect(result.code).toBe(7)
    expect(expectOneLineError(result)).toMatch(/no bundle to verify the chain against/)
    expect((await wid(['svid', 'inspect', dir, '--no-bundle'])).code).toBe(0)
  })

  it('svid inspect reports a JWT-SVID whose expiry is not a time', async () => {
    const dir = join(tmp.path, 'jwt-exp')
    mkdirSync(dir)
    const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url')
    writeFileSync(join(dir, 'jwt_svid'), `${part({alg: 'RS256', typ: 'JWT'})}.${part({sub: 'spiffe://example.org/x', aud: 'a', exp: 1e308})}.sig`)
    const result = await wid(['svid', 'inspect', dir])
    expect(result.code).toBe(7)
    expect(expectOneLineError(result)).toMatch(/expiry 1e\+308 is not a valid time/)
  })

  it('svid inspect never sends control characters of a certificate or a JWT-SVID to the terminal', async () => {
    // Given an SVID directory whose certificate has an OSC title escape in its subject (and a
    // BEL, DEL and screen-clearing CSI elsewhere), made by openssl
    const dir = join(tmp.path, 'escapes')
    mkdirSync(dir)
    const subject = '/CN=\u001b]0;CN\u0007x/O=\u001b[2J\u007fcorp'
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-utf8', '-keyout', 'svid_key.pem', '-out', 'svid.pem', '-days', '1', '-subj', subject, '-addext', 'subjectAltName=URI:spiffe://example.org/x', '-addext', 'keyUsage=critical,digitalSignature'], {cwd: dir, stdio: 'pipe'})
    // And a jwt_svid, made by hand, whose alg, iss, sub and aud carry escapes (one a C1 CSI, U+009B)
    const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url')
    const audiences = ['\u001b]0;PWNED\u0007aud', 'c1\u009b2Jaud']
    const claims = {sub: 'spiffe://example.org/x\u001b[2K', iss: '\u001b[2J\u001b[Hfake', aud: audiences, exp: Math.floor(Date.now() / 1000) + 3600}
    writeFileSync(join(dir, 'jwt_svid'), `${part({alg: '\u001b[31mRS256', typ: 'JWT'})}.${part(claims)}.sig`)
    // When it is inspected, as text and as JSON
    // eslint-disable-next-line no-control-regex
    const raw = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/
    const runs = [[dir], [dir, '--no-bundle'], [dir, '--json']]
    const results = await Promise.all(runs.map((args) => wid(['svid', 'inspect', ...args])))
    for (const [i, result] of results.entries()) {
      // Then it reports the SVID invalid, and neither output holds a raw ESC, BEL, DEL or C1 character
      const args = runs[i]!.join(' ')
      expect(result.code, args).toBe(7)
      expect(result.stdout, args).not.toMatch(raw)
      expect(result.stderr, args).not.toMatch(raw)
    }
    // And the text shows the escapes as \x.. while the JSON keeps the data as it was
    const text = results[1]!.stdout
    expect(text).toContain('CN=\\x1b]0\\;CN\\x07x')
    expect(text).toMatch(/audience: +\\x1b]0;PWNED\\x07aud, c1\\x9b2Jaud/)
    expect(text).toMatch(/issuer: +\\x1b\[2J\\x1b\[Hfake/)
    expect(text).toContain('algorithm "\\x1b[31mRS256" is not allowed')
    const json = JSON.parse(results[2]!.stdout)
    expect(json.jwt.audiences).toEqual(audiences)
    expect(json.jwt.issuer).toBe(claims.iss)
  })

  it('svid inspect refuses a missing path and a bad --at', async () => {
    const [missing, ...badAt] = await Promise.all([['svid', 'inspect', join(tmp.path, 'nope')], ...['yesterday', '2026', '2026-02-30T00:00:00Z', '0'].map((at) => ['svid', 'inspect', join(tmp.path, 'svid'), '--at', at])].map((args) => wid(args)))
    expect(expectOneLineError(missing!)).toMatch(/does not exist/)
    expect(existsSync(join(tmp.path, 'nope'))).toBe(false)
    for (const result of badAt) expect(expectOneLineError(result)).toMatch(/invalid --at/)
  })
})
