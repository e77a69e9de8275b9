/**
 * The TLS context of `wid server`, which follows the CA rotations: it accepts certificates
 * of every trusted client CA key (the old and the new one from a rotation's init until its
 * standby), and presents a certificate of the host CA key that signs now, issued again
 * when that key changes (update_servers, a rollback). A server given its own certificate
 * (--tls-cert-file) presents it whatever the host CA does, and follows the client CAs only.
 */
import {createHash, X509Certificate} from 'node:crypto'
import type {AuthServer} from '../auth/auth-server.js'
import {encodePem} from '../crypto/pem.js'
import {certificatePin, exportPkcs8Pem, exportSpkiDer, generateKeyPair} from '../crypto/keys.js'
import type {ClientAuthorities} from './callers.js'
import type {Presented} from './public-documents.js'

const HOST_CERT_TTL_SECONDS = 30 * 24 * 3600

const certificatesIn = (pem: string): string[] => pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []

export class ServerTls implements ClientAuthorities {
  private readonly auth: AuthServer
  /** The names of its own certificate; undefined for a server given one. */
  private readonly names?: string[]
  private key: string
  private chain: string
  private clientCas: string[] = []
  private clients: Array<{pin: string; certificate: X509Certificate}> = []
  /** The trusted host CAs' pins, the signing one first, when the server presents a certificate of the host CA. */
  private hostPins?: string[]

  private constructor(auth: AuthServer, names: string[] | undefined, key: string, chain: string) {
    this.auth = auth
    this.names = names
    this.key = key
    this.chain = chain
  }

  /** With `given` (key and chain, PEM) the server presents it; else a certificate of the host CA for `names`. */
  static async open(auth: AuthServer, names: string[], given?: {key: string; chain: string}): Promise<ServerTls> {
    const tls = new ServerTls(auth, given ? undefined : names, given?.key ?? '', given?.chain ?? '')
    await tls.update()
    return tls
  }

  /** What Node's TLS server takes (createServer, setSecureContext). */
  secureContext(): {key: string; cert: string; ca: string[]} {
    return {key: this.key, cert: this.chain, ca: this.clientCas}
  }

  presented(): Presented {
    const top = new X509Certificate(certificatesIn(this.chain).at(-1)!)
    return {loginPin: certificatePin(top), thumbprint: createHash('sha1').update(top.raw).digest('hex')}
  }

  /** The pins of the trusted host CAs (signing first) that callers should trust; undefined when the server presents a certificate of its own. */
  get hostCaPins(): string[] | undefined {
    return this.hostPins
  }

  /** The pin of the client CA key that signs now. */
  get clientSigningPin(): string {
    return this.clients[0]!.pin
  }

  issuerOf(certificate: X509Certificate): string | undefined {
    return this.clients.find((ca) => certificate.checkIssued(ca.certificate) && certificate.verify(ca.certificate.publicKey))?.pin
  }

  trusts(pin: string): boolean {
    return this.clients.some((ca) => ca.pin === pin)
  }

  /** Reads the authorities again; true when the context changed (new client CAs, or a certificate of another host CA key). */
  async update(): Promise<boolean> {
    const [hosts, clients] = await Promise.all([this.auth.hostAuthorities(), this.auth.clientAuthorities()])
    let changed = false
    if (clients.join('') !== this.clientCas.join('')) {
      this.clientCas = clients
      this.clients = clients.map((pem) => {
        const certificate = new X509Certificate(pem)
        return {pin: certificatePin(certificate), certificate}
      })
      changed = true
    }
    if (this.names) {
      this.hostPins = hosts.map((pem) => certificatePin(new X509Certificate(pem)))
      if (this.chain === '' || this.presented().loginPin !== this.hostPins[0]) {
        await this.renew()
        changed = true
      }
    }
    return changed
  }

  /** A fresh key and certificate of the host CA key that signs now (none for a server given its certificate). */
  async renew(): Promise<void> {
    if (!this.names) return
    const keys = await generateKeyPair('ec-p256')
    const spki = encodePem('PUBLIC KEY', await exportSpkiDer(keys.publicKey))
    const issued = await this.auth.hostCertificate(this.names, spki, HOST_CERT_TTL_SECONDS)
    this.key = await exportPkcs8Pem(keys.privateKey)
    this.chain = issued.certificate + issued.authority
  }
}
