/**
 * The trust bundles the Workload API serves: the trust domain's X.509 CA certificates and its
 * JWT keys (JWKS), as last fetched from the cluster. A change is announced so that open
 * streams send the new state.
 */
import {EventEmitter} from 'node:events'
import type {Jwks} from '../bundle/jwks.js'
import {decodePem} from '../crypto/pem.js'

export interface TrustSnapshot {
  trustDomain: string
  /** CA certificates, DER each. */
  x509: Uint8Array[]
  jwks: Jwks
}

export class TrustState extends EventEmitter<{changed: [TrustSnapshot]}> {
  private snapshot?: TrustSnapshot
  private fingerprint = ''

  constructor() {
    super()
    // Every open stream listens: hundreds are expected, not a leak.
    this.setMaxListeners(0)
  }

  get current(): TrustSnapshot | undefined {
    return this.snapshot
  }

  /** Takes what the cluster exported (PEM certificates, JWKS JSON); true when it changed. */
  update(trustDomain: string, certificatesPem: string, jwksJson: string): boolean {
    const jwks = JSON.parse(jwksJson) as Jwks
    const fingerprint = JSON.stringify([trustDomain, certificatesPem, jwks])
    if (fingerprint === this.fingerprint) return false
    this.fingerprint = fingerprint
    this.snapshot = {trustDomain, x509: decodePem(certificatesPem).map((block) => block.der), jwks}
    this.emit('changed', this.snapshot)
    return true
  }

  /** The JWT bundles by trust domain name, for validation. */
  jwtBundles(): Map<string, Jwks> {
    return new Map(this.snapshot ? [[this.snapshot.trustDomain, this.snapshot.jwks]] : [])
  }
}
