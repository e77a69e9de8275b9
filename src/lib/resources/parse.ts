/**
 * Reads a stream of YAML (or JSON, which is YAML) documents and keeps, for each one, a way
 * back from a field path to the line and column it came from, so that every error can point
 * at `file:line:col`.
 */
import {isMap, isSeq, LineCounter, parseAllDocuments, type Document, type Node} from 'yaml'
import {WidError} from '../errors.js'
import type {FieldPath} from './field-path.js'

export {formatPath, type FieldPath} from './field-path.js'

/** Largest stream `wid create` reads; anything bigger is refused before parsing. */
export const MAX_INPUT_BYTES = 4 * 1024 * 1024
/** Alias expansions allowed per document (YAML "billion laughs" protection). */
const MAX_ALIAS_COUNT = 100

export interface SourceDocument {
  source: string
  /** 1-based position of the document in the stream. */
  index: number
  value: unknown
  /** `file:line:col` of the field at `path` (of its key when `key` is set), or of the nearest parent that exists. */
  locate(path: FieldPath, key?: boolean): string
}

export class FieldError extends WidError {
  readonly path: FieldPath
  readonly atKey: boolean

  constructor(path: FieldPath, message: string, atKey = false) {
    super('bad_input', message)
    this.path = path
    this.atKey = atKey
  }
}

function position(source: string, lines: LineCounter, offset: number): string {
  const {line, col} = lines.linePos(offset)
  return `${source}:${line}:${col}`
}

function nodeAt(document: Document, path: FieldPath, key: boolean): {node: Node | undefined; keyNode?: Node} {
  let node: unknown = document.contents
  let keyNode: Node | undefined
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((item) => (item.key as {value?: unknown} | null)?.value === segment)
      if (!pair) break
      keyNode = pair.key as Node
      node = pair.value
    } else if (isSeq(node) && typeof segment === 'number' && node.items[segment]) {
      keyNode = undefined
      node = node.items[segment]
    } else {
      break
    }
  }
  return {node: (node ?? undefined) as Node | undefined, keyNode: key ? keyNode : undefined}
}

export function parseResourceStream(text: string, source: string): SourceDocument[] {
  if (Buffer.byteLength(text) > MAX_INPUT_BYTES) {
    throw new WidError('bad_input', `${source}: input is larger than ${MAX_INPUT_BYTES / 1024 / 1024} MiB`)
  }
  const lines = new LineCounter()
  const documents = parseAllDocuments(text, {lineCounter: lines, uniqueKeys: true, prettyErrors: false, strict: true})
  const list = Array.isArray(documents) ? documents : []
  const parsed: SourceDocument[] = []
  for (const document of list) {
    const error = document.errors[0]
    if (error) throw new WidError('bad_input', `${position(source, lines, error.pos[0])}: ${yamlMessage(error.message)}`)
    let value: unknown
    try {
      value = document.toJS({maxAliasCount: MAX_ALIAS_COUNT})
    } catch (err) {
      const offset = document.contents?.range?.[0] ?? 0
      throw new WidError('bad_input', `${position(source, lines, offset)}: ${yamlMessage((err as Error).message)}`)
    }
    if (value === null || value === undefined) continue
    const index = parsed.length + 1
    parsed.push({
      source,
      index,
      value,
      locate(path, key = false) {
        const {node, keyNode} = nodeAt(document, path, key)
        const offset = (keyNode ?? node)?.range?.[0] ?? document.contents?.range?.[0] ?? 0
        return position(source, lines, offset)
      },
    })
  }
  return parsed
}

/** The yaml library's first sentence, lowercased, without its code-frame or trailing period. */
function yamlMessage(message: string): string {
  // The parser recurses once per level of nesting: thousands of levels exhaust the stack.
  if (/maximum call stack size exceeded/i.test(message)) return 'input is nested too deeply'
  const first = message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '').replace(/\.$/, '')
  return first.charAt(0).toLowerCase() + first.slice(1)
}
