/**
 * Certificates of remote mode: the server's TLS certificate (host CA) and the client
 * certificates that users and bots present (client CA). A client certificate names its
 * holder in the subject (CN = name, OU = user|bot, and for a user serialNumber = its
 * login_id, which changes when the user is deleted and created again; for a bot serialNumber =
 * its instance id and pseudonym = the instance's generation); what they may do is decided from
 * the store on every call, so a role change takes effect without a new login.
 */
import {isIP} from 'node:net'
import {
  authorityKeyIdentifier,
  basicConstraints,
  buildCertificate,
  encodeName,
  extKeyUsage,
  KeyUsage,
  keyUsage,
  OID,
  randomSerial,
  subjectAltName,
  type GeneralName,
} from '../crypto/certificate.js'
import {encodePem} from '../crypto/pem.js'
import {subjectPublicKeyType} from '../crypto/spki.js'
import type {SigningAuthority} from '../svid/x509.js'
import type {Caller} from './principal.js'

export interface IssuedCertificate {
  certificate: string
  notAfter: string
}

function leafUsage(spki: Uint8Array): number[] {
  return [KeyUsage.digitalSignature, subjectPublicKeyType(spki) === 'rsa-2048' ? KeyUsage.keyEncipherment : KeyUsage.keyAgreement]
}

export function issueHostCertificate(ca: SigningAuthority, names: string[], spki: Uint8Array, now: Date, ttlSeconds: number): IssuedCertificate {
  const notAfter = new Date(now.getTime() + ttlSeconds * 1000)
  const sans = [...new Set(names)].map((n): GeneralName => ({type: isIP(n.replace(/^\[|\]$/g, '')) ? 'ip' : 'dns', value: n.replace(/^\[|\]$/g, '')}))
  const der = buildCertificate({
    serial: randomSerial(),
    issuer: ca.subject,
    subject: encodeName([{oid: OID.commonName, value: names[0] ?? 'wid'}]),
    notBefore: new Date(now.getTime() - 60_000),
    notAfter,
    subjectPublicKeyInfo: spki,
    signer: {privateKey: ca.privateKey, type: ca.keyType},
    extensions: [
      keyUsage(leafUsage(spki)),
      extKeyUsage([OID.serverAuth]),
      basicConstraints(false),
      authorityKeyIdentifier(ca.keyId),
      subjectAltName(sans, false),
    ],
  })
  return {certificate: encodePem('CERTIFICATE', der), notAfter: notAfter.toISOString()}
}

export function issueClientCertificate(ca: SigningAuthority, holder: Caller, spki: Uint8Array, now: Date, ttlSeconds: number): IssuedCertificate {
  const notAfter = new Date(now.getTime() + ttlSeconds * 1000)
  const der = buildCertificate({
    serial: randomSerial(),
    issuer: ca.subject,
    subject: encodeName([
      {oid: OID.organizationalUnit, value: holder.kind},
      {oid: OID.commonName, value: holder.name},
      ...(holder.kind === 'user' && holder.loginId ? [{oid: OID.serialNumber, value: holder.loginId}] : []),
      ...(holder.kind === 'bot' && holder.instanceId !== undefined && holder.generation !== undefined
        ? [{oid: OID.serialNumber, value: holder.instanceId}, {oid: OID.pseudonym, value: String(holder.generation)}]
        : []),
    ]),
    notBefore: new Date(now.getTime() - 60_000),
    notAfter,
    subjectPublicKeyInfo: spki,
    signer: {privateKey: ca.privateKey, type: ca.keyType},
    extensions: [keyUsage(leafUsage(spki)), extKeyUsage([OID.clientAuth]), basicConstraints(false), authorityKeyIdentifier(ca.keyId)],
  })
  return {certificate: encodePem('CERTIFICATE', der), notAfter: notAfter.toISOString()}
}
