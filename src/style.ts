/**
 * Colour for people at a terminal: successes green, errors red, warnings yellow. Nothing is
 * coloured when the stream is not a terminal or NO_COLOR (or NODE_DISABLE_COLORS) is set, or
 * TERM is dumb: node:util's styleText decides, from the stream it is given.
 */
import {styleText} from 'node:util'

export type Style = 'green' | 'red' | 'yellow'

export function paint(style: Style, text: string, stream: NodeJS.WriteStream = process.stderr): string {
  return styleText(style, text, {stream})
}
