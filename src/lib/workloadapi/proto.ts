/**
 * The SPIFFE Workload API's messages and service (`SpiffeWorkloadAPI`, no proto package), as
 * gRPC method definitions that both our server and `wid spiffe-inspect` use. The message
 * layouts (field names and numbers) are the specification's; they are described here with
 * protobufjs's reflection, so no .proto file is loaded at run time.
 */
import type {MethodDefinition, ServiceDefinition} from '@grpc/grpc-js'
import protobuf from 'protobufjs'

export interface X509Svid {
  spiffe_id: string
  /** The leaf then its intermediates, concatenated DER. */
  x509_svid: Uint8Array
  /** PKCS#8 DER. */
  x509_svid_key: Uint8Array
  /** The trust domain's CA certificates, concatenated DER. */
  bundle: Uint8Array
  hint: string
}

export interface X509SvidResponse {
  svids: X509Svid[]
  crl: Uint8Array[]
  federated_bundles: Record<string, Uint8Array>
}

export interface X509BundlesResponse {
  crl: Uint8Array[]
  bundles: Record<string, Uint8Array>
}

export interface JwtSvidRequest {
  audience: string[]
  spiffe_id: string
}

export interface JwtSvid {
  spiffe_id: string
  svid: string
  hint: string
}

export interface JwtSvidResponse {
  svids: JwtSvid[]
}

export interface JwtBundlesResponse {
  /** JWKS JSON per trust domain, keyed by `spiffe://<td>`. */
  bundles: Record<string, Uint8Array>
}

export interface ValidateJwtSvidRequest {
  audience: string
  svid: string
}

export interface ValidateJwtSvidResponse {
  spiffe_id: string
  claims: Record<string, unknown>
}

type Empty = Record<string, never>

const field = (id: number, type: string, rule?: 'repeated') => ({id, type, ...(rule ? {rule} : {})})
const map = (id: number, keyType: string, type: string) => ({id, keyType, type})

const root = protobuf.Root.fromJSON({
  nested: {
    X509SVIDRequest: {fields: {}},
    X509SVIDResponse: {fields: {svids: field(1, 'X509SVID', 'repeated'), crl: field(2, 'bytes', 'repeated'), federated_bundles: map(3, 'string', 'bytes')}},
    X509SVID: {fields: {spiffe_id: field(1, 'string'), x509_svid: field(2, 'bytes'), x509_svid_key: field(3, 'bytes'), bundle: field(4, 'bytes'), hint: field(5, 'string')}},
    X509BundlesRequest: {fields: {}},
    X509BundlesResponse: {fields: {crl: field(1, 'bytes', 'repeated'), bundles: map(2, 'string', 'bytes')}},
    JWTSVIDRequest: {fields: {audience: field(1, 'string', 'repeated'), spiffe_id: field(2, 'string')}},
    JWTSVIDResponse: {fields: {svids: field(1, 'JWTSVID', 'repeated')}},
    JWTSVID: {fields: {spiffe_id: field(1, 'string'), svid: field(2, 'string'), hint: field(3, 'string')}},
    JWTBundlesRequest: {fields: {}},
    JWTBundlesResponse: {fields: {bundles: map(1, 'string', 'bytes')}},
    ValidateJWTSVIDRequest: {fields: {audience: field(1, 'string'), svid: field(2, 'string')}},
    ValidateJWTSVIDResponse: {fields: {spiffe_id: field(1, 'string'), claims: field(2, 'google.protobuf.Struct')}},
    google: {
      nested: {
        protobuf: {
          nested: {
            Struct: {fields: {fields: map(1, 'string', 'Value')}},
            Value: {
              oneofs: {kind: {oneof: ['null_value', 'number_value', 'string_value', 'bool_value', 'struct_value', 'list_value']}},
              fields: {
                null_value: field(1, 'NullValue'),
                number_value: field(2, 'double'),
                string_value: field(3, 'string'),
                bool_value: field(4, 'bool'),
                struct_value: field(5, 'Struct'),
                list_value: field(6, 'ListValue'),
              },
            },
            NullValue: {values: {NULL_VALUE: 0}},
            ListValue: {fields: {values: field(1, 'Value', 'repeated')}},
          },
        },
      },
    },
  },
})

/** google.protobuf.Value as protobufjs represents it. */
interface PbValue {
  null_value?: number
  number_value?: number
  string_value?: string
  bool_value?: boolean
  struct_value?: {fields?: Record<string, PbValue>}
  list_value?: {values?: PbValue[]}
}

function toValue(value: unknown): PbValue {
  if (value === null || value === undefined) return {null_value: 0}
  if (typeof value === 'number') return {number_value: value}
  if (typeof value === 'string') return {string_value: value}
  if (typeof value === 'boolean') return {bool_value: value}
  if (Array.isArray(value)) return {list_value: {values: value.map(toValue)}}
  return {struct_value: toStruct(value as Record<string, unknown>)}
}

/** A JSON object as google.protobuf.Struct (JWT claims in ValidateJWTSVIDResponse). */
export function toStruct(object: Record<string, unknown>): {fields: Record<string, PbValue>} {
  return {fields: Object.fromEntries(Object.entries(object).map(([key, value]) => [key, toValue(value)]))}
}

function fromValue(value: PbValue): unknown {
  if (value.struct_value) return fromStruct(value.struct_value)
  if (value.list_value) return (value.list_value.values ?? []).map(fromValue)
  if (value.string_value !== undefined) return value.string_value
  if (value.number_value !== undefined) return value.number_value
  if (value.bool_value !== undefined) return value.bool_value
  return null
}

export function fromStruct(struct: {fields?: Record<string, PbValue>} | null | undefined): Record<string, unknown> {
  return Object.fromEntries(Object.entries(struct?.fields ?? {}).map(([key, value]) => [key, fromValue(value)]))
}

function codec<T>(name: string): {serialize: (value: T) => Buffer; deserialize: (bytes: Buffer) => T} {
  const type = root.lookupType(name)
  return {
    serialize: (value) => Buffer.from(type.encode(type.fromObject(value as object)).finish()),
    deserialize: (bytes) => type.toObject(type.decode(bytes), {defaults: true, arrays: true, objects: true, oneofs: false}) as T,
  }
}

function method<Req, Res>(name: string, request: string, response: string, responseStream: boolean): MethodDefinition<Req, Res> {
  const req = codec<Req>(request)
  const res = codec<Res>(response)
  return {
    path: `/SpiffeWorkloadAPI/${name}`,
    requestStream: false,
    responseStream,
    requestSerialize: req.serialize,
    requestDeserialize: req.deserialize,
    responseSerialize: res.serialize,
    responseDeserialize: res.deserialize,
  }
}

const validateResponse = codec<{spiffe_id: string; claims?: {fields?: Record<string, PbValue>}}>('ValidateJWTSVIDResponse')

/** The service's five RPCs (the specification's WIT-SVID methods are not served: Unimplemented). */
export const workloadApiService = {
  FetchX509SVID: method<Empty, X509SvidResponse>('FetchX509SVID', 'X509SVIDRequest', 'X509SVIDResponse', true),
  FetchX509Bundles: method<Empty, X509BundlesResponse>('FetchX509Bundles', 'X509BundlesRequest', 'X509BundlesResponse', true),
  FetchJWTSVID: method<JwtSvidRequest, JwtSvidResponse>('FetchJWTSVID', 'JWTSVIDRequest', 'JWTSVIDResponse', false),
  FetchJWTBundles: method<Empty, JwtBundlesResponse>('FetchJWTBundles', 'JWTBundlesRequest', 'JWTBundlesResponse', true),
  ValidateJWTSVID: {
    ...method<ValidateJwtSvidRequest, ValidateJwtSvidResponse>('ValidateJWTSVID', 'ValidateJWTSVIDRequest', 'ValidateJWTSVIDResponse', false),
    responseSerialize: (value: ValidateJwtSvidResponse) => validateResponse.serialize({spiffe_id: value.spiffe_id, claims: toStruct(value.claims)}),
    responseDeserialize: (bytes: Buffer) => {
      const decoded = validateResponse.deserialize(bytes)
      return {spiffe_id: decoded.spiffe_id, claims: fromStruct(decoded.claims)}
    },
  },
} satisfies ServiceDefinition

/** The metadata every Workload API request must carry. */
export const SECURITY_HEADER = 'workload.spiffe.io'
