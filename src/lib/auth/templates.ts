/** Rendering `{{ attribute }}` templates (their grammar: resources/templates.ts) for a caller. */
import {WidError} from '../errors.js'
import {parseTemplate} from '../resources/templates.js'
import {resolveAttribute, type Attributes} from './attributes.js'

/**
 * `wildcardFree`: no attribute value may hold `*` (in a DNS SAN a wildcard comes only from the
 * template's own text, never from a value a CI job or a user chose, such as a workflow's name).
 */
export function renderTemplate(template: string, attributes: Attributes, field: string, options: {wildcardFree?: boolean} = {}): string {
  return parseTemplate(template, field)
    .map((part) => {
      if ('literal' in part) return part.literal
      const value = resolveAttribute(attributes, part.attribute)
      const refusal = `auth: cannot render ${field}: attribute ${JSON.stringify(part.attribute)}`
      if (value.kind === 'unset') throw new WidError('access_denied', `${refusal} is not set`)
      if (value.kind === 'multi') throw new WidError('access_denied', `${refusal} has ${value.values.length} values; a template needs exactly one`)
      if (options.wildcardFree && value.value.includes('*')) throw new WidError('access_denied', `${refusal} holds "*": a wildcard may come only from the template itself`)
      return value.value
    })
    .join('')
}

/** The attributes a template refers to, as written, each once. */
export function templateAttributes(template: string, field: string): string[] {
  return [...new Set(parseTemplate(template, field).flatMap((part) => ('attribute' in part ? [part.attribute] : [])))]
}
