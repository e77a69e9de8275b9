/**
 * A test-only Workload API server: grpc-js serving the service as the official
 * ../shared/spec/workload.proto describes it (loaded with @grpc/proto-loader, as a third
 * party would), with canned but real material made by openssl and jose. It refuses a request
 * without the security header as SPIRE does, and records every call's metadata.
 */
import {execFileSync} from 'node:child_process'
import {createPrivateKey, X509Certificate} from 'node:crypto'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import * as grpc from '@grpc/grpc-js'
import * as protoLoader from '@grpc/proto-loader'
import {exportJWK, generateKeyPair, SignJWT} from 'jose'
import {SHARED} from './cli.js'

const PROTO = join(SHARED, 'spec', 'workload.proto')

export interface Material {
  caDer: Buffer
  leafDer: Buffer
  keyDer: Buffer
  otherCaDer: Buffer
  notAfter: Date
  jwt: string
  jwks: {keys: Record<string, unknown>[]}
}

function run(dir: string, args: string[]): void {
  execFileSync('openssl', args, {cwd: dir, stdio: 'pipe'})
}

function makeCa(dir: string, name: string, trustDomain: string): void {
  const ext = `basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectAltName=URI:spiffe://${trustDomain}\nsubjectKeyIdentifier=hash\n`
  writeFileSync(join(dir, `${name}.cnf`), `[req]\ndistinguished_name=dn\n[dn]\n[ext]\n${ext}`)
  run(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-subj', `/O=SPIFFE/CN=${trustDomain} CA`, '-days', '2', '-extensions', 'ext', '-config', `${name}.cnf`])
}

/** A CA for example.org with an X.509-SVID for spiffe://example.org/svc/foo, a CA for other.org, and an ES256 JWT-SVID for example.com. */
export async function makeMaterial(dir: string): Promise<Material> {
  makeCa(dir, 'ca', 'example.org')
  makeCa(dir, 'other', 'other.org')
  run(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/O=SPIFFE'])
  writeFileSync(
    join(dir, 'leaf.ext'),
    'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=URI:spiffe://example.org/svc/foo,DNS:foo.example.org,IP:10.0.0.1\n',
  )
  run(dir, ['x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'leaf.pem', '-days', '1', '-extfile', 'leaf.ext'])
  const der = (file: string) => new X509Certificate(readFileSync(join(dir, file))).raw
  const leafDer = der('leaf.pem')
  const {privateKey, publicKey} = await generateKeyPair('ES256')
  const jwt = await new SignJWT({aud: ['example.com'], sub: 'spiffe://example.org/svc/foo'})
    .setProtectedHeader({alg: 'ES256', kid: 'jwt-key-1', typ: 'JWT'})
    .setExpirationTime('5m')
    .setIssuedAt()
    .sign(privateKey)
  return {
    caDer: der('ca.pem'),
    leafDer,
    keyDer: createPrivateKey(readFileSync(join(dir, 'leaf.key'))).export({type: 'pkcs8', format: 'der'}),
    otherCaDer: der('other.pem'),
    notAfter: new X509Certificate(leafDer).validToDate,
    jwt,
    jwks: {keys: [{...(await exportJWK(publicKey)), kid: 'jwt-key-1', use: 'jwt-svid'}]},
  }
}

/** A refusal, or a message. */
export type Answer<T> = T | {status: grpc.status; details: string}

export interface Behaviour {
  x509?: Answer<Record<string, unknown>>
  jwtSvid?: Answer<Record<string, unknown>>
  jwtBundles?: Answer<Record<string, unknown>>
  validate?: Answer<Record<string, unknown>>
}

export interface FakeWorkloadApi {
  behaviour: Behaviour
  /** Each call's method and security header value (undefined when missing). */
  calls: {method: string; header: string | undefined; request: unknown}[]
  close: () => Promise<void>
  /** The TCP port, when listening on TCP. */
  port?: number
}

/** The canned answers for `material`: one SVID with hint "web", a federated bundle, a JWT-SVID and the JWKS. */
export function behaviourFor(m: Material): Behaviour {
  return {
    x509: {
      svids: [{spiffe_id: 'spiffe://example.org/svc/foo', x509_svid: m.leafDer, x509_svid_key: m.keyDer, bundle: m.caDer, hint: 'web'}],
      federated_bundles: {'spiffe://other.org': m.otherCaDer},
    },
    jwtSvid: {svids: [{spiffe_id: 'spiffe://example.org/svc/foo', svid: m.jwt, hint: 'web'}]},
    jwtBundles: {bundles: {'spiffe://example.org': Buffer.from(JSON.stringify(m.jwks))}},
    // protobufjs's bundled struct.proto (which proto-loader uses) names Value's fields in camelCase.
    validate: {spiffe_id: 'spiffe://example.org/svc/foo', claims: {fields: {sub: {stringValue: 'spiffe://example.org/svc/foo'}}}},
  }
}

const isRefusal = (answer: unknown): answer is {status: grpc.status; details: string} => typeof (answer as {status?: unknown})?.status === 'number'

/** Listens on a unix socket path, or with `tcp: true` on 127.0.0.1 (a free port, in `port`). */
export async function startFakeWorkloadApi(socketPath: string, behaviour: Behaviour, options: {tcp?: boolean} = {}): Promise<FakeWorkloadApi> {
  const definition = protoLoader.loadSync(PROTO, {keepCase: true, defaults: true})
  const service = (grpc.loadPackageDefinition(definition).SpiffeWorkloadAPI as grpc.ServiceClientConstructor).service
  const fake: FakeWorkloadApi = {behaviour, calls: [], close: async () => {}}
  /** Records the call; the refusal to send, if any. */
  const check = (method: string, call: {metadata: grpc.Metadata; request?: unknown}, answer: unknown): grpc.ServiceError | undefined => {
    const header = call.metadata.get('workload.spiffe.io')[0]?.toString()
    fake.calls.push({method, header, request: call.request})
    const refusal = header !== 'true' ? {status: grpc.status.INVALID_ARGUMENT, details: 'security header missing from request'} : isRefusal(answer) ? answer : undefined
    return refusal && Object.assign(new Error(refusal.details), {code: refusal.status, details: refusal.details, metadata: new grpc.Metadata()})
  }
  const stream = (method: string, key: 'x509' | 'jwtBundles') => (call: grpc.ServerWritableStream<unknown, unknown>) => {
    const refusal = check(method, call, fake.behaviour[key])
    if (refusal) return call.emit('error', refusal)
    // A Workload API stream stays open after the full state; the client cancels it.
    if (fake.behaviour[key]) call.write(fake.behaviour[key])
  }
  const unary = (method: string, key: 'jwtSvid' | 'validate') => (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
    const refusal = check(method, call, fake.behaviour[key])
    if (refusal) return callback(refusal)
    if (fake.behaviour[key]) callback(null, fake.behaviour[key])
  }
  const server = new grpc.Server()
  server.addService(service, {
    FetchX509SVID: stream('FetchX509SVID', 'x509'),
    FetchX509Bundles: (call: grpc.ServerWritableStream<unknown, unknown>) => call.emit('error', {code: grpc.status.UNIMPLEMENTED, details: 'not served'}),
    FetchJWTSVID: unary('FetchJWTSVID', 'jwtSvid'),
    FetchJWTBundles: stream('FetchJWTBundles', 'jwtBundles'),
    ValidateJWTSVID: unary('ValidateJWTSVID', 'validate'),
  })
  fake.port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(options.tcp ? '127.0.0.1:0' : `unix://${socketPath}`, grpc.ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port))),
  )
  fake.close = async () => server.forceShutdown()
  return fake
}
