/**
 * The SPIFFE Workload API server: gRPC (@grpc/grpc-js) on connections that we accept
 * ourselves, so that each one is attested from the kernel before any call on it is answered.
 * Every call needs the `workload.spiffe.io: true` metadata (else InvalidArgument); a workload
 * with no identity gets PermissionDenied; an agent with no bot identity yet, Unavailable.
 * Stream messages carry the full state: the first at once, another whenever it changes.
 */
import {lstat, mkdir, unlink} from 'node:fs/promises'
import {connect, createServer, type Server as NetServer, type Socket} from 'node:net'
import {dirname} from 'node:path'
import type * as grpc from '@grpc/grpc-js'
import {WidError, isWidError} from '../errors.js'
import {checkPrivateDirectory} from '../output/private-dir.js'
import {validateJwtSvid} from '../svid/jwt-validate.js'
import type {SvidCache, WorkloadAttributes, X509Entry} from './cache.js'
import type {Endpoint} from './address.js'
import type {JwtSvidRequest, ValidateJwtSvidRequest, X509SvidResponse} from './proto.js'
import type {TrustSnapshot, TrustState} from './trust.js'


/** What attestation found out about the process at the other end of a connection. */
export interface AttestedPeer {
  /** The attributes sent with issuance requests; undefined for TCP callers (no attestation). */
  workload: WorkloadAttributes | undefined
  /** Whether the attested process still runs (its pid not reused by another). */
  stillRunning(): Promise<boolean>
}

export interface PeerAttestor {
  attest(socket: Socket): Promise<AttestedPeer>
}

export interface WorkloadApiOptions {
  listen: Endpoint
  cache: SvidCache
  trust: TrustState
  /** False until the agent has its bot identity: calls then get Unavailable. */
  ready(): boolean
  /** Attests unix socket peers; TCP peers are never attested. */
  attestor: PeerAttestor
  /** Told of refusals and failures worth a log line. */
  log(message: string, fields: Record<string, unknown>): void
}

type Status = {code: grpc.status; details: string}

const MAX_CONNECTIONS = 4096
/** FetchJWTSVID: each new set of audiences is an issuance and a cache entry. */
const MAX_AUDIENCES = 10
const MAX_AUDIENCE_LENGTH = 1024

const UNATTESTED: AttestedPeer = {workload: undefined, stillRunning: async () => true}
const PEER_TAG = 'wid-workload-'

/** A hint names one SVID of a response (the specification): of SVIDs that share one, the first is kept. */
function uniqueHints<T extends {hint: string}>(svids: T[]): T[] {
  const seen = new Set<string>()
  return svids.filter((svid) => svid.hint === '' || (!seen.has(svid.hint) && seen.add(svid.hint)))
}

function concat(ders: Uint8Array[]): Buffer {
  return Buffer.concat(ders)
}

export class WorkloadApiServer {
  private readonly options: WorkloadApiOptions
  private grpcModule?: typeof grpc
  private securityHeader = ''
  private grpcServer?: grpc.Server
  private netServer?: NetServer
  private readonly peers = new Map<string, Promise<AttestedPeer>>()
  private readonly sockets = new Set<Socket>()
  private readonly streams = new Set<() => void>()
  private nextPeer = 0

  constructor(options: WorkloadApiOptions) {
    this.options = options
  }

  private status(code: keyof typeof grpc.status, details: string): Status {
    return {code: this.grpcModule!.status[code], details}
  }

  /** Listens; a live socket of another agent is refused, a stale one replaced. */
  async listen(): Promise<void> {
    const {listen} = this.options
    // gRPC and the message codecs load only when a Workload API listens.
    const [grpcModule, proto] = await Promise.all([import('@grpc/grpc-js'), import('./proto.js')])
    this.grpcModule = grpcModule
    this.securityHeader = proto.SECURITY_HEADER
    const grpcServer = new grpcModule.Server()
    grpcServer.addService(proto.workloadApiService, this.handlers())
    const injector = grpcServer.createConnectionInjector(this.grpcModule.ServerCredentials.createInsecure())
    this.grpcServer = grpcServer
    const net = createServer((socket) => this.accept(socket, injector))
    // Past this many open connections new ones are closed at once: every local user may
    // connect, and each connection costs memory and a file descriptor.
    net.maxConnections = MAX_CONNECTIONS
    if (listen.network === 'unix') await prepareSocketPath(listen.path)
    await new Promise<void>((resolve, reject) => {
      net.once('error', (error: NodeJS.ErrnoException) => reject(listenError(listen, error)))
      if (listen.network === 'unix') net.listen({path: listen.path, readableAll: true, writableAll: true}, resolve)
      else net.listen({host: listen.host, port: listen.port}, resolve)
    })
    this.netServer = net
  }

  private accept(socket: Socket, injector: grpc.ConnectionInjector): void {
    // grpc-js names a call's peer after its socket's remote address: a tag of ours finds the attestation.
    const tag = `${PEER_TAG}${++this.nextPeer}`
    Object.defineProperty(socket, 'remoteAddress', {value: tag})
    const attested = this.options.listen.network === 'unix' ? this.options.attestor.attest(socket) : Promise.resolve(UNATTESTED)
    attested.catch(() => {})
    this.peers.set(tag, attested)
    this.sockets.add(socket)
    socket.once('close', () => {
      this.peers.delete(tag)
      this.sockets.delete(socket)
    })
    injector.injectConnection(socket)
  }

  /** The caller's attestation, after the header and readiness checks every method makes. */
  private async peerOf(call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>): Promise<AttestedPeer> {
    const header = call.metadata.get(this.securityHeader)
    if (header.length !== 1 || header[0] !== 'true') throw this.status('INVALID_ARGUMENT', 'security header missing from request')
    if (!this.options.ready()) throw this.status('UNAVAILABLE', 'the agent has no bot identity yet')
    const tag = call.getPeer().split(':')[0]!
    const attested = this.peers.get(tag)
    if (!attested) throw this.status('UNAVAILABLE', 'the connection closed')
    try {
      return await attested
    } catch (error) {
      this.options.log('workload attestation failed', {error: isWidError(error) ? error.message : String(error)})
      throw this.status('PERMISSION_DENIED', 'could not attest the calling process')
    }
  }

  /** A refusal from the cluster as the status a workload sees; other failures are Unavailable. */
  private refusal(error: unknown, workload: WorkloadAttributes | undefined): Status {
    if (isWidError(error) && (error.code === 'access_denied' || error.code === 'not_found')) {
      this.options.log('no identity issued', {uid: workload?.unix?.uid, gid: workload?.unix?.gid, pid: workload?.unix?.pid, reason: error.message})
      return this.status('PERMISSION_DENIED', 'no identity issued')
    }
    if (typeof error === 'object' && error !== null && 'code' in error && 'details' in error && typeof error.code === 'number') return error as Status
    this.options.log('workload api call failed', {error: isWidError(error) ? error.message : String(error)})
    return this.status('UNAVAILABLE', isWidError(error) ? error.message : 'internal error')
  }

  private x509Response(entry: X509Entry, trust: TrustSnapshot | undefined): X509SvidResponse {
    return {
      svids: uniqueHints(entry.svids).map((svid) => ({
        spiffe_id: svid.spiffeId,
        x509_svid: concat(svid.certificates),
        x509_svid_key: Buffer.from(svid.key),
        bundle: concat(trust?.x509 ?? svid.bundle),
        hint: svid.hint,
      })),
      crl: [],
      federated_bundles: {},
    }
  }

  /** Keeps a stream open until the client goes: `onEnd` undoes what it subscribed. */
  private hold(call: grpc.ServerWritableStream<unknown, unknown>, onEnd: () => void): () => void {
    let ended = false
    const end = () => {
      if (ended) return
      ended = true
      this.streams.delete(end)
      onEnd()
    }
    this.streams.add(end)
    call.once('cancelled', end)
    call.once('close', end)
    call.once('error', end)
    return end
  }

  private fail(call: grpc.ServerWritableStream<unknown, unknown>, status: Status): void {
    call.emit('error', status)
  }

  /** A bundle stream: the trust bundles as `message` renders them, now and at every change. */
  private async bundleStream(call: grpc.ServerWritableStream<unknown, unknown>, message: (snapshot: TrustSnapshot) => unknown): Promise<void> {
    try {
      await this.peerOf(call)
    } catch (error) {
      return this.fail(call, this.refusal(error, undefined))
    }
    const {trust} = this.options
    const send = (snapshot: TrustSnapshot | undefined) => {
      if (snapshot) call.write(message(snapshot))
    }
    trust.on('changed', send)
    this.hold(call, () => trust.off('changed', send))
    send(trust.current)
  }

  private handlers(): grpc.UntypedServiceImplementation {
    const {cache, trust} = this.options
    return {
      FetchX509SVID: async (call: grpc.ServerWritableStream<unknown, X509SvidResponse>) => {
        let peer: AttestedPeer | undefined
        let key: string
        let entry: X509Entry
        try {
          peer = await this.peerOf(call)
          ;({key, entry} = await cache.x509(peer.workload))
        } catch (error) {
          return this.fail(call, this.refusal(error, peer?.workload))
        }
        const attested = peer
        const release = cache.hold(key)
        const send = async () => {
          if (!(await attested.stillRunning())) {
            end()
            return this.fail(call, this.status('PERMISSION_DENIED', 'the attested process is gone'))
          }
          call.write(this.x509Response(entry, trust.current))
        }
        const renewed = (renewedKey: string, next: X509Entry) => {
          if (renewedKey !== key) return
          entry = next
          void send()
        }
        const revoked = (revokedKey: string, error: WidError) => {
          if (revokedKey !== key) return
          end()
          this.fail(call, this.refusal(error, attested.workload))
        }
        const trustChanged = () => void send()
        cache.on('x509', renewed)
        cache.on('revoked', revoked)
        trust.on('changed', trustChanged)
        const end = this.hold(call, () => {
          cache.off('x509', renewed)
          cache.off('revoked', revoked)
          trust.off('changed', trustChanged)
          release()
        })
        await send()
      },

      FetchX509Bundles: (call: grpc.ServerWritableStream<unknown, unknown>) =>
        this.bundleStream(call, (snapshot) => ({crl: [], bundles: {[`spiffe://${snapshot.trustDomain}`]: concat(snapshot.x509)}})),

      FetchJWTBundles: (call: grpc.ServerWritableStream<unknown, unknown>) =>
        this.bundleStream(call, (snapshot) => ({bundles: {[`spiffe://${snapshot.trustDomain}`]: Buffer.from(JSON.stringify(snapshot.jwks))}})),

      FetchJWTSVID: async (call: grpc.ServerUnaryCall<JwtSvidRequest, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        let peer: AttestedPeer | undefined
        try {
          peer = await this.peerOf(call)
          const audiences = call.request.audience.filter((audience) => audience !== '')
          if (audiences.length === 0) throw this.status('INVALID_ARGUMENT', 'audience must be specified')
          if (audiences.length > MAX_AUDIENCES) throw this.status('INVALID_ARGUMENT', `at most ${MAX_AUDIENCES} audiences`)
          if (audiences.some((audience) => audience.length > MAX_AUDIENCE_LENGTH)) throw this.status('INVALID_ARGUMENT', `an audience is at most ${MAX_AUDIENCE_LENGTH} characters`)
          let svids = await cache.jwt(peer.workload, audiences)
          if (call.request.spiffe_id !== '') svids = svids.filter((svid) => svid.spiffeId === call.request.spiffe_id)
          if (svids.length === 0) throw this.status('PERMISSION_DENIED', 'no identity issued')
          if (!(await peer.stillRunning())) throw this.status('PERMISSION_DENIED', 'the attested process is gone')
          callback(null, {svids: uniqueHints(svids).map((svid) => ({spiffe_id: svid.spiffeId, svid: svid.token, hint: svid.hint}))})
        } catch (error) {
          callback(this.refusal(error, peer?.workload))
        }
      },

      ValidateJWTSVID: async (call: grpc.ServerUnaryCall<ValidateJwtSvidRequest, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        try {
          await this.peerOf(call)
          if (call.request.audience === '') throw this.status('INVALID_ARGUMENT', 'audience must be specified')
          if (call.request.svid === '') throw this.status('INVALID_ARGUMENT', 'svid must be specified')
          const validated = await validateJwtSvid(call.request.svid, call.request.audience, trust.jwtBundles()).catch((error: unknown) => {
            throw this.status('INVALID_ARGUMENT', isWidError(error) ? error.message : 'invalid JWT-SVID')
          })
          callback(null, {spiffe_id: validated.spiffeId, claims: validated.claims})
        } catch (error) {
          callback(this.refusal(error, undefined))
        }
      },
    }
  }

  /** Ends every stream and connection, and removes the socket file. */
  async close(): Promise<void> {
    for (const end of [...this.streams]) end()
    const net = this.netServer
    this.netServer = undefined
    // net.close waits for the open connections: they are destroyed before it is awaited.
    const closed = net ? new Promise<void>((resolve) => net.close(() => resolve())) : undefined
    for (const socket of this.sockets) socket.destroy()
    this.grpcServer?.forceShutdown()
    await closed
  }
}

function listenError(listen: Endpoint, error: NodeJS.ErrnoException): WidError {
  const where = listen.network === 'unix' ? listen.path : `${listen.host}:${listen.port}`
  if (error.code === 'EADDRINUSE') return new WidError('already_exists', `workload api: ${where} is in use`)
  if (error.code === 'EACCES') return new WidError('io', `workload api: permission denied listening on ${where}`)
  return new WidError('io', `workload api: cannot listen on ${where}: ${error.message}`)
}

/**
 * Makes the socket's directory if it is missing; a socket left by an agent that died is
 * removed, one that answers (another agent) is refused, and anything else is left alone.
 */
async function prepareSocketPath(path: string): Promise<void> {
  // Whoever can write the socket's directory (or one above it) can put their own socket in
  // its place and serve workloads forged SVIDs: it must be ours or root's alone, before we
  // make it and after (someone may have made it meanwhile, in a shared directory like /tmp).
  const privacy = {prefix: 'workload api', label: "the Workload API socket's directory"}
  checkPrivateDirectory(dirname(path), privacy)
  await mkdir(dirname(path), {recursive: true, mode: 0o755}).catch((error: NodeJS.ErrnoException) => {
    throw new WidError('io', `workload api: cannot create ${dirname(path)}: ${error.code ?? error.message}`)
  })
  checkPrivateDirectory(dirname(path), privacy)
  const stat = await lstat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined
    throw new WidError('io', `workload api: cannot check ${path}: ${error.code ?? error.message}`)
  })
  if (!stat) return
  if (!stat.isSocket()) throw new WidError('already_exists', `workload api: ${path} exists and is not a socket; remove it or listen elsewhere`)
  const live = await new Promise<boolean>((resolve) => {
    const probe = connect(path)
    probe.once('connect', () => {
      probe.destroy()
      resolve(true)
    })
    probe.once('error', () => resolve(false))
  })
  if (live) throw new WidError('already_exists', `workload api: another process serves ${path}; stop it or listen elsewhere`)
  await unlink(path)
}
