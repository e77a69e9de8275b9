/**
 * A Workload API client (go-spiffe's `workloadapi.Client`, one call at a time): every request
 * carries the security header and a deadline; a stream's first message is its answer (each
 * message is the full state), after which the stream is cancelled. A gRPC failure becomes a
 * WidError that names the RPC and the status, e.g.
 * `spiffe-inspect: FetchX509SVID: PermissionDenied: no identity issued`.
 *
 * grpc-js is imported on first connect, so that importing this module stays cheap.
 */
import type {Client, ServiceError} from '@grpc/grpc-js'
import {WidError, type ErrorCode} from '../errors.js'
import {grpcTarget, type Endpoint} from './address.js'
import {SECURITY_HEADER, workloadApiService, type JwtBundlesResponse, type JwtSvidResponse, type ValidateJwtSvidResponse, type X509BundlesResponse, type X509SvidResponse} from './proto.js'

export const DEFAULT_TIMEOUT_MS = 10_000

/** How much of a server's error details a message quotes: they are the peer's text, of any length. */
const MAX_DETAILS_CHARS = 500

export interface ClientOptions {
  /** Each call's deadline (default 10 s). */
  timeoutMs?: number
  /** What error messages start with (default `workloadapi`). */
  errorPrefix?: string
}

type Grpc = typeof import('@grpc/grpc-js')
type Method = keyof typeof workloadApiService

/** `PERMISSION_DENIED` → `PermissionDenied`, as Go's codes.Code prints. */
function statusName(grpc: Grpc, code: number): string {
  const name = grpc.status[code]
  if (typeof name !== 'string') return `Code(${code})`
  return name
    .toLowerCase()
    .split('_')
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join('')
}

function errorCodeFor(grpc: Grpc, code: number): ErrorCode {
  if (code === grpc.status.PERMISSION_DENIED) return 'access_denied'
  if (code === grpc.status.INVALID_ARGUMENT) return 'bad_input'
  return 'unavailable'
}

export class WorkloadApiClient {
  private constructor(
    private readonly grpc: Grpc,
    private readonly client: Client,
    private readonly timeoutMs: number,
    private readonly errorPrefix: string,
  ) {}

  /** A client for the endpoint; gRPC connects on the first call. */
  static async connect(endpoint: Endpoint, options: ClientOptions = {}): Promise<WorkloadApiClient> {
    const grpc = await import('@grpc/grpc-js')
    // The endpoint is local to the workload: never through an http_proxy/grpc_proxy from the environment.
    const client = new grpc.Client(grpcTarget(endpoint), grpc.credentials.createInsecure(), {'grpc.enable_http_proxy': 0})
    return new WorkloadApiClient(grpc, client, options.timeoutMs ?? DEFAULT_TIMEOUT_MS, options.errorPrefix ?? 'workloadapi')
  }

  /** The X.509 context: the first message of FetchX509SVID. */
  fetchX509Context(): Promise<X509SvidResponse> {
    return this.first('FetchX509SVID', {})
  }

  /** The first message of FetchX509Bundles. */
  fetchX509Bundles(): Promise<X509BundlesResponse> {
    return this.first('FetchX509Bundles', {})
  }

  /** The first message of FetchJWTBundles: JWKS JSON per trust domain. */
  fetchJwtBundles(): Promise<JwtBundlesResponse> {
    return this.first('FetchJWTBundles', {})
  }

  /** JWT-SVIDs for the audiences: every identity of the caller's, or only `spiffeId`'s. */
  fetchJwtSvid(audience: string[], spiffeId = ''): Promise<JwtSvidResponse> {
    return this.unary('FetchJWTSVID', {audience, spiffe_id: spiffeId})
  }

  validateJwtSvid(audience: string, svid: string): Promise<ValidateJwtSvidResponse> {
    return this.unary('ValidateJWTSVID', {audience, svid})
  }

  close(): void {
    this.client.close()
  }

  private callOptions() {
    const metadata = new this.grpc.Metadata()
    metadata.set(SECURITY_HEADER, 'true')
    return {metadata, options: {deadline: Date.now() + this.timeoutMs}}
  }

  private failure(method: Method, error: ServiceError): WidError {
    // grpc-js ends a connection failure with an empty "Resolution note:"; our messages end without a period.
    const text = error.details.replace(/\s*Resolution note:\s*$/, '').replace(/\.$/, '')
    const details = text.length > MAX_DETAILS_CHARS ? `${text.slice(0, MAX_DETAILS_CHARS)}…` : text
    return new WidError(errorCodeFor(this.grpc, error.code), `${this.errorPrefix}: ${method}: ${statusName(this.grpc, error.code)}: ${details}`, {cause: error})
  }

  private first<M extends 'FetchX509SVID' | 'FetchX509Bundles' | 'FetchJWTBundles'>(
    method: M,
    request: Parameters<(typeof workloadApiService)[M]['requestSerialize']>[0],
  ): Promise<ReturnType<(typeof workloadApiService)[M]['responseDeserialize']>> {
    type Response = ReturnType<(typeof workloadApiService)[M]['responseDeserialize']>
    const definition = workloadApiService[method]
    const {metadata, options} = this.callOptions()
    return new Promise((resolve, reject) => {
      let settled = false
      const call = this.client.makeServerStreamRequest(
        definition.path,
        definition.requestSerialize as (value: typeof request) => Buffer,
        definition.responseDeserialize as (bytes: Buffer) => Response,
        request,
        metadata,
        options,
      )
      call.on('data', (message: Response) => {
        if (settled) return
        settled = true
        resolve(message)
        call.cancel()
      })
      call.on('error', (error: ServiceError) => {
        if (settled) return
        settled = true
        reject(this.failure(method, error))
      })
      call.on('end', () => {
        if (settled) return
        settled = true
        reject(new WidError('unavailable', `${this.errorPrefix}: ${method}: the stream ended without a message`))
      })
    })
  }

  private unary<M extends 'FetchJWTSVID' | 'ValidateJWTSVID'>(
    method: M,
    request: Parameters<(typeof workloadApiService)[M]['requestSerialize']>[0],
  ): Promise<ReturnType<(typeof workloadApiService)[M]['responseDeserialize']>> {
    type Response = ReturnType<(typeof workloadApiService)[M]['responseDeserialize']>
    const definition = workloadApiService[method]
    const {metadata, options} = this.callOptions()
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        definition.path,
        definition.requestSerialize as (value: typeof request) => Buffer,
        definition.responseDeserialize as (bytes: Buffer) => Response,
        request,
        metadata,
        options,
        (error, response) => (error ? reject(this.failure(method, error)) : resolve(response!)),
      )
    })
  }
}
