import {describe, expect, it} from 'vitest'
import {escapeC1InJson, printable} from '../../../src/lib/output/printable.js'

describe('printable', () => {
  it('escapes C0, DEL and C1 controls as \\xNN', () => {
    expect(printable('a\u001b[31mb\u007fc\u009bd\ne')).toBe('a\\x1b[31mb\\x7fc\\x9bd\\x0ae')
  })

  it('escapes the bidirectional controls and the line separators as \\uNNNN, so that text shows in the order it is stored', () => {
    expect(printable('admin\u202e\u2066txt.exe\u2069\u2028x\u2029\u200f\u061c')).toBe('admin\\u202e\\u2066txt.exe\\u2069\\u2028x\\u2029\\u200f\\u061c')
  })

  it('leaves other text alone, accents and emoji included', () => {
    expect(printable('café – 日本 ✔ 🚀')).toBe('café – 日本 ✔ 🚀')
  })
})

describe('escapeC1InJson', () => {
  it('writes DEL and C1 controls as \\u escapes, still valid JSON', () => {
    const json = escapeC1InJson(JSON.stringify({a: 'x\u009by\u007f'}))
    expect(json).toBe('{"a":"x\\u009by\\u007f"}')
    expect(JSON.parse(json)).toEqual({a: 'x\u009by\u007f'})
  })
})
