/**
 * Test-side byte accounting, computed with the `yaml` package's own node ranges rather
 * than anything in src/manifests, so the check does not trust the code it checks.
 */
import { isAlias, isMap, isScalar, isSeq, parseAllDocuments, type Document } from 'yaml';

/** `spec.template.spec.containers[0].image` → ['spec', 'template', 'spec', 'containers', 0, 'image']. */
export function splitYamlPath(yamlPath: string): Array<string | number> {
  const parts: Array<string | number> = [];
  for (const segment of yamlPath.split('.')) {
    const match = /^([^[]+)((?:\[\d+\])*)$/.exec(segment);
    if (!match) throw new Error(`bad yamlPath segment ${segment}`);
    parts.push(match[1] as string);
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
