/**
 * Test-side byte accounting, computed with the `yaml` package's own node ranges rather
 * than anything in src/manifests, so the check does not trust the code it checks.
 */
import { isAlias, isMap, isScalar, isSeq, parseAllDocuments, type Document, type Node, type Pair, type YAMLMap } from 'yaml';

/** `spec.template.spec.containers[0].image` → ['spec', 'template', 'spec', 'containers', 0, 'image']. */
export function splitYamlPath(yamlPath: string): Array<string | number> {
  const parts: Array<string | number> = [];
  if (yamlPath === '') return parts;
  for (const segment of yamlPath.split('.')) {
    const match = /^([^[]*)((?:\[\d+\])*)$/.exec(segment);
    if (!match) throw new Error(`bad yamlPath segment ${segment}`);
    if (match[1] !== '') parts.push(match[1] as string);
    for (const index of (match[2] ?? '').matchAll(/\[(\d+)\]/g)) parts.push(Number(index[1]));
  }
  return parts;
}

export interface Target {
  documentIndex: number;
  yamlPath: string;
}

/**
 * The byte ranges [start, end) of the value at each target, as written: the scalar,
 * or the alias token when the value is an alias. An anchored scalar that an edit
 * changes is at a target path of its own, so it is covered there.
 */
export function targetSpans(text: string, targets: readonly Target[]): Array<[number, number]> {
  const docs = parseAllDocuments(text, { keepSourceTokens: true });
  if (!Array.isArray(docs)) throw new Error('no documents');
  const spans = new Map<number, number>();
  for (const { documentIndex, yamlPath } of targets) {
    const doc = docs[documentIndex] as Document.Parsed;
    const node = nodeAt(doc, splitYamlPath(yamlPath));
    if (!isScalar(node) && !isAlias(node)) throw new Error(`no scalar at ${yamlPath}`);
    const range = node.range;
    if (!range) throw new Error('node without range');
    spans.set(range[0], range[1]);
  }
  return [...spans.entries()].sort((a, b) => a[0] - b[0]);
}

// Like doc.getIn(path, true), but walks through aliased collections on the way.
function nodeAt(doc: Document.Parsed, path: ReadonlyArray<string | number>): unknown {
  let node: unknown = doc.contents;
  for (const key of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node) || isSeq(node)) node = node.get(key, true);
    else return undefined;
  }
  return node;
}

/** `text` with each span replaced by one NUL: equal masks mean only those spans differ. */
export function maskSpans(text: string, spans: ReadonlyArray<[number, number]>): string {
  let out = '';
  let at = 0;
  for (const [start, end] of spans) {
    out += `${text.slice(at, start)}\u0000`;
    at = end;
  }
  return out + text.slice(at);
}

/** The plain JS values at each target after full parsing (aliases resolved). */
export function valuesAt(text: string, targets: readonly Target[], version: '1.1' | '1.2' = '1.2'): unknown[] {
  const docs = parseAllDocuments(text, { version });
  if (!Array.isArray(docs)) throw new Error('no documents');
  const data = new Map<number, unknown>();
  return targets.map(({ documentIndex, yamlPath }) => {
    if (!data.has(documentIndex)) {
      const doc = docs[documentIndex] as Document.Parsed;
      if (doc.errors.length > 0) throw new Error(`output does not parse: ${doc.errors[0]?.message}`);
      data.set(documentIndex, doc.toJS());
    }
    let value = data.get(documentIndex);
    for (const key of splitYamlPath(yamlPath)) value = (value as Record<string | number, unknown>)[key];
    return value;
  });
}

/** A reported site: one scalar at `yamlPath`, or `fields` of the mapping there. */
export interface SiteTarget extends Target {
  fields: readonly string[];
}

interface Edit {
  start: number;
  end: number;
  replacement: string;
}

/**
 * `before` and `after` with every target masked: a value present on both sides becomes
 * one NUL, and a key present on one side only (kustomize's added `newTag`, its dropped
 * `digest`) is cut out of that side with its line (block) or its `, key: value` run
 * (flow). Equal results mean nothing but those values and keys differ.
 */
export function maskTargets(before: string, after: string, targets: readonly SiteTarget[]): [string, string] {
  const docsBefore = parseForRanges(before);
  const docsAfter = parseForRanges(after);
  const editsBefore: Edit[] = [];
  const editsAfter: Edit[] = [];
  for (const { documentIndex, yamlPath, fields } of targets) {
    const path = splitYamlPath(yamlPath);
    const nodeBefore = nodeAt(docsBefore[documentIndex] as Document.Parsed, path);
    const nodeAfter = nodeAt(docsAfter[documentIndex] as Document.Parsed, path);
    if (fields.length === 0) {
      maskValues(before, after, nodeBefore, nodeAfter, editsBefore, editsAfter);
      continue;
    }
    if (!isMap(nodeBefore) || !isMap(nodeAfter)) throw new Error(`no mapping at ${yamlPath}`);
    for (const field of fields) {
      const indexBefore = pairIndex(nodeBefore, field);
      const indexAfter = pairIndex(nodeAfter, field);
      if (indexBefore !== -1 && indexAfter !== -1) {
        const valueBefore = nodeBefore.items[indexBefore]?.value;
        const valueAfter = nodeAfter.items[indexAfter]?.value;
        maskValues(before, after, valueBefore, valueAfter, editsBefore, editsAfter);
      } else if (indexBefore !== -1) {
        editsBefore.push(pairCut(before, nodeBefore, indexBefore));
      } else if (indexAfter !== -1) {
        editsAfter.push(pairCut(after, nodeAfter, indexAfter));
      }
    }
  }
  return [applyEdits(before, editsBefore), applyEdits(after, editsAfter)];
}

function parseForRanges(text: string): Document.Parsed[] {
  const docs = parseAllDocuments(text, { keepSourceTokens: true });
  if (!Array.isArray(docs)) throw new Error('no documents');
  return docs;
}

function pairIndex(map: YAMLMap, key: string): number {
  return map.items.findIndex((pair) => isScalar(pair.key) && pair.key.source === key);
}

/**
 * The value's own bytes. When one side is empty (`tag:` filled to `tag: "10"`), the
 * spaces around it are counted in on both sides, since filling an empty value must
 * also put a space after the colon.
 */
function maskValues(
  before: string,
  after: string,
  nodeBefore: unknown,
  nodeAfter: unknown,
  editsBefore: Edit[],
  editsAfter: Edit[],
): void {
  const spanBefore = valueRange(nodeBefore);
  const spanAfter = valueRange(nodeAfter);
  const widen = spanBefore[0] === spanBefore[1] || spanAfter[0] === spanAfter[1];
  editsBefore.push({ ...widened(before, spanBefore, widen), replacement: '\u0000' });
  editsAfter.push({ ...widened(after, spanAfter, widen), replacement: '\u0000' });
}

function valueRange(node: unknown): [number, number] {
  if (!isScalar(node) && !isAlias(node)) throw new Error('target value is not a scalar');
  const range = node.range;
  if (!range) throw new Error('node without range');
  return [range[0], range[1]];
}

function widened(text: string, [start, end]: [number, number], widen: boolean): { start: number; end: number } {
  if (!widen) return { start, end };
  while (start > 0 && /[ \t]/.test(text[start - 1] ?? '')) start -= 1;
  while (end < text.length && /[ \t]/.test(text[end] ?? '')) end += 1;
  return { start, end };
}

/** Where a whole key sits: its line(s) in a block mapping, its `, key: value` run in a flow one. */
function pairCut(text: string, map: YAMLMap, index: number): Edit {
  const keyStart = (pair: Pair | undefined): number => (pair?.key as Node | undefined)?.range?.[0] ?? -1;
  const valueEnd = (pair: Pair | undefined): number => (pair?.value as Node | undefined)?.range?.[1] ?? -1;
  const pair = map.items[index];
  if (map.flow) {
    return index > 0
      ? { start: valueEnd(map.items[index - 1]), end: valueEnd(pair), replacement: '' }
      : { start: keyStart(pair), end: keyStart(map.items[index + 1]), replacement: '' };
  }
  const start = keyStart(pair);
  const lineStart = text.lastIndexOf('\n', start - 1) + 1;
  if (text.slice(lineStart, start).trim() !== '') {
    return { start, end: keyStart(map.items[index + 1]), replacement: '' };
  }
  // The line with the line break before it, so that keys added together at the end of
  // a file without a final newline cut apart cleanly; the first line of a file has
  // none before it and takes the one after.
  const end = valueEnd(pair);
  const newline = text[end - 1] === '\n' ? end - 1 : text.indexOf('\n', end);
  const lineEnd = newline === -1 ? text.length : text[newline - 1] === '\r' ? newline - 1 : newline;
  if (lineStart === 0) return { start: 0, end: newline === -1 ? text.length : newline + 1, replacement: '' };
  const lineBreak = text[lineStart - 2] === '\r' ? 2 : 1;
  return { start: lineStart - lineBreak, end: lineEnd, replacement: '' };
}

function applyEdits(text: string, edits: readonly Edit[]): string {
  let out = '';
  let at = 0;
  for (const edit of [...edits].sort((a, b) => a.start - b.start)) {
    if (edit.start < at) throw new Error('overlapping target spans');
    out += text.slice(at, edit.start) + edit.replacement;
    at = edit.end;
  }
  return out + text.slice(at);
}

/** The plain JS value at a yamlPath after full parsing (aliases resolved), in one YAML version. */
export function jsAt(text: string, target: Target, version: '1.1' | '1.2'): unknown {
  const docs = parseAllDocuments(text, { version });
  if (!Array.isArray(docs)) throw new Error('no documents');
  const doc = docs[target.documentIndex] as Document.Parsed;
  if (doc.errors.length > 0) throw new Error(`output does not parse: ${doc.errors[0]?.message}`);
  let value = doc.toJS() as unknown;
  for (const key of splitYamlPath(target.yamlPath)) value = (value as Record<string | number, unknown>)[key];
  return value;
}

/** The `$kipper` marker after the scalar at a yamlPath, read from the raw line: `[app, part]`. */
export function markerAt(text: string, target: Target): [string, string] | undefined {
  const node = nodeAt(parseForRanges(text)[target.documentIndex] as Document.Parsed, splitYamlPath(target.yamlPath));
  const end = (node as Node | undefined)?.range?.[1];
  if (end === undefined) return undefined;
  const lineEnd = text.indexOf('\n', end);
  const comment = /^\s*#\s*(\{.*\})\s*$/.exec(text.slice(end, lineEnd === -1 ? text.length : lineEnd));
  if (!comment) return undefined;
  const value = (JSON.parse(comment[1] as string) as { $kipper?: unknown }).$kipper;
  if (typeof value !== 'string') return undefined;
  const [app, part = 'image'] = value.split(':');
  return [app as string, part];
}
