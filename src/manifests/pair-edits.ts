/**
 * Adding and removing a key of a mapping as splices of the original text, in the
 * mapping's own style. Only kustomize `images:` entries need this (`kustomize edit set
 * image` adds a missing `newTag` and drops a stale `digest`); everything else is a
 * scalar rewrite.
 *
 * Block mappings work in whole lines, so the line break style and the comments on other
 * lines stay; flow mappings work in `, key: value` runs. The golden test's byte check
 * (test/unit/manifests/yaml-spans.ts) cuts pairs by the same rules from the parser's
 * own ranges, which is what proves nothing else moved.
 */
import type { Node, Pair, YAMLMap } from 'yaml';
import type { Splice } from './render-scalar.js';

/** The splice that removes pair `index` of `map`: its line(s) in a block mapping, `, key: value` in a flow one. */
export function removePair(text: string, map: YAMLMap, index: number): Splice {
  const pair = pairAt(map, index);
  const keyStart = rangeOf(pair.key)[0];
  const valueEnd = valueEndOf(pair);
  if (map.flow) {
    const previous = map.items[index - 1];
    if (previous) return { start: valueEndOf(previous), end: valueEnd, source: '' };
    return { start: keyStart, end: rangeOf(pairAt(map, index + 1).key)[0], source: '' };
  }
  const lineStart = lineStartOf(text, keyStart);
  if (/^[ \t]*$/.test(text.slice(lineStart, keyStart))) {
    const end = lineEndAfter(text, valueEnd);
    // The last line of a file without a final newline: take the line break before it
    // instead, so the file still ends without one.
    if (end === text.length && !text.endsWith('\n') && lineStart > 0) {
      return { start: lineStart - (text[lineStart - 2] === '\r' ? 2 : 1), end, source: '' };
    }
    return { start: lineStart, end, source: '' };
  }
  // The first key of a sequence entry (`- newTag: 1`): the next key moves up behind
  // the dash. A mapping whose only key this is cannot lose it; callers never ask.
  return { start: keyStart, end: rangeOf(pairAt(map, index + 1).key)[0], source: '' };
}

/**
 * The splice that inserts `entries` (key and rendered value source) right after pair
 * `afterIndex` of `map`: new lines at the mapping's indentation in a block mapping,
 * `, key: value` in a flow one.
 */
export function insertPairs(
  text: string,
  map: YAMLMap,
  afterIndex: number,
  entries: ReadonlyArray<readonly [key: string, source: string]>,
): Splice {
  const anchor = pairAt(map, afterIndex);
  if (map.flow) {
    const at = valueEndOf(anchor);
    return { start: at, end: at, source: entries.map(([key, source]) => `, ${key}: ${source}`).join('') };
  }
  const indent = indentationOf(text, map);
  // Each new line goes in as line break + line at the end of the anchor's line, before
  // its own line break. That reads the same as line + line break after it, but also
  // works on a last line without a final newline, and next to the removal of the line
  // after (a digest replacing a newTag), whose splice starts where this one ends.
  const lineEnd = lineEndBefore(text, valueEndOf(anchor));
  const lineBreak = text.startsWith('\r\n', lineEnd) ? '\r\n' : text[lineEnd] === '\n' ? '\n' : (/\r?\n/.exec(text)?.[0] ?? '\n');
  const source = entries.map(([key, value]) => `${lineBreak}${indent}${key}: ${value}`).join('');
  return { start: lineEnd, end: lineEnd, source };
}

/**
 * The indentation of the mapping's keys: copied from a key that starts its line, or
 * (for a one-line sequence entry, `- name: api`) spaces up to the first key's column.
 */
function indentationOf(text: string, map: YAMLMap): string {
  let firstPrefix: string | undefined;
  for (const pair of map.items) {
    const keyStart = rangeOf(pair.key)[0];
    const prefix = text.slice(lineStartOf(text, keyStart), keyStart);
    if (/^[ ]*$/.test(prefix)) return prefix;
    firstPrefix ??= prefix;
  }
  return ' '.repeat(firstPrefix?.length ?? 0);
}

function pairAt(map: YAMLMap, index: number): Pair {
  const pair = map.items[index];
  if (!pair) throw new Error(`no pair ${index} in the mapping`);
  return pair;
}

function rangeOf(node: unknown): [number, number, number] {
  const range = (node as Node | null)?.range;
  if (!range) throw new Error('node without a source range');
  return range;
}

/** Where the value ends (before any comment); the key's end for a key without a value. */
function valueEndOf(pair: Pair): number {
  return pair.value ? rangeOf(pair.value)[1] : rangeOf(pair.key)[1];
}

function lineStartOf(text: string, offset: number): number {
  return offset === 0 ? 0 : text.lastIndexOf('\n', offset - 1) + 1;
}

/** Where the line holding `offset - 1` ends, before its line break (`\r\n` or `\n`). */
function lineEndBefore(text: string, offset: number): number {
  const after = lineEndAfter(text, offset);
  if (text[after - 1] !== '\n') return after;
  return text[after - 2] === '\r' ? after - 2 : after - 1;
}

/** The offset just after the line break that ends the line holding `offset - 1`. */
function lineEndAfter(text: string, offset: number): number {
  // A block scalar's range already ends after its last line break.
  if (offset > 0 && text[offset - 1] === '\n') return offset;
  const lineBreak = text.indexOf('\n', offset);
  return lineBreak === -1 ? text.length : lineBreak + 1;
}
