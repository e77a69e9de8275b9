/**
 * SigV4-X509 request signing (IAM Roles Anywhere): the needroleshere RSA vector must match
 * byte for byte; randomised ECDSA signatures are checked by the real `openssl` binary.
 */
import {createPrivateKey, generateKeyPairSync} from 'node:crypto'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {
  canonicalRequest,
  certificateSerial,
  credentialScope,
  signX509Request,
  stringToSign,
  type SignableRequest,
  type SigningAlgorithm,
} from '../../../src/lib/aws/sigv4-x509.js'
import {decodePem} from '../../../src/lib/crypto/pem.js'
import {refusal} from '../../helpers/errors.js'
import {openssl} from '../../helpers/openssl.js'

const VECTOR = fileURLToPath(new URL('../../../../shared/testdata/aws-sigv4-x509/', import.meta.url))
const VECTOR_SIGNATURE =
  '7f18cf01a29af198006ce4294771b6c8204d5a8d811f1e707131d46e3465665a1f902c2060b28d07f4f7205fd81648585dc3e48ced6b1dc920e698142129985b569fdae3a55d8394a084960bf5362867161de68d43460ac027b7f614b7373597bf93545905051aa2ad062b8fdf452c736ee289e280dd375840b865fc1fc08b0ea6893385663c6171e61252b39777d190acb805cb6c05a790c495167d4d7360245c18858e2e541b6079e7d79c18d0618d283e6a26c1b870d74f3607c85086bb9aa39cecc0b1a1ad5e1bfeeaacbf052b7af8b23ced9142cc1c743b0b7f6fcee0ebfee41bd3ddb17f2985fbc028c0b19ebca79a1fb4e033e40ba410b1115fe7ebd1'
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'

const base64 = (der: Uint8Array) => Buffer.from(der).toString('base64')

/** The string to sign, recomputed from the headers signX509Request returned. */
function signedString(request: SignableRequest, headers: Record<string, string>, options: {region: string; service: string; now: Date}): string {
  const {authorization, ...signed} = headers
  const algorithm = authorization!.split(' ')[0] as SigningAlgorithm
  const {text} = canonicalRequest({...request, headers: signed})
  return stringToSign(algorithm, options.now, credentialScope(options.now, options), text)
}

describe('the needroleshere RSA vector', () => {
  const [leaf, intermediate] = decodePem(readFileSync(join(VECTOR, 'cert.chained.pem'), 'utf8')).map((block) => block.der)
  const privateKey = createPrivateKey(readFileSync(join(VECTOR, 'cert-key.pem'), 'utf8'))
  const request: SignableRequest = {
    method: 'POST',
    url: new URL('https://service.test.invalid/api'),
    headers: {'Content-Type': 'application/json'},
    body: '{"foo": 123}',
  }
  const options = {region: 'us-east-1', service: 'service', now: new Date('2022-08-27T01:02:03Z')}

  it('gives exactly the expected Authorization header and signature', () => {
    // Given the vector's leaf, intermediate, PKCS#1 RSA key and request
    // When the request is signed at 2022-08-27T01:02:03Z
    const headers = signX509Request(request, {certificate: leaf!, chain: [intermediate!], privateKey}, options)

    // Then every header is the vector's, the signature included
    expect(headers.authorization).toBe(
      'AWS4-X509-RSA-SHA256 Credential=337562787801933536189724934726614584366112857655/20220827/us-east-1/service/aws4_request, ' +
        `SignedHeaders=content-type;host;x-amz-date;x-amz-x509;x-amz-x509-chain, Signature=${VECTOR_SIGNATURE}`,
    )
    expect(headers).toMatchObject({
      'Content-Type': 'application/json',
      host: 'service.test.invalid',
      'x-amz-date': '20220827T010203Z',
      'x-amz-x509': base64(leaf!),
      'x-amz-x509-chain': base64(intermediate!),
    })
  })

  it('builds the canonical request and string to sign the vector describes', () => {
    // Given the signed vector request
    const headers = signX509Request(request, {certificate: leaf!, chain: [intermediate!], privateKey}, options)

    // When its canonical request is rebuilt from the signed headers
    const {authorization: _, ...signed} = headers
    const {text, signedHeaders} = canonicalRequest({...request, headers: signed})

    // Then it has the README's lines, ending in the body's hash
    expect(text.split('\n')).toEqual([
      'POST',
      '/api',
      '',
      'content-type:application/json',
      'host:service.test.invalid',
      'x-amz-date:20220827T010203Z',
      `x-amz-x509:${base64(leaf!)}`,
      `x-amz-x509-chain:${base64(intermediate!)}`,
      '',
      'content-type;host;x-amz-date;x-amz-x509;x-amz-x509-chain',
      '8ae301e76251dfa937e27312e3f89be4941c49e2094f3dafe614ed3c8235fbf9',
    ])
    expect(signedHeaders).toBe('content-type;host;x-amz-date;x-amz-x509;x-amz-x509-chain')
    expect(signedString(request, headers, options).split('\n').slice(0, 3)).toEqual([
      'AWS4-X509-RSA-SHA256',
      '20220827T010203Z',
      '20220827/us-east-1/service/aws4_request',
    ])
  })
})

describe('canonicalRequest', () => {
  it('double-encodes the path, sorts and RFC 3986-encodes the query, and trims header values', () => {
    // Given a path with a space, repeated and unsorted parameters, and untidy header values
    const request: SignableRequest = {
      method: 'post',
      url: new URL('https://example.amazonaws.com:8443/a b/c~d?b=2&a=x y&a=1&c=%7E*'),
      headers: {'X-Custom': '  two   spaces  ', 'Content-Type': 'application/json'},
      body: '',
    }

    // When it is canonicalised
    const {text, signedHeaders} = canonicalRequest(request)

    // Then each part follows SigV4 for non-S3 services
    expect(text).toBe(
      ['POST', '/a%2520b/c~d', 'a=1&a=x%20y&b=2&c=~%2A', 'content-type:application/json', 'x-custom:two spaces', '', signedHeaders, EMPTY_SHA256].join('\n'),
    )
    expect(signedHeaders).toBe('content-type;x-custom')
  })
})

describe('ECDSA signatures and serials, checked by openssl', () => {
  let dir: string
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'wid-sigv4-'))
  })
  afterAll(() => rmSync(dir, {recursive: true, force: true}))

  /** A self-signed certificate and key made by openssl; returns their paths. */
  function selfSigned(name: string, keyArgs: string[], serial: string): {cert: string; key: string} {
    const cert = join(dir, `${name}.crt`)
    const key = join(dir, `${name}.key`)
    openssl(['req', '-x509', ...keyArgs, '-nodes', '-keyout', key, '-out', cert, '-subj', `/CN=${name}`, '-days', '1', '-set_serial', serial])
    return {cert, key}
  }

  /** What `openssl dgst -verify` prints: "Verified OK" or "Verification failure". */
  function opensslVerify(publicKey: string, signature: string, data: string): string {
    try {
      return openssl(['dgst', '-sha256', '-verify', publicKey, '-signature', signature, data])
    } catch (error) {
      return String((error as {stdout?: string}).stdout)
    }
  }

  function load(paths: {cert: string; key: string}) {
    return {
      certificate: decodePem(readFileSync(paths.cert, 'utf8'))[0]!.der,
      chain: [],
      privateKey: createPrivateKey(readFileSync(paths.key, 'utf8')),
    }
  }

  it.each([
    ['P-256', 'prime256v1'],
    ['P-384', 'secp384r1'],
  ])('signs with an EC %s key as AWS4-X509-ECDSA-SHA256 over SHA-256, DER-encoded', (_, curve) => {
    // Given an openssl-made EC key and self-signed certificate
    const paths = selfSigned(curve, ['-newkey', 'ec', '-pkeyopt', `ec_paramgen_curve:${curve}`], '123456789012345678901234567890123456789')
    const request: SignableRequest = {
      method: 'POST',
      url: new URL('https://rolesanywhere.eu-west-1.amazonaws.com/sessions?roleArn=r&profileArn=p'),
      headers: {'content-type': 'application/json'},
      body: '{"durationSeconds":3600}',
    }
    const options = {region: 'eu-west-1', service: 'rolesanywhere', now: new Date('2025-01-02T03:04:05Z')}

    // When a request is signed with it
    const headers = signX509Request(request, load(paths), options)

    // Then the header names the ECDSA algorithm and the decimal serial, and carries no chain
    expect(headers.authorization).toMatch(
      /^AWS4-X509-ECDSA-SHA256 Credential=123456789012345678901234567890123456789\/20250102\/eu-west-1\/rolesanywhere\/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-x509, Signature=[0-9a-f]+$/,
    )
    expect(headers).not.toHaveProperty('x-amz-x509-chain')

    // And openssl verifies the signature over the string to sign with the certificate's public key
    const publicKey = join(dir, `${curve}.pub`)
    openssl(['x509', '-in', paths.cert, '-pubkey', '-noout', '-out', publicKey])
    const signature = join(dir, `${curve}.sig`)
    writeFileSync(signature, Buffer.from(/Signature=([0-9a-f]+)$/.exec(headers.authorization!)![1]!, 'hex'))
    const signed = join(dir, `${curve}.sts`)
    writeFileSync(signed, signedString(request, headers, options))
    expect(opensslVerify(publicKey, signature, signed)).toContain('Verified OK')

    // And not over a changed one
    writeFileSync(signed, signedString({...request, body: '{"durationSeconds":43200}'}, headers, options))
    expect(opensslVerify(publicKey, signature, signed)).toContain('Verification failure')
  })

  it('gives the serial in decimal, also when its DER needs a leading zero octet', () => {
    // Given a certificate whose serial has its top bit set (DER INTEGER 00 80 ... 01)
    const paths = selfSigned('high-bit', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'], '0x8000000000000000000000000000000000000001')

    // When its serial is read
    const serial = certificateSerial(load(paths).certificate)

    // Then it is openssl's hex serial, in decimal
    const hex = openssl(['x509', '-in', paths.cert, '-noout', '-serial']).trim().replace('serial=', '')
    expect(hex).toBe('8000000000000000000000000000000000000001')
    expect(serial).toBe(BigInt(`0x${hex}`).toString())
    expect(serial).toBe('730750818665451459101842416358141509827966271489')
  })

  it('refuses keys other than RSA and EC', () => {
    // Given an Ed25519 key
    const {privateKey} = generateKeyPairSync('ed25519')
    const paths = selfSigned('ec-for-ed', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'], '1')

    // When a request is signed with it
    const error = refusal(() =>
      signX509Request({method: 'GET', url: new URL('https://example.com/'), headers: {}, body: ''}, {...load(paths), privateKey}, {
        region: 'us-east-1',
        service: 'rolesanywhere',
        now: new Date(),
      }),
    )

    // Then it is bad input naming the key type
    expect(error.code).toBe('bad_input')
    expect(error.message).toBe('aws: Roles Anywhere signs with RSA or EC keys, not ed25519')
  })
})
