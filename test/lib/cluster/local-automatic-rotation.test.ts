/**
 * Two full automatic rotations of the SPIFFE CA and the JWT key of an embedded cluster, as
 * local commands see them: each step opens the cluster (which moves rotations on) at a
 * clock the test passes in, 12 hours apart over 10 days, issues an X.509-SVID and a JWT-SVID,
 * and checks every SVID still valid then against the trust exported then: openssl verifies
 * the X.509-SVIDs (at that time, -attime), jose the JWT-SVIDs. A clock passed in, rather
 * than a ca_ttl of seconds: the shortest ca_ttl allowed is 144h (see rotation-policy.ts).
 */
import {generateKeyPairSync, X509Certificate} from 'node:crypto'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {LocalCluster} from '../../../src/lib/cluster/local.js'
import {tempDir} from '../../helpers/cli.js'
import {openssl} from '../../helpers/openssl.js'

const START = Date.parse('2026-11-23T10:00:00Z')
const HOUR_MS = 3600_000
const CA_TTL = 144 * 3600
const STEP_HOURS = 12
const certificates = (pem: string): string[] => pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/g) ?? []

interface Issued {
  x509: string
  x509NotAfter: number
  token: string
  tokenExpires: number
}

describe('automatic rotation of an embedded cluster, step by step on a clock passed in', () => {
  const tmp = tempDir()
  afterAll(() => tmp.cleanup())

  it('never leaves a valid SVID unverifiable, drops each old CA after its SVIDs expire, and gives each CA ca_ttl', async () => {
    const {jwtVerify, createLocalJWKSet} = await import('jose')
    let now = START
    const open = () => LocalCluster.open({home: tmp.path, now: () => new Date(now)})
    const first = await open()
    const legacyCa = certificates(await first.exportTrust('tls-spiffe'))[0]!
    await first.rotateAuthority({type: 'spiffe', automatic: true, caTtlSeconds: CA_TTL})
    await first.rotateAuthority({type: 'jwt', automatic: true, caTtlSeconds: CA_TTL})
    await first.close()

    const issued: Issued[] = []
    const seenCas = new Set<string>()
    let verifications = 0
    for (let hours = 0; hours <= 240; hours += STEP_HOURS) {
      now = START + hours * HOUR_MS
      const cluster = await open()
      try {
        const publicKey = generateKeyPairSync('ec', {namedCurve: 'P-256'}).publicKey.export({type: 'spki', format: 'pem'}) as string
        const x509 = await cluster.issueX509Svid({path: '/svc/web', publicKey, ttlSeconds: 24 * 3600})
        const jwt = await cluster.issueJwtSvid({path: '/svc/web', audiences: ['api'], ttlSeconds: 24 * 3600})
        issued.push({x509: x509.certificates[0]!, x509NotAfter: Date.parse(x509.notAfter), token: jwt.token, tokenExpires: Date.parse(jwt.expiresAt)})

        const bundle = join(tmp.path, 'bundle.pem')
        const cas = certificates(await cluster.exportTrust('tls-spiffe'))
        writeFileSync(bundle, cas.join(''))
        const jwks = createLocalJWKSet(JSON.parse(await cluster.exportTrust('jwks')) as Parameters<typeof createLocalJWKSet>[0])
        for (const svid of issued.filter((s) => s.x509NotAfter > now)) {
          const leaf = join(tmp.path, 'leaf.pem')
          writeFileSync(leaf, svid.x509)
          expect(openssl(['verify', '-attime', String(Math.floor(now / 1000)), '-CAfile', bundle, leaf]), `at +${hours}h`).toContain(': OK')
          verifications++
        }
        for (const svid of issued.filter((s) => s.tokenExpires > now)) {
          await jwtVerify(svid.token, jwks, {currentDate: new Date(now), audience: 'api'})
          verifications++
        }
        // no SVID outlives the CA that signed it; each CA made under the policy is valid for ca_ttl
        const signer = cas.map((pem) => new X509Certificate(pem)).find((ca) => new X509Certificate(x509.certificates[0]!).checkIssued(ca))!
        expect(Date.parse(x509.notAfter)).toBeLessThanOrEqual(Date.parse(signer.validTo))
        for (const pem of cas.filter((ca) => ca !== legacyCa)) {
          const ca = new X509Certificate(pem)
          expect(Date.parse(ca.validTo) - Date.parse(ca.validFrom)).toBe(CA_TTL * 1000)
          seenCas.add(pem)
        }
        // the CA made before the policy is gone once its last SVID expired: 120h (five sixths of 144h) + 24h
        expect(cas.includes(legacyCa)).toBe(hours < 144)
      } finally {
        await cluster.close()
      }
    }
    // prepared at 72h, 156h and 228h (a step after each half-life): two rotations done, a third under way
    expect(seenCas.size).toBe(3)
    expect(verifications).toBeGreaterThan(2 * issued.length)
    // an SVID of the CA made before the policy no longer verifies
    writeFileSync(join(tmp.path, 'old.pem'), issued[0]!.x509)
    expect(() => openssl(['verify', '-attime', String(Math.floor((START + HOUR_MS) / 1000)), '-CAfile', join(tmp.path, 'bundle.pem'), join(tmp.path, 'old.pem')])).toThrow()
  })
})
