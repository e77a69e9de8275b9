/**
 * Section-level editing of the AWS shared config file (`~/.aws/config`) that keeps every byte it
 * does not own: comments, blank lines, other sections and their order, line endings, a UTF-8 BOM.
 * INI libraries re-serialise the whole file and lose all of that, so this is a small line scanner.
 *
 * What a profile section "owns" when it is replaced: its header line is kept as written (spacing,
 * inline comment), and everything from there to the end of the section's last key line (a line
 * that is neither blank nor a comment, indented sub-keys included) is replaced by the new body.
 * Blank lines and comments after the last key line are kept: a comment directly above the next
 * header reads as belonging to that next section. Comments between key lines are replaced.
 */
import {badInput} from '../errors.js'

export interface ConfigSection {
  /** The header's inner text, trimmed and with whitespace runs collapsed: `profile dev`, `default`, `sso-session corp`. */
  header: string
  /** The profile name (`dev`, `default`), or '' for a section that is not a profile (`sso-session x`, `services x`). */
  name: string
  /** Offset of the header line's first character. */
  start: number
  /** Offset of the next header line, or the length of the text. */
  end: number
}

interface ScannedSection extends ConfigSection {
  /** Offset just after the header line's line ending. */
  headerEnd: number
  /** Offset just after the last key line, or `headerEnd` when the section has none. */
  ownEnd: number
}

interface Line {
  start: number
  /** Offset just after the line ending. */
  end: number
  /** The line without its line ending. */
  content: string
}

const BOM = '\uFEFF'
const HEADER = /^[ \t]*\[([^\]]*)\][ \t]*(?:[;#].*)?$/
const BLANK_OR_COMMENT = /^\s*(?:[;#]|$)/
const PROFILE_NAME = /^[A-Za-z0-9_.@+-]+$/
const MAX_PROFILE_NAME = 64

export function parseSections(text: string): ConfigSection[] {
  return scan(text).map(publicView)
}

/** `[default]` for the default profile, `[profile <name>]` for any other. */
export function profileHeader(name: string): string {
  checkProfileName(name)
  return name === 'default' ? '[default]' : `[profile ${name}]`
}

/** Every section of the profile, in file order: hand-edited files can repeat a profile. */
export function findProfile(text: string, name: string): ConfigSection[] {
  checkProfileName(name)
  return scan(text)
    .filter((section) => section.name === name)
    .map(publicView)
}

/**
 * Returns the new text: `body` (lines `key = value`) under the profile's header, replacing the
 * existing section(s) of that profile in place (the first occurrence; further duplicates are
 * removed), or appended at the end. Every other byte is preserved. New lines use the file's
 * dominant line ending; a file without a final newline gets one before an appended section.
 */
export function upsertProfile(text: string, name: string, body: string[]): string {
  const eol = dominantEol(text)
  const section = renderProfile(name, body, eol)
  const [first, ...duplicates] = scan(text).filter((found) => found.name === name)
  if (!first) {
    const content = text.startsWith(BOM) ? text.slice(BOM.length) : text
    return text + (content === '' || content.endsWith('\n') ? '' : eol) + section
  }
  let result = text
  for (const duplicate of duplicates.reverse()) result = result.slice(0, duplicate.start) + result.slice(duplicate.ownEnd)
  const header = text.slice(first.start, first.headerEnd)
  const headerLine = header.endsWith('\n') ? header : header + eol
  return result.slice(0, first.start) + headerLine + renderLines(body, eol) + result.slice(first.ownEnd)
}

export function renderProfile(name: string, body: string[], eol: '\n' | '\r\n' = '\n'): string {
  for (const line of body) {
    if (/[\r\n]/.test(line) || BLANK_OR_COMMENT.test(line) || HEADER.test(line)) {
      throw badInput(`aws: invalid config line ${JSON.stringify(line)} (expected "key = value" on one line)`)
    }
  }
  return profileHeader(name) + eol + renderLines(body, eol)
}

function renderLines(lines: string[], eol: string): string {
  return lines.map((line) => line + eol).join('')
}

function checkProfileName(name: string): void {
  if (!PROFILE_NAME.test(name)) throw badInput(`aws: invalid profile name "${name}" (letters, digits and _ . @ + - only)`)
  if (name.length > MAX_PROFILE_NAME) throw badInput(`aws: invalid profile name "${name}" (at most ${MAX_PROFILE_NAME} characters)`)
}

/** `default` for `[default]` and `[profile default]`, `dev` for `[profile dev]`, '' for anything else. */
function profileName(header: string): string {
  if (header === 'default') return header
  return header.startsWith('profile ') ? header.slice('profile '.length) : ''
}

function scan(text: string): ScannedSection[] {
  const sections: ScannedSection[] = []
  for (const line of splitLines(text)) {
    const current = sections.at(-1)
    const match = HEADER.exec(line.content)
    if (match) {
      if (current) current.end = line.start
      const header = match[1]!.trim().replace(/\s+/g, ' ')
      sections.push({header, name: profileName(header), start: line.start, end: text.length, headerEnd: line.end, ownEnd: line.end})
    } else if (current && !BLANK_OR_COMMENT.test(line.content)) {
      current.ownEnd = line.end
    }
  }
  return sections
}

/** The lines after a leading BOM; `content` drops `\n` or `\r\n`. */
function splitLines(text: string): Line[] {
  const lines: Line[] = []
  let start = text.startsWith(BOM) ? BOM.length : 0
  while (start < text.length) {
    const newline = text.indexOf('\n', start)
    const end = newline === -1 ? text.length : newline + 1
    lines.push({start, end, content: text.slice(start, newline === -1 ? end : newline).replace(/\r$/, '')})
    start = end
  }
  return lines
}

/** CRLF when most line endings are CRLF, otherwise (including ties and no line endings) LF. */
function dominantEol(text: string): '\n' | '\r\n' {
  const crlf = text.match(/\r\n/g)?.length ?? 0
  const lf = (text.match(/\n/g)?.length ?? 0) - crlf
  return crlf > lf ? '\r\n' : '\n'
}

function publicView({header, name, start, end}: ScannedSection): ConfigSection {
  return {header, name, start, end}
}
