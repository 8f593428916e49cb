/** Left-aligned columns separated by two spaces, in the style of Kipper's own tables. */
export function formatTable(header: string[], rows: string[][], rightAlign: number[] = []): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    ' ' +
    cells
      .map((c, i) => (rightAlign.includes(i) ? c.padStart(widths[i]!) : i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
