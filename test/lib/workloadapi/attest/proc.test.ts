import {describe, expect, it} from 'vitest'
import {parseProcStat} from '../../../../src/lib/workloadapi/attest/proc.js'
import {refusal} from '../../../helpers/errors.js'

// fields 3..52 of a real /proc/PID/stat, with starttime (field 22) = 4242
const rest = 'S 1 100 100 0 -1 4194560 500 0 0 0 3 1 0 0 20 0 11 0 4242 1146572800 12000 18446744073709551615 1 1 0 0 0 0 0 16781312 134234626 0 0 0 17 2 0 0 0 0 0 0 0 0 0 0 0 0 0'

describe('parseProcStat', () => {
  it('reads the state and the start time (field 22)', () => {
    expect(parseProcStat(`1234 (node) ${rest}\n`)).toEqual({state: 'S', startTime: 4242})
  })

  it('counts fields after the last ")", so a command name with spaces and ")" cannot shift them', () => {
    // a process may name itself anything (prctl PR_SET_NAME), e.g. "a) R 1 2 3 (b"
    expect(parseProcStat(`1234 (a) R 1 2 3 ) x) ${rest}\n`)).toEqual({state: 'S', startTime: 4242})
    expect(parseProcStat(`1234 ( ) ) ${rest}`)).toEqual({state: 'S', startTime: 4242})
  })

  it('refuses text that is not a stat line', () => {
    expect(refusal(() => parseProcStat('1234 node S 1')).message).toBe('workloadapi: /proc stat has no command name in parentheses')
    expect(refusal(() => parseProcStat('1234 (node) S 1 2 3')).code).toBe('state')
    expect(refusal(() => parseProcStat(`1234 (node) ${rest.replace('4242', '42x')}`)).code).toBe('state')
  })
})
