/**
 * `workload-identity-x509`: an X.509-SVID of the selected workload identity, written as
 * svid.pem, svid_key.pem and svid_bundle.pem in one consistent file set.
 */
import {encodePem} from '../../crypto/pem.js'
import {exportPkcs8Pem, exportSpkiDer, generateKeyPair} from '../../crypto/keys.js'
import type {X509SvidRequest, X509SvidResponse} from '../../auth/issuance.js'
import type {OutputFile} from '../../output/files.js'
import {SVID_FILES} from '../../svid/issue.js'
import type {ServiceConfig} from '../config.js'
import type {Destination} from '../destination.js'
import type {TrustChange} from '../trust-follow.js'
import {clusterSelector, x509Of, DestinationService, type RenewalResult, type ServiceContext} from './service.js'

type X509Config = Extract<ServiceConfig, {type: 'workload-identity-x509'}>

/** A key pair made here and the request for its certificate: the private key never leaves. */
export async function x509Request(request: Omit<X509SvidRequest, 'publicKey'>): Promise<{key: string; request: X509SvidRequest}> {
  const keys = await generateKeyPair('ec-p256')
  return {key: await exportPkcs8Pem(keys.privateKey), request: {...request, publicKey: encodePem('PUBLIC KEY', await exportSpkiDer(keys.publicKey))}}
}

export function x509Files(svid: X509SvidResponse, key: string): OutputFile[] {
  return [
    {name: SVID_FILES.certificate, data: svid.certificates.join(''), mode: 0o600},
    {name: SVID_FILES.key, data: key, mode: 0o600},
    {name: SVID_FILES.bundle, data: svid.bundle.join(''), mode: 0o600},
  ]
}

/**
 * After a change of trust: svid_bundle.pem alone is rewritten with the CA certificates trusted
 * now (the rest of the file set stays), once the set exists; nothing is written before the
 * first renewal, which writes it whole.
 */
export async function rewriteBundle(destination: Destination, context: ServiceContext): Promise<void> {
  if ((await destination.read(SVID_FILES.certificate)) === undefined) return
  const {certificates} = await context.trust()
  await destination.write([{name: SVID_FILES.bundle, data: certificates, mode: 0o600}])
}

export class X509Service extends DestinationService<X509Config> {
  readonly type = 'workload-identity-x509'

  async renew(context: ServiceContext): Promise<RenewalResult> {
    const {key, request} = await x509Request({...clusterSelector(this.config.selector, this.name), ttlSeconds: this.ttlSeconds})
    const [result] = await context.issue([{type: 'x509', ...request}])
    const svid = x509Of(result, this.name)
    await this.destination.write(x509Files(svid, key))
    return {expires: new Date(svid.notAfter), spiffeIds: [svid.spiffeId]}
  }

  /** A new signing key of the SPIFFE CA: a new SVID now; else the bundle alone. */
  async trustChanged(context: ServiceContext, change: TrustChange): Promise<boolean> {
    if (change.x509Signer) return true
    await rewriteBundle(this.destination, context)
    return false
  }
}
