/**
 * `{{ attribute }}` templates in workload identity fields (DESIGN §4), e.g.
 * `/user/{{ user.name }}`. An expression is one attribute reference, optionally padded
 * with whitespace; everything outside the braces is literal text.
 */
import {WidError, badInput} from '../errors.js'
import {isKnownAttribute, resolveAttribute, unknownAttribute, type Attributes} from './attributes.js'

type Part = {literal: string} | {attribute: string}

function parseTemplate(template: string, field: string): Part[] {
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

export function renderTemplate(template: string, attributes: Attributes, field: string): string {
  return parseTemplate(template, field)
    .map((part) => {
      if ('literal' in part) return part.literal
      const value = resolveAttribute(attributes, part.attribute)
      const refusal = `auth: cannot render ${field}: attribute ${JSON.stringify(part.attribute)}`
      if (value.kind === 'unset') throw new WidError('access_denied', `${refusal} is not set`)
      if (value.kind === 'multi') throw new WidError('access_denied', `${refusal} has ${value.values.length} values; a template needs exactly one`)
      return value.value
    })
    .join('')
}
