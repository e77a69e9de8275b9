/** DER times (src/lib/crypto/der.ts): what `time` writes, `readTime` reads back, either side of 2050. */
import {describe, expect, it} from 'vitest'
import {readTime, readTlv, time} from '../../../src/lib/crypto/der.js'

describe('DER times', () => {
  it.each(['2026-11-23T10:00:00.000Z', '1999-12-31T23:59:59.000Z', '2049-12-31T23:59:59.000Z', '2050-01-01T00:00:00.000Z', '2126-11-23T10:00:00.000Z'])('reads back %s', (iso) => {
    expect(readTime(readTlv(time(new Date(iso)))).toISOString()).toBe(iso)
  })

  it('refuses a time that is not whole seconds in UTC', () => {
    const local = Uint8Array.from([0x17, 0x0d, ...Buffer.from('261123100000+')])
    expect(() => readTime(readTlv(local))).toThrow('crypto: malformed DER encoding')
  })
})
