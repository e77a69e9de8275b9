/**
 * Control characters (from user input, stored names, remote messages) shown escaped, never
 * sent to a terminal: C0, DEL and C1 as \xNN; the line and paragraph separators and the
 * bidirectional controls (which reorder what a terminal shows, "Trojan Source") as \uNNNN.
 */
export function printable(text: string): string {
  return (
    text
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
      .replace(/[\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
  )
}

/**
 * JSON text with DEL and the C1 controls (U+007F–U+009F) written as \u escapes: the same data,
 * but JSON.stringify escapes only U+0000–U+001F, and a raw U+009B is a CSI to some terminals.
 * Outside strings JSON text has no such character, so the text stays valid.
 */
export function escapeC1InJson(json: string): string {
  return json.replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}
