/** Rendering `{{ attribute }}` templates (their grammar: resources/templates.ts) for a caller. */
import {WidError} from '../errors.js'
import {parseTemplate} from '../resources/templates.js'
import {resolveAttribute, type Attributes} from './attributes.js'

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

/** The attributes a template refers to, as written, each once. */
export function templateAttributes(template: string, field: string): string[] {
  return [...new Set(parseTemplate(template, field).flatMap((part) => ('attribute' in part ? [part.attribute] : [])))]
}
