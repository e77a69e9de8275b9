import {describe, expect, it} from 'vitest'
import {renderTable} from '../../../src/lib/output/table.js'

describe('renderTable', () => {
  it('aligns columns and leaves the last one unpadded', () => {
    expect(renderTable(['NAME', 'ROLES'], [['alice', 'access'], ['bob', 'access, editor']])).toBe(
      'NAME   ROLES\n-----  --------------\nalice  access\nbob    access, editor\n',
    )
    expect(renderTable(['NAME'], [])).toBe('')
  })

  it('escapes control characters, so stored text cannot drive the terminal or forge rows', () => {
    const table = renderTable(['TYPE', 'SUBJECT'], [['user.login_failed', 'user x\u001b[2J\nadmin:root  forged\u0007']])
    expect(table).toBe('TYPE               SUBJECT\n-----------------  ---------------------------------------\nuser.login_failed  user x\\x1b[2J\\x0aadmin:root  forged\\x07\n')
    expect(table.split('\n')).toHaveLength(4)
  })
})
