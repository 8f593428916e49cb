import { printableLine } from './printable.js';

/**
 * Left-aligned columns separated by two spaces, in the style of Kipper's own tables. Cells
 * are escaped (`printableLine`) before they are measured, so a control character cannot skew a column.
 */
export function formatTable(header: string[], body: string[][], rightAlign: number[] = []): string {
  const rows = body.map((r) => r.map(printableLine));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    ' ' +
    cells
      .map((c, i) =>
        rightAlign.includes(i) ? c.padStart(widths[i]!) : i === cells.length - 1 ? c : c.padEnd(widths[i]!),
      )
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
