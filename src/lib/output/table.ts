import {printable} from './printable.js'

/** Plain aligned tables for human-readable listings (`--format text`, `ls` commands); control characters in cells are escaped. */
export function renderTable(headers: string[], unsafeRows: string[][]): string {
  if (unsafeRows.length === 0) return ''
  const rows = unsafeRows.map((row) => row.map(printable))
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n') + '\n'
}
