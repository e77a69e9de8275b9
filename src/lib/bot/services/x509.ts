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

export class X509Service extends DestinationService<X509Config> {
  readonly type = 'workload-identity-x509'

  async renew(context: ServiceContext): Promise<RenewalResult> {
    const {key, request} = await x509Request({...clusterSelector(this.config.selector, this.name), ttlSeconds: this.ttlSeconds})
    const [result] = await context.issue([{type: 'x509', ...request}])
    const svid = x509Of(result, this.name)
    await this.destination.write(x509Files(svid, key))
    return {expires: new Date(svid.notAfter), spiffeIds: [svid.spiffeId]}
  }
}
