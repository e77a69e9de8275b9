import {beforeAll, describe, expect, it} from 'vitest'
import {newX509AuthorityKey} from '../../../src/lib/auth/authorities.js'
import {keyId} from '../../../src/lib/auth/rotation.js'
import {adviceOf, followedAuthorities, shouldFollow, signingPin, untrustedServer} from '../../../src/lib/cluster/advice.js'
import {TrustDomain} from '../../../src/lib/spiffeid/index.js'

let old: {pem: string; pin: string}
let fresh: {pem: string; pin: string}
let other: {pem: string; pin: string}

beforeAll(async () => {
  const make = async () => {
    const key = await newX509AuthorityKey(TrustDomain.parse('example.org'), 'ec-p256', new Date(), 'host')
    return {pem: key.certificate!, pin: keyId(key)}
  }
  ;[old, fresh, other] = await Promise.all([make(), make(), make()])
})

describe('adviceOf', () => {
  it('reads the host CA pins and the re-issue advice of an answer', () => {
    expect(adviceOf({'wid-host-ca-pins': `${old.pin},${fresh.pin}`, 'wid-reissue': 'client-ca'})).toEqual({hostCaPins: [old.pin, fresh.pin], reissue: true})
    expect(adviceOf({})).toEqual({reissue: false})
  })
})

describe('shouldFollow', () => {
  it('follows when the pins differ, in order too (the signing CA first), or a re-issue is asked', () => {
    expect(shouldFollow({hostCaPins: [old.pin], reissue: false}, [old.pem])).toBe(false)
    expect(shouldFollow({hostCaPins: [old.pin, fresh.pin], reissue: false}, [old.pem])).toBe(true)
    expect(shouldFollow({hostCaPins: [fresh.pin, old.pin], reissue: false}, [old.pem, fresh.pem])).toBe(true)
    expect(shouldFollow({reissue: false}, [old.pem])).toBe(false)
    expect(shouldFollow({reissue: true}, [old.pem])).toBe(true)
    expect(shouldFollow(undefined, [old.pem])).toBe(false)
  })
})

describe('followedAuthorities', () => {
  it('takes a list that keeps a CA trusted until now, signing first', () => {
    expect(followedAuthorities([old.pem], [old.pem, fresh.pem])).toEqual([old.pem, fresh.pem])
    expect(followedAuthorities([old.pem, fresh.pem], [fresh.pem])).toEqual([fresh.pem])
    expect(signingPin([fresh.pem, old.pem])).toBe(fresh.pin)
  })

  it('changes nothing for the same list, nor for one that shares no CA (a server presenting a certificate of its own)', () => {
    expect(followedAuthorities([old.pem, fresh.pem], [old.pem, fresh.pem])).toBeUndefined()
    expect(followedAuthorities([other.pem], [old.pem, fresh.pem])).toBeUndefined()
  })
})

describe('untrustedServer', () => {
  it('knows the codes of a server certificate of a CA the client does not trust', () => {
    expect(untrustedServer(Object.assign(new Error('self-signed certificate in certificate chain'), {code: 'SELF_SIGNED_CERT_IN_CHAIN'}))).toBe(true)
    expect(untrustedServer(Object.assign(new Error('connect ECONNREFUSED'), {code: 'ECONNREFUSED'}))).toBe(false)
  })
})
