/** Byte-preserving edits of the AWS shared config file (src/lib/aws/config-file.ts). */
import {describe, expect, it} from 'vitest'
import {findProfile, parseSections, profileHeader, renderProfile, upsertProfile} from '../../../src/lib/aws/config-file.js'
import {refusal} from '../../helpers/errors.js'

const BODY = ['credential_process = wid aws credentials --profile wid', 'region = eu-west-1']
const NEW_LF = 'credential_process = wid aws credentials --profile wid\nregion = eu-west-1\n'
const NEW_CRLF = 'credential_process = wid aws credentials --profile wid\r\nregion = eu-west-1\r\n'

/**
 * An edit case: the input is `before + old + after`; the expected output is `before + replacement + after`,
 * so every byte outside the edited range is checked against the input.
 */
interface Case {
  given: string
  name: string
  before: string
  old: string
  after: string
  replacement: string
}

const CASES: Case[] = [
  {
    given: 'an empty file',
    name: 'wid',
    before: '',
    old: '',
    after: '',
    replacement: `[profile wid]\n${NEW_LF}`,
  },
  {
    given: 'a file without a trailing newline and without the profile',
    name: 'wid',
    before: '[default]\nregion = us-east-1',
    old: '',
    after: '',
    replacement: `\n[profile wid]\n${NEW_LF}`,
  },
  {
    given: 'a file without a trailing newline that ends inside the profile',
    name: 'wid',
    before: '[default]\nregion = us-east-1\n\n[profile wid]\n',
    old: 'region = us-west-2',
    after: '',
    replacement: NEW_LF,
  },
  {
    given: 'a file that ends with the profile header and no newline',
    name: 'wid',
    before: '[default]\nregion = us-east-1\n[profile wid]',
    old: '',
    after: '',
    replacement: `\n${NEW_LF}`,
  },
  {
    given: 'a CRLF file with the profile in the middle',
    name: 'wid',
    before: '[default]\r\nregion = us-east-1\r\n\r\n[profile wid]\r\n',
    old: 'region = us-west-2\r\noutput = json\r\n',
    after: '\r\n[profile other]\r\nregion = ap-south-1\r\n',
    replacement: NEW_CRLF,
  },
  {
    given: 'a CRLF file without the profile',
    name: 'wid',
    before: '[default]\r\nregion = us-east-1\r\n',
    old: '',
    after: '',
    replacement: `[profile wid]\r\n${NEW_CRLF}`,
  },
  {
    given: 'a CRLF file without a trailing newline',
    name: 'wid',
    before: '[default]\r\nregion = us-east-1',
    old: '',
    after: '',
    replacement: `\r\n[profile wid]\r\n${NEW_CRLF}`,
  },
  {
    given: 'a mixed file with mostly CRLF and one LF line',
    name: 'wid',
    before: '[default]\r\nregion = us-east-1\noutput = json\r\n\r\n[profile wid]\r\n',
    old: 'region = us-west-2\r\n',
    after: '',
    replacement: NEW_CRLF,
  },
  {
    given: 'a mixed file with mostly LF and one CRLF line',
    name: 'wid',
    before: '[default]\nregion = us-east-1\r\noutput = json\n\n[profile wid]\n',
    old: 'region = us-west-2\n',
    after: '',
    replacement: NEW_LF,
  },
  {
    given: 'a [default] section',
    name: 'default',
    before: '# my settings\n[default]\n',
    old: 'region = us-east-1\n',
    after: '\n[profile dev]\nregion = us-west-2\n',
    replacement: NEW_LF,
  },
  {
    given: 'a [profile default] section',
    name: 'default',
    before: '[profile default]\n',
    old: 'region = us-east-1\n',
    after: '',
    replacement: NEW_LF,
  },
  {
    given: 'a header with extra spaces, kept as written',
    name: 'wid',
    before: '[default]\nregion = us-east-1\n  [profile   wid ]  \n',
    old: 'region = us-west-2\n',
    after: '[profile other]\nregion = ap-south-1\n',
    replacement: NEW_LF,
  },
  {
    given: 'comments with ; and #, including inline after the header and above the next header',
    name: 'wid',
    before: '; top comment\n# another\n[profile wid] ; managed by wid\n',
    old: 'region = us-west-2\n# between keys\noutput = json\n',
    after: '\n; about the next section\n# more\n[profile other] # inline\nregion = ap-south-1\n',
    replacement: NEW_LF,
  },
  {
    given: 'trailing comments and blank lines after the profile at the end of the file',
    name: 'wid',
    before: '[profile wid]\n',
    old: 'region = us-west-2\n',
    after: '\n# the end\n\n',
    replacement: NEW_LF,
  },
  {
    given: 'an sso-session and a services section with the profile name',
    name: 'wid',
    before: '[sso-session wid]\nsso_region = us-east-1\n\n[services wid]\ns3 =\n  endpoint_url = http://localhost:9000\n',
    old: '',
    after: '',
    replacement: `[profile wid]\n${NEW_LF}`,
  },
  {
    given: 'a profile dev2 whose name extends dev',
    name: 'dev',
    before: '[profile dev2]\nregion = us-east-1\n\n[profile dev]\n',
    old: 'region = us-west-2\n',
    after: '\n[profile dev-old]\nregion = eu-north-1\n',
    replacement: NEW_LF,
  },
  {
    given: 'a profile dev when dev2 is edited',
    name: 'dev2',
    before: '[profile dev]\nregion = us-west-2\n\n[profile dev2]\n',
    old: 'region = us-east-1\n',
    after: '',
    replacement: NEW_LF,
  },
  {
    given: 'nested s3 sub-keys in the edited profile',
    name: 'wid',
    before: '[profile wid]\n',
    old: 'region = us-west-2\ns3 =\n  max_concurrent_requests = 10\n  multipart_threshold = 64MB\n',
    after: '\n[profile other]\nregion = ap-south-1\n',
    replacement: NEW_LF,
  },
  {
    given: 'nested s3 sub-keys in another profile',
    name: 'wid',
    before: '[profile other]\ns3 =\n  max_concurrent_requests = 10\n',
    old: '',
    after: '',
    replacement: `[profile wid]\n${NEW_LF}`,
  },
  {
    given: 'a UTF-8 BOM before the first section',
    name: 'default',
    before: '\uFEFF[default]\n',
    old: 'region = us-east-1\n',
    after: '',
    replacement: NEW_LF,
  },
  {
    given: 'a UTF-8 BOM and nothing else',
    name: 'wid',
    before: '\uFEFF',
    old: '',
    after: '',
    replacement: `[profile wid]\n${NEW_LF}`,
  },
  {
    given: 'a UTF-8 BOM and a file without the profile',
    name: 'wid',
    before: '\uFEFF[default]\nregion = us-east-1\n',
    old: '',
    after: '',
    replacement: `[profile wid]\n${NEW_LF}`,
  },
]

describe('upsertProfile', () => {
  it.each(CASES)('edits only the profile section given $given', ({name, before, old, after, replacement}) => {
    // Given the file
    const input = before + old + after
    // When the profile is upserted
    const result = upsertProfile(input, name, BODY)
    // Then the bytes before and after the edited range are the input's, and only the range changed
    expect(result.slice(0, before.length)).toBe(before)
    expect(result.slice(result.length - after.length)).toBe(after)
    expect(result).toBe(before + replacement + after)
    // And the profile is found exactly once, with the new body
    const sections = findProfile(result, name)
    expect(sections).toHaveLength(1)
    expect(result.slice(sections[0]!.start, sections[0]!.end)).toContain(replacement.slice(replacement.indexOf(BODY[0]!)))
  })

  it.each(CASES)('gives the same text when the same body is upserted twice, given $given', ({name, before, old, after}) => {
    // Given the file with the profile upserted once
    const once = upsertProfile(before + old + after, name, BODY)
    // When the same body is upserted again
    const twice = upsertProfile(once, name, BODY)
    // Then nothing changes
    expect(twice).toBe(once)
  })

  it('keeps the first of duplicate sections and removes the others, keeping what follows them', () => {
    // Given a hand-edited file that repeats the profile, once as [default] and once as [profile default]
    const input = [
      '[default]\nregion = us-east-1\n',
      '\n# dev\n[profile dev]\nregion = us-west-2\n\n',
      '[profile default] ; again\noutput = json\n',
      '# keep me\n\n[profile ops]\nregion = eu-west-1\n',
      '[default]\nregion = ap-south-1',
    ].join('')
    // When the default profile is upserted
    const result = upsertProfile(input, 'default', BODY)
    // Then the first section is replaced in place, the duplicates' own lines are gone, and every other byte stays
    expect(result).toBe(
      [
        `[default]\n${NEW_LF}`,
        '\n# dev\n[profile dev]\nregion = us-west-2\n\n',
        '# keep me\n\n[profile ops]\nregion = eu-west-1\n',
      ].join(''),
    )
    expect(findProfile(result, 'default')).toHaveLength(1)
    expect(parseSections(result).map((section) => section.name)).toEqual(['default', 'dev', 'ops'])
  })

  it('replaces a section that has no key lines', () => {
    // Given a profile with only a header and a comment
    const input = '[profile wid]\n# empty for now\n[profile other]\nregion = ap-south-1\n'
    // When it is upserted
    const result = upsertProfile(input, 'wid', BODY)
    // Then the body goes right under the header and the comment stays above the next header
    expect(result).toBe(`[profile wid]\n${NEW_LF}# empty for now\n[profile other]\nregion = ap-south-1\n`)
  })

  it('refuses a body line with a newline, a blank line, a comment or a header', () => {
    for (const line of ['region = us-east-1\n[profile evil]', 'region = a\rb', '', '   ', '# note', '; note', '[profile evil]']) {
      // Given a body line that would not stay a single key line of the section
      // When it is upserted
      const error = refusal(() => upsertProfile('', 'wid', [line]))
      // Then it is bad_input and quotes the line
      expect(error.code).toBe('bad_input')
      expect(error.message).toBe(`aws: invalid config line ${JSON.stringify(line)} (expected "key = value" on one line)`)
    }
  })
})

describe('profile names', () => {
  it.each(['x y', '', 'a]b', 'dev\n', 'prod/eu', 'ünï'])('refuses %j with bad_input', (name) => {
    // Given an invalid profile name
    // When any function takes it
    for (const action of [() => profileHeader(name), () => findProfile('', name), () => upsertProfile('', name, BODY)]) {
      const error = refusal(action)
      // Then it is bad_input with the allowed characters
      expect(error.code).toBe('bad_input')
      expect(error.message).toBe(`aws: invalid profile name "${name}" (letters, digits and _ . @ + - only)`)
    }
  })

  it('accepts 64 characters and refuses 65', () => {
    // Given names at and over the length limit
    // When headers are made for them
    // Then the longer one is refused
    expect(profileHeader('a'.repeat(64))).toBe(`[profile ${'a'.repeat(64)}]`)
    const error = refusal(() => profileHeader('a'.repeat(65)))
    expect(error.code).toBe('bad_input')
    expect(error.message).toContain('at most 64 characters')
  })

  it('makes [default] for the default profile and [profile <name>] for others', () => {
    // Given the default and a named profile with every allowed character
    // When their headers are made
    // Then default has no prefix
    expect(profileHeader('default')).toBe('[default]')
    expect(profileHeader('Dev_1.a@b+c-d')).toBe('[profile Dev_1.a@b+c-d]')
  })
})

describe('renderProfile', () => {
  it('renders the header and body with LF by default or the given line ending', () => {
    // Given a body with an indented sub-key
    const body = ['s3 =', '  max_concurrent_requests = 10']
    // When it is rendered
    // Then every line ends with the line ending
    expect(renderProfile('dev', body)).toBe('[profile dev]\ns3 =\n  max_concurrent_requests = 10\n')
    expect(renderProfile('default', body, '\r\n')).toBe('[default]\r\ns3 =\r\n  max_concurrent_requests = 10\r\n')
  })
})

describe('parseSections', () => {
  it('finds every header with its offsets, normalised name and kind', () => {
    // Given a file with a preamble, odd spacing, inline comments and non-profile sections
    const text = [
      '\uFEFF# preamble\n',
      '[default]\nregion = us-east-1\n',
      '  [profile   dev  ops ] ; x\r\n',
      '[sso-session corp]\nsso_region = us-east-1\n',
      '[services local]\n',
      '[profile default]\n',
      '[dev]\n',
      '[profile dev] trailing text is a key line\n',
      '[profile]',
    ].join('')
    // When it is parsed
    const sections = parseSections(text)
    // Then each section runs from its header line to the next header, and only profiles have a name
    const starts = ['[default]', '  [profile   dev', '[sso-session', '[services', '[profile default]', '[dev]', '[profile]'].map((header) => text.indexOf(header))
    const ends = [...starts.slice(1), text.length]
    expect(sections).toEqual([
      {header: 'default', name: 'default'},
      {header: 'profile dev ops', name: 'dev ops'},
      {header: 'sso-session corp', name: ''},
      {header: 'services local', name: ''},
      {header: 'profile default', name: 'default'},
      {header: 'dev', name: ''},
      {header: 'profile', name: ''},
    ].map((section, index) => ({...section, start: starts[index], end: ends[index]})))
  })

  it('finds nothing in an empty file or a file with only comments', () => {
    // Given files without headers
    // When they are parsed
    // Then there are no sections
    expect(parseSections('')).toEqual([])
    expect(parseSections('# only a comment\n; another\n')).toEqual([])
  })
})

describe('findProfile', () => {
  it('finds [default] and [profile default] as the default profile, and never an sso-session', () => {
    // Given both spellings of default and an sso-session named like a profile
    const text = '[default]\na = 1\n[sso-session dev]\nb = 2\n[profile default]\nc = 3\n[profile dev2]\nd = 4\n'
    // When profiles are looked up
    // Then default matches both spellings, and dev matches neither the sso-session nor dev2
    expect(findProfile(text, 'default').map((section) => section.header)).toEqual(['default', 'profile default'])
    expect(findProfile(text, 'dev')).toEqual([])
    expect(findProfile(text, 'dev2')).toEqual([{header: 'profile dev2', name: 'dev2', start: text.indexOf('[profile dev2]'), end: text.length}])
  })
})
