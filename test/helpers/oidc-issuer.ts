/**
 * A local OIDC issuer over HTTPS, as a CI platform or a Kubernetes cluster publishes one:
 * discovery at `<issuer>/.well-known/openid-configuration` and its JWKS, for any issuer path
 * under the origin (https://127.0.0.1:<port>/k8s, .../_services/token, or the origin itself).
 * Its keys are generated per run; its certificate chains to a test CA made by openssl.
 */
import {readFileSync} from 'node:fs'
import {createServer} from 'node:https'
import type {AddressInfo} from 'node:net'
import {join} from 'node:path'
import {exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload} from 'jose'
import {makeChain} from './openssl.js'

export interface SigningKey {
  kid: string
  alg: string
  privateKey: CryptoKey
  jwk: JWK
}

export async function signingKey(kid: string, alg = 'ES256'): Promise<SigningKey> {
  const {privateKey, publicKey} = await generateKeyPair(alg, {extractable: true})
  return {kid, alg, privateKey, jwk: {...(await exportJWK(publicKey)), kid, alg, use: 'sig'}}
}

export const jwksOf = (keys: SigningKey[]): string => JSON.stringify({keys: keys.map((key) => key.jwk)})

/** A JWT signed by `key` (its kid in the header unless `kid` says otherwise). */
export function signToken(key: SigningKey, claims: JWTPayload, header: {kid?: string} = {}): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({alg: key.alg, kid: header.kid ?? key.kid, typ: 'JWT'}).sign(key.privateKey)
}

/** A token with `alg: none` and no signature, as an attacker would send one. */
export function unsignedToken(claims: JWTPayload): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')
  return `${part({alg: 'none', typ: 'JWT'})}.${part(claims)}.`
}

/** A token signed with a shared secret (HS256). */
export function hmacToken(claims: JWTPayload, kid: string): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({alg: 'HS256', kid}).sign(new TextEncoder().encode('a shared secret of thirty-two bytes!'))
}

export interface OidcIssuer {
  origin: string
  /** PEM of the test CA the issuer's certificate chains to. */
  ca: string
  keys: SigningKey[]
  /** How many times the JWKS was fetched. */
  jwksFetches: number
  /** While true, every request is answered 503 (and counted in `refused`), as by an issuer in an outage. */
  down: boolean
  refused: number
  close(): Promise<void>
}

export async function startOidcIssuer(dir: string, keys: SigningKey[]): Promise<OidcIssuer> {
  const chain = makeChain(join(dir, 'issuer-tls'))
  const issuer: OidcIssuer = {origin: '', ca: readFileSync(join(dir, 'issuer-tls', 'root.pem'), 'utf8'), keys, jwksFetches: 0, down: false, refused: 0, close: async () => {}}
  const server = createServer({cert: readFileSync(chain.chain), key: readFileSync(chain.leafKey)}, (req, res) => {
    if (issuer.down) {
      issuer.refused++
      return res.writeHead(503).end()
    }
    const path = new URL(req.url ?? '/', issuer.origin).pathname
    const json = (value: unknown) => res.writeHead(200, {'content-type': 'application/json'}).end(JSON.stringify(value))
    if (path.endsWith('/.well-known/openid-configuration')) {
      const base = `${issuer.origin}${path.slice(0, -'/.well-known/openid-configuration'.length)}`
      return json({issuer: base, jwks_uri: `${base}/jwks`, id_token_signing_alg_values_supported: ['ES256', 'RS256']})
    }
    if (path.endsWith('/jwks')) {
      issuer.jwksFetches++
      return json(JSON.parse(jwksOf(issuer.keys)))
    }
    res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  issuer.origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`
  issuer.close = () => new Promise((resolve) => server.close(() => resolve()))
  return issuer
}
