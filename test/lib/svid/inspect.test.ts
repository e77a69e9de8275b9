import {execFileSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {WidError} from '../../../src/lib/errors.js'
import {inspectX509Svid} from '../../../src/lib/svid/inspect.js'

const VECTORS = new URL('../../../../shared/testdata/go-spiffe/svid/x509svid/testdata/', import.meta.url)
const vector = (name: string): string => readFileSync(new URL(name, VECTORS), 'utf8')

/** Inside the validity of the SPIRE-minted vectors (good-leaf-and-intermediate, good-*-and-*). */
const MARCH_24_2020 = new Date('2020-03-24T14:30:00Z')
/** Inside the validity of good-leaf-only and every wrong-* vector. */
const JAN_1_2021 = new Date('2021-01-01T00:00:00Z')

const WORKLOAD_1 = 'spiffe://example.org/workload-1'
const NO_DIGITAL_SIGNATURE = "svid: leaf certificate must have 'digitalSignature' set as key usage"
const HAS_KEY_CERT_SIGN = "svid: leaf certificate must not have 'keyCertSign' set as key usage"
const HAS_CRL_SIGN = "svid: leaf certificate must not have 'cRLSign' set as key usage"
const UNKNOWN_AUTHORITY = 'svid: certificate signed by unknown authority'

async function expectBadInput(action: Promise<unknown>): Promise<void> {
  const error = await action.then(
    () => undefined,
    (thrown: unknown) => thrown,
  )
  expect(error).toBeInstanceOf(WidError)
  expect(error).toMatchObject({code: 'bad_input', message: expect.stringMatching(/^svid: /)})
}

describe('inspectX509Svid with the go-spiffe vectors', () => {
  it.each([
    {file: 'good-leaf-only.pem', key: 'key-pkcs8-rsa.pem', now: JAN_1_2021, keyType: 'rsa-2048', chain: 0},
    {file: 'good-leaf-and-intermediate.pem', key: 'key-pkcs8-ecdsa.pem', now: MARCH_24_2020, keyType: 'ec-p256', chain: 1},
    {file: 'good-cert-and-key.pem', key: undefined, now: MARCH_24_2020, keyType: 'ec-p256', chain: 0},
    {file: 'good-key-and-cert.pem', key: undefined, now: MARCH_24_2020, keyType: 'ec-p256', chain: 0},
  ])('accepts $file', async ({file, key, now, keyType, chain}) => {
    // Given a valid SVID and its key (in a key file or next to the certificate)
    const input = {certificatesPem: vector(file), keyPem: key && vector(key), now}

    // When it is inspected
    const result = await inspectX509Svid(input)

    // Then it has no problems, the workload's ID, and a matching key
    expect(result).toMatchObject({problems: [], spiffeId: WORKLOAD_1, keyMatches: true, keyType, bundle: undefined})
    expect(result.chain).toHaveLength(chain)
  })

  it.each([
    {file: 'wrong-leaf-ca-true.pem', problems: ['svid: leaf certificate must not have CA flag set to true']},
    {file: 'wrong-leaf-cert-sign.pem', problems: [HAS_KEY_CERT_SIGN]},
    {file: 'wrong-leaf-crl-sign.pem', problems: [HAS_CRL_SIGN]},
    // This leaf has keyCertSign and cRLSign instead of digitalSignature: all three are reported.
    {file: 'wrong-leaf-no-digital-signature.pem', problems: [NO_DIGITAL_SIGNATURE, HAS_KEY_CERT_SIGN, HAS_CRL_SIGN]},
    // Despite its name this vector has no URI SAN at all (go-spiffe's own test expects this message).
    {file: 'wrong-leaf-empty-id.pem', problems: ['svid: cannot get leaf certificate SPIFFE ID: certificate contains no URI SAN']},
    {file: 'wrong-intermediate-no-ca.pem', problems: ['svid: signing certificate must have CA flag set to true']},
    {
      file: 'wrong-intermediate-no-key-cert-sign.pem',
      problems: ["svid: signing certificate must have 'keyCertSign' set as key usage"],
    },
  ])('reports what is wrong with $file', async ({file, problems}) => {
    // Given an SVID that breaks a go-spiffe rule, read within its validity and with its key
    const input = {certificatesPem: vector(file), keyPem: vector('key-pkcs8-rsa.pem'), now: JAN_1_2021}

    // When it is inspected
    const result = await inspectX509Svid(input)

    // Then exactly the go-spiffe reasons are listed
    expect(result.problems).toEqual(problems)
    expect(result.keyMatches).toBe(true)
  })

  it.each([
    {what: 'a corrupt certificate', certificatesPem: 'corrupt-cert.pem', keyPem: undefined},
    {what: 'a corrupt key', certificatesPem: 'good-leaf-only.pem', keyPem: 'corrupt-key.pem'},
    {what: 'a certificate file that is not PEM', certificatesPem: 'not-pem', keyPem: undefined},
    {what: 'a key file that is not PEM', certificatesPem: 'good-leaf-only.pem', keyPem: 'not-pem'},
  ])('refuses $what as bad input', async ({certificatesPem, keyPem}) => {
    // Given input that cannot be parsed, When it is inspected, Then it is refused as bad input
    await expectBadInput(
      inspectX509Svid({certificatesPem: vector(certificatesPem), keyPem: keyPem && vector(keyPem), now: JAN_1_2021}),
    )
  })

  it('describes the leaf and its chain', async () => {
    // Given the SPIRE-minted leaf with its intermediate
    const input = {certificatesPem: vector('good-leaf-and-intermediate.pem'), now: MARCH_24_2020}

    // When it is inspected without a key
    const result = await inspectX509Svid(input)

    // Then the fields are those openssl shows
    expect(result).toEqual({
      spiffeId: WORKLOAD_1,
      serial: '9e1363cf3700a4335b8804cf14cfe5e9',
      keyType: 'ec-p256',
      subject: 'C=US, O=SPIRE',
      issuer: 'C=US, O=SPIFFE',
      uriSans: [WORKLOAD_1],
      dnsSans: [],
      ipSans: [],
      notBefore: '2020-03-24T14:07:30.000Z',
      notAfter: '2020-03-24T15:07:40.000Z',
      secondsLeft: 37 * 60 + 40,
      chain: [{subject: 'C=US, O=SPIFFE', serial: '05143f092ceb824185a50ee6552afbca', notAfter: '2020-03-25T14:05:13.000Z'}],
      keyMatches: undefined,
      problems: [],
      bundle: undefined,
    })
  })

  it('reports a key that belongs to another certificate', async () => {
    // Given an RSA leaf and an unrelated EC key
    const input = {certificatesPem: vector('good-leaf-only.pem'), keyPem: vector('key-pkcs8-ecdsa.pem'), now: JAN_1_2021}

    // When it is inspected
    const result = await inspectX509Svid(input)

    // Then the key does not match
    expect(result.keyMatches).toBe(false)
    expect(result.problems).toEqual(['svid: leaf certificate does not match private key'])
  })

  it.each([
    {now: new Date('2026-01-01T00:00:00Z'), problem: 'svid: certificate expired at 2025-03-29T19:00:37.000Z'},
    {now: new Date('2019-01-01T00:00:00Z'), problem: 'svid: certificate is not valid before 2020-03-30T19:00:37.000Z'},
  ])('reports a leaf outside its validity at $now', async ({now, problem}) => {
    // Given a valid leaf read at a time outside its validity, When it is inspected
    const result = await inspectX509Svid({certificatesPem: vector('good-leaf-only.pem'), now})

    // Then the validity is the one problem
    expect(result.problems).toEqual([problem])
  })
})

describe('inspectX509Svid against a bundle', () => {
  let dir: string
  let generatedAt: Date

  /** Writes `name`.pem and `name`.key: a P-256 certificate, self-signed unless `issuer` is given. */
  function certificate(name: string, options: {issuer?: string; ca: boolean; keyUsage: string; uri: string; days: number}) {
    execFileSync(
      'openssl',
      [
        'req', '-x509', '-config', 'openssl.cnf', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
        '-keyout', `${name}.key`, '-out', `${name}.pem`, '-subj', `/O=wid-test/CN=${name}`, '-days', String(options.days),
        ...(options.issuer ? ['-CA', `${options.issuer}.pem`, '-CAkey', `${options.issuer}.key`] : []),
        '-addext', `basicConstraints=critical,CA:${options.ca}`,
        '-addext', `keyUsage=critical,${options.keyUsage}`,
        '-addext', `subjectAltName=URI:${options.uri}`,
      ],
      {cwd: dir, stdio: 'pipe'},
    )
  }
  const pem = (name: string): string => readFileSync(join(dir, `${name}.pem`), 'utf8')
  const ca = (name: string, uri: string, keyUsage = 'keyCertSign,cRLSign') =>
    certificate(name, {ca: true, keyUsage, uri, days: 2})
  const leaf = (name: string, issuer: string, uri = 'spiffe://example.org/svc/x') =>
    certificate(name, {issuer, ca: false, keyUsage: 'digitalSignature', uri, days: 1})

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'wid-inspect-'))
    writeFileSync(join(dir, 'openssl.cnf'), '[req]\ndistinguished_name = dn\n[dn]\n')
    generatedAt = new Date()
    ca('ca', 'spiffe://example.org')
    leaf('leaf', 'ca')
    leaf('root-id', 'ca', 'spiffe://example.org')
    certificate('intermediate', {issuer: 'ca', ca: true, keyUsage: 'keyCertSign', uri: 'spiffe://example.org', days: 2})
    leaf('leaf-below-intermediate', 'intermediate')
    ca('unrelated', 'spiffe://example.org')
    ca('no-key-cert-sign', 'spiffe://example.org', 'digitalSignature,cRLSign')
    leaf('leaf-of-no-key-cert-sign', 'no-key-cert-sign')
    ca('other-domain', 'spiffe://other.org')
    leaf('leaf-of-other-domain', 'other-domain')
  })

  afterAll(() => rmSync(dir, {recursive: true, force: true}))

  /** An hour after the certificates were made: inside every one's validity. */
  const inside = () => new Date(generatedAt.getTime() + 3600_000)

  it('verifies a leaf signed by the bundle CA', async () => {
    // Given a leaf and the CA that signed it, with its key
    const input = {certificatesPem: pem('leaf'), keyPem: readFileSync(join(dir, 'leaf.key'), 'utf8'), bundlePem: pem('ca')}

    // When it is inspected within its validity
    const result = await inspectX509Svid({...input, now: inside()})

    // Then the chain verifies and nothing is wrong
    expect(result).toMatchObject({
      spiffeId: 'spiffe://example.org/svc/x',
      keyMatches: true,
      problems: [],
      bundle: {certificates: 1, verified: true},
      subject: 'O=wid-test, CN=leaf',
    })
  })

  it('verifies a leaf through the intermediate that follows it in the file', async () => {
    // Given a leaf, its intermediate and the root CA as bundle (with an unrelated CA first)
    const input = {
      certificatesPem: pem('leaf-below-intermediate') + pem('intermediate'),
      bundlePem: pem('unrelated') + pem('ca'),
      now: inside(),
    }

    // When it is inspected, Then the path leaf → intermediate → root verifies
    const result = await inspectX509Svid(input)
    expect(result).toMatchObject({problems: [], bundle: {certificates: 2, verified: true}})
    expect(result.chain).toEqual([expect.objectContaining({subject: 'O=wid-test, CN=intermediate'})])
  })

  it('fails against an unrelated CA', async () => {
    // Given a leaf and a bundle holding a different CA, When it is inspected
    const result = await inspectX509Svid({certificatesPem: pem('leaf'), bundlePem: pem('unrelated'), now: inside()})

    // Then no path is found
    expect(result.bundle).toEqual({certificates: 1, verified: false, error: UNKNOWN_AUTHORITY})
    expect(result.problems).toEqual([UNKNOWN_AUTHORITY])
  })

  it('fails when the leaf has expired', async () => {
    // Given a leaf valid for one day, read three days after it was made
    const now = new Date(generatedAt.getTime() + 3 * 86_400_000)

    // When it is inspected against its CA
    const result = await inspectX509Svid({certificatesPem: pem('leaf'), bundlePem: pem('ca'), now})

    // Then both the leaf and the chain report the expiry, once
    const expired = `svid: certificate expired at ${result.notAfter}`
    expect(result.secondsLeft).toBeLessThan(0)
    expect(result.bundle).toEqual({certificates: 1, verified: false, error: expired})
    expect(result.problems).toEqual([expired])
  })

  it('fails when the CA lacks keyCertSign', async () => {
    // Given a leaf signed by a CA whose key usage omits keyCertSign, When it is inspected
    const input = {certificatesPem: pem('leaf-of-no-key-cert-sign'), bundlePem: pem('no-key-cert-sign'), now: inside()}
    const result = await inspectX509Svid(input)

    // Then the CA is refused as a signer
    const error = "svid: signing certificate must have 'keyCertSign' set as key usage"
    expect(result.bundle).toEqual({certificates: 1, verified: false, error})
    expect(result.problems).toEqual([error])
  })

  it('fails when the CA belongs to another trust domain', async () => {
    // Given an example.org leaf signed by a CA of other.org, When it is inspected
    const input = {certificatesPem: pem('leaf-of-other-domain'), bundlePem: pem('other-domain'), now: inside()}
    const result = await inspectX509Svid(input)

    // Then the trust domains do not match
    const error = 'svid: leaf trust domain "example.org" does not match the CA trust domain "other.org"'
    expect(result.bundle).toEqual({certificates: 1, verified: false, error})
    expect(result.problems).toEqual([error])
  })

  it('reports a leaf whose SPIFFE ID is the trust domain itself', async () => {
    // Given a leaf with the root ID spiffe://example.org, When it is inspected
    const result = await inspectX509Svid({certificatesPem: pem('root-id'), bundlePem: pem('ca'), now: inside()})

    // Then the ID is shown but refused, and the chain still verifies
    expect(result).toMatchObject({spiffeId: 'spiffe://example.org', bundle: {verified: true}})
    expect(result.problems).toEqual(['svid: leaf certificate SPIFFE ID must have a non-root path'])
  })
})
