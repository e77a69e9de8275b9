/**
 * Agents follow a CA rotation (issue 15): a real `wid server` and a `wid bot start` joined to
 * it, with Workload API streams held open by a grpc-js client built from the official proto.
 * The agent renews only every 20 minutes, so whatever reaches the streams during the test came
 * through its trust watch: at init the bundles carry both CAs, at update_clients the SVIDs are
 * re-issued by the new one (every stream having had the two-CA bundle first), at standby only
 * the new CA is left. openssl verifies the new SVID against the bundle the stream had.
 */
import {X509Certificate} from 'node:crypto'
import {chmodSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import * as grpc from '@grpc/grpc-js'
import * as protoLoader from '@grpc/proto-loader'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {startBotCluster, type BotCluster} from '../helpers/bot-cluster.js'
import {SHARED, tempDir} from '../helpers/cli.js'
import {openssl} from '../helpers/openssl.js'
import {within} from '../helpers/server.js'
import {DEMO_ROLE, startAgent, type Agent} from '../helpers/workload-agent.js'

const tmp = tempDir('wid-rotation-agents-')
afterAll(() => tmp.cleanup())

const IDENTITY = `kind: workload_identity
version: v1
metadata:
  name: rotated
  labels:
    app: demo
spec:
  spiffe:
    id: /svc/rotated
`

const Service = grpc.loadPackageDefinition(protoLoader.loadSync(join(SHARED, 'spec', 'workload.proto'), {keepCase: true, defaults: true}))
  .SpiffeWorkloadAPI as grpc.ServiceClientConstructor
const header = new grpc.Metadata()
header.set('workload.spiffe.io', 'true')

/** What one stream received, in the order every stream's messages arrived (`seq` is shared by all). */
interface Received {
  seq: number
  /** SHA-256 fingerprints of the X.509 CAs in the bundle. */
  cas?: string[]
  /** The kids of the JWT bundle. */
  kids?: string[]
  /** The X.509-SVID (leaf first, DER) and its bundle (DER), from FetchX509SVID. */
  svid?: {leaf: X509Certificate; bundle: Buffer}
}

let seq = 0
const derCertificates = (der: Buffer): X509Certificate[] => {
  const out: X509Certificate[] = []
  for (let at = 0; at < der.length; ) {
    // DER SEQUENCE with a two-byte length (certificates are 256 B to 64 KiB)
    const length = 4 + der.readUInt16BE(at + 2)
    out.push(new X509Certificate(der.subarray(at, at + length)))
    at += length
  }
  return out
}
/** Every CA certificate seen, by fingerprint. */
const cas = new Map<string, X509Certificate>()
const fingerprints = (der: Buffer) =>
  derCertificates(der).map((c) => {
    cas.set(c.fingerprint256, c)
    return c.fingerprint256
  })
/** Whether the CA with this fingerprint signed `leaf` (old and new CAs have the same name: the signature tells). */
const signedBy = (leaf: X509Certificate, ca: string) => leaf.verify(cas.get(ca)!.publicKey)

interface Stream {
  name: string
  received: Received[]
  close(): void
}

function openStream(socket: string, method: 'FetchX509SVID' | 'FetchX509Bundles' | 'FetchJWTBundles', name: string): Stream {
  const client = new Service(`unix://${socket}`, grpc.credentials.createInsecure())
  const received: Received[] = []
  const call = (client[method] as (request: object, metadata: grpc.Metadata) => grpc.ClientReadableStream<Record<string, unknown>>)({}, header)
  call.on('data', (message: Record<string, unknown>) => {
    const entry: Received = {seq: ++seq}
    if (method === 'FetchX509SVID') {
      const svid = (message.svids as Array<{x509_svid: Buffer; bundle: Buffer}>)[0]!
      entry.svid = {leaf: derCertificates(svid.x509_svid)[0]!, bundle: svid.bundle}
      entry.cas = fingerprints(svid.bundle)
    } else {
      const bundle = (message.bundles as Record<string, Buffer>)['spiffe://example.org']!
      if (method === 'FetchX509Bundles') entry.cas = fingerprints(bundle)
      else entry.kids = (JSON.parse(bundle.toString()) as {keys: Array<{kid: string}>}).keys.map((k) => k.kid)
    }
    received.push(entry)
  })
  call.on('error', () => {})
  return {name, received, close: () => (call.cancel(), client.close())}
}

let cluster: BotCluster
let agent: Agent
const socket = join(tmp.path, 'run', 'workload.sock')
const output = join(tmp.path, 'out')

beforeAll(async () => {
  chmodSync(tmp.path, 0o755)
  cluster = await startBotCluster(tmp.path, {documents: [IDENTITY, DEMO_ROLE], bot: 'rot-bot', roles: ['demo-issuer']})
  const config = join(tmp.path, 'agent.yaml')
  writeFileSync(
    config,
    `${await cluster.agentYaml(join(tmp.path, 'storage'))}credential_ttl: 1h
renewal_interval: 20m
services:
  - type: workload-identity-api
    listen: unix://${socket}
    selector:
      name: rotated
  - type: workload-identity-x509
    destination:
      type: directory
      path: ${output}
    selector:
      name: rotated
`,
    {mode: 0o600},
  )
  agent = startAgent(join(tmp.path, 'agent-home'), config)
  await within(30, () => agent.log().includes('workload api listening') && agent.log().includes('output renewed'), agent.log)
}, 60_000)
afterAll(async () => {
  await agent?.stop()
  await cluster?.stop()
})

const rotate = async (type: string, phase: string, ...extra: string[]) => {
  const result = await cluster.admin(['auth', 'rotate', '--type', type, '--manual', '--phase', phase, ...extra])
  expect(result.code, result.stderr).toBe(0)
}
const last = (stream: Stream) => stream.received.at(-1)!
const pem = (certificate: X509Certificate) => certificate.toString()

describe('wid bot start follows a CA rotation through its trust watch', () => {
  it('spiffe: both CAs on every stream at init, SVIDs of the new CA (after that bundle) at update_clients, the new CA alone at standby', async () => {
    const streams = [
      openStream(socket, 'FetchX509SVID', 'svid-1'),
      openStream(socket, 'FetchX509SVID', 'svid-2'),
      openStream(socket, 'FetchX509Bundles', 'x509-bundles'),
    ]
    try {
      await within(20, () => streams.every((s) => s.received.length > 0), agent.log)
      const oldCa = last(streams[0]!).cas![0]!
      expect(streams.map((s) => last(s).cas)).toEqual(streams.map(() => [oldCa]))

      await rotate('spiffe', 'init')
      await within(20, () => streams.every((s) => last(s).cas!.length === 2), agent.log)
      const bothCas = last(streams[2]!).cas!
      const newCa = bothCas.find((ca) => ca !== oldCa)!
      expect(bothCas).toContain(oldCa)
      // the SVID stays the old CA's: the new one does not sign yet
      for (const s of streams.slice(0, 2)) expect(fingerprints(last(s).svid!.bundle)).toEqual(bothCas)
      expect(streams.slice(0, 2).every((s) => signedBy(last(s).svid!.leaf, oldCa))).toBe(true)
      await within(20, () => readFileSync(join(output, 'svid_bundle.pem'), 'utf8').match(/BEGIN CERTIFICATE/g)?.length === 2, agent.log)

      await rotate('spiffe', 'update_clients', '--force')
      const signedByNew = (r: Received) => r.svid !== undefined && signedBy(r.svid.leaf, newCa)
      await within(20, () => streams.slice(0, 2).every((s) => s.received.some(signedByNew)), agent.log)
      const firstNew = Math.min(...streams.flatMap((s) => s.received.filter(signedByNew).map((r) => r.seq)))
      for (const s of streams) {
        const twoCas = s.received.find((r) => r.cas!.includes(oldCa) && r.cas!.includes(newCa))
        expect(twoCas?.seq, `${s.name} had the two-CA bundle before the first SVID of the new CA`).toBeLessThan(firstNew)
      }
      // openssl verifies the new SVID against the bundle its stream sent with it
      const fresh = streams[0]!.received.find(signedByNew)!
      const dir = tempDir('wid-rotation-verify-')
      try {
        writeFileSync(join(dir.path, 'bundle.pem'), derCertificates(fresh.svid!.bundle).map(pem).join(''))
        writeFileSync(join(dir.path, 'svid.pem'), pem(fresh.svid!.leaf))
        expect(openssl(['verify', '-CAfile', join(dir.path, 'bundle.pem'), join(dir.path, 'svid.pem')])).toContain(': OK')
      } finally {
        dir.cleanup()
      }
      // the X.509 output was re-issued by the new CA too, not at its 20-minute renewal
      await within(20, () => signedBy(new X509Certificate(readFileSync(join(output, 'svid.pem'))), newCa), agent.log)

      await rotate('spiffe', 'update_servers')
      await rotate('spiffe', 'standby', '--force')
      await within(20, () => streams.every((s) => last(s).cas!.length === 1), agent.log)
      expect(streams.map((s) => last(s).cas)).toEqual(streams.map(() => [newCa]))
      await within(20, () => readFileSync(join(output, 'svid_bundle.pem'), 'utf8').match(/BEGIN CERTIFICATE/g)?.length === 1, agent.log)
      expect(agent.log()).toContain('cluster trust changed')
    } finally {
      for (const s of streams) s.close()
    }
  }, 120_000)

  it('jwt: FetchJWTBundles carries both keys from init, and a JWT-SVID asked for after update_clients is signed by the new key', async () => {
    const bundles = openStream(socket, 'FetchJWTBundles', 'jwt-bundles')
    const client = new Service(`unix://${socket}`, grpc.credentials.createInsecure())
    const jwtKid = () =>
      new Promise<string>((resolve, reject) =>
        (client.FetchJWTSVID as (r: object, m: grpc.Metadata, cb: (e: Error | null, v: {svids: Array<{svid: string}>}) => void) => void)({audience: ['example.com']}, header, (error, value) => {
          if (error) return reject(error)
          const [head] = value.svids[0]!.svid.split('.')
          resolve((JSON.parse(Buffer.from(head!, 'base64url').toString()) as {kid: string}).kid)
        }),
      )
    try {
      await within(20, () => bundles.received.length > 0, agent.log)
      const [oldKid] = last(bundles).kids!
      expect(await jwtKid()).toBe(oldKid)
      await rotate('jwt', 'init')
      await within(20, () => last(bundles).kids!.length === 2, agent.log)
      const newKid = last(bundles).kids!.find((kid) => kid !== oldKid)!
      expect(await jwtKid()).toBe(oldKid)
      await rotate('jwt', 'update_clients', '--force')
      // the cached JWT-SVID is dropped when the agent hears of the new signing key
      await within(20, () => agent.log().match(/cluster trust changed.*jwt_signer_changed=true/) !== null, agent.log)
      expect(await jwtKid()).toBe(newKid)
      await rotate('jwt', 'update_servers')
      await rotate('jwt', 'standby', '--force')
      await within(20, () => last(bundles).kids!.length === 1, agent.log)
      expect(last(bundles).kids).toEqual([newKid])
    } finally {
      bundles.close()
      client.close()
    }
  }, 60_000)
})

