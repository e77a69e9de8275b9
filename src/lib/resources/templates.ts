/**
 * `{{ attribute }}` templates in workload identity fields (DESIGN §4), e.g.
 * `/user/{{ user.name }}`. An expression is one attribute reference, optionally padded
 * with whitespace; everything outside the braces is literal text. Their grammar only:
 * auth/templates.ts renders them for a caller.
 */
import {badInput} from '../errors.js'
import {isKnownAttribute, unknownAttribute} from './attribute-names.js'

export type Part = {literal: string} | {attribute: string}

export function parseTemplate(template: string, field: string): Part[] {
  const parts: Part[] = []
  let rest = template
  for (let open = rest.indexOf('{{'); open !== -1; open = rest.indexOf('{{')) {
    const close = rest.indexOf('}}', open + 2)
    const nested = rest.indexOf('{{', open + 2)
    if (close === -1 || (nested !== -1 && nested < close)) throw badInput(`auth: ${field}: unterminated "{{"`)
    const attribute = rest.slice(open + 2, close).trim()
    if (attribute === '') throw badInput(`auth: ${field}: empty expression "${rest.slice(open, close + 2)}"`)
    if (!isKnownAttribute(attribute)) throw badInput(`auth: ${field}: ${unknownAttribute(attribute)}`)
    parts.push({literal: rest.slice(0, open)}, {attribute})
    rest = rest.slice(close + 2)
  }
  parts.push({literal: rest})
  return parts
}

/** The template as a glob: its literal text, with a wildcard for each expression (which may render to any text). */
export function templateGlob(template: string, field: string): string[] {
  const glob: string[] = []
  for (const part of parseTemplate(template, field)) {
    if ('literal' in part) glob.push(part.literal)
  }
  return glob
}

export function isTemplated(template: string): boolean {
  return template.includes('{{')
}

export function checkTemplate(template: string, field: string): void {
  parseTemplate(template, field)
}
