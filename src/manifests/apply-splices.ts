import type { Splice } from './render-scalar.js';

/**
 * Apply non-overlapping splices to `text` in one pass. Everything between them is
 * copied through untouched, which is what keeps CRLF, a BOM, comments and long lines
 * exactly as they were.
 */
export function applySplices(text: string, splices: readonly Splice[]): string {
  // An insertion sorts before a removal that starts where it does (a key added after
  // the line whose successor is removed).
  const ordered = [...splices].sort((a, b) => a.start - b.start || a.end - b.end);
  let out = '';
  let at = 0;
  for (const splice of ordered) {
    if (splice.start < at) throw new Error(`overlapping edits at offset ${splice.start}`);
    out += text.slice(at, splice.start) + splice.source;
    at = splice.end;
  }
  return out + text.slice(at);
}
