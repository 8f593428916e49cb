import { isMap, isScalar, parseDocument, type Document, type Pair, type Node as YamlNode } from 'yaml';
import { KipError } from '../errors.js';
import { KIPPER_FILE, type Lock } from './kipper-file.js';

/** How to write one entry of a top-level section of kipper.yaml that the bridge owns. */
interface SectionEntry {
  /** The value as data: written as a one-line flow mapping. */
  data: Record<string, string | number>;
  /**
   * Where the entry exists, the bytes to change inside its value (one scalar, say) rather
   * than its whole line; null when the value is not of a shape it can splice.
   */
  patch?: (value: YamlNode) => { range: [number, number]; text: string } | null;
}

/**
 * Return kipper.yaml text with the entry `id` of the top-level map `section` (`webhooks:`,
 * `locks:`) set, or removed when `entry` is null. Like image edits, this splices bytes into
 * the original text (a scalar, one line added or replaced, or the removed entry's lines),
 * so comments, spacing, CRLF and a BOM in the hand-written rest of the file survive. Only a
 * shape that cannot be spliced safely (a flow-style `webhooks: {…}`) is re-serialised.
 */
export function setSectionEntry(text: string, section: string, id: string, entry: SectionEntry | null): string {
  // Duplicate keys were refused when the text was read (kipper-file.ts checks them with a
  // Set): yaml's own check is quadratic in a section's size, seconds at 10,000 apps.
  const doc = parseDocument(text, { keepSourceTokens: true, uniqueKeys: false });
  if (doc.errors.length > 0) {
    throw new KipError('CONFIG_INVALID', `${KIPPER_FILE}: not valid YAML: ${doc.errors[0]?.message.split('\n')[0]}`);
  }
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const line = (indent: string) => `${indent}${id}: ${flowOf(entry!.data)}${eol}`;
  const root = doc.contents;
  if (!isMap(root)) return reserialise(doc, text, section, id, entry);
  const sectionPair = root.items.find((p) => isScalar(p.key) && p.key.value === section) as
    Pair<YamlNode, YamlNode | null> | undefined;
  const map = sectionPair?.value;

  if (!sectionPair || map === null || (isScalar(map) && map.value === null)) {
    if (entry === null) return text;
    if (sectionPair) return reserialise(doc, text, section, id, entry);
    // No section yet: append one at the end of the file.
    const sep = text === '' || text.endsWith('\n') ? '' : eol;
    return `${text}${sep}${section}:${eol}${line('  ')}`;
  }
  if (!isMap(map) || map.flow) return reserialise(doc, text, section, id, entry);

  const found = map.items.find((p) => isScalar(p.key) && p.key.value === id) as
    Pair<YamlNode, YamlNode | null> | undefined;
  if (found) {
    const keyStart = (found.key as YamlNode).range![0];
    const start = lineStart(text, keyStart);
    const end = lineEnd(text, (found.value ?? (found.key as YamlNode)).range![1]);
    if (entry === null) {
      if (map.items.length > 1) return text.slice(0, start) + text.slice(end);
      // The only entry: the section goes with it (lock then unlock gives the file back),
      // when its key line holds nothing else.
      const sectionStart = lineStart(text, (sectionPair.key as YamlNode).range![0]);
      if (lineEnd(text, (sectionPair.key as YamlNode).range![1] + 1) !== start)
        return reserialise(doc, text, section, id, entry);
      return text.slice(0, sectionStart) + text.slice(end);
    }
    if (entry.patch) {
      const spliced = found.value ? entry.patch(found.value) : null;
      if (!spliced) return reserialise(doc, text, section, id, entry);
      return text.slice(0, spliced.range[0]) + spliced.text + text.slice(spliced.range[1]);
    }
    // Replace the entry's lines with one line, in its own indentation.
    return text.slice(0, start) + line(text.slice(start, keyStart)) + text.slice(end);
  }
  if (entry === null) return text;
  // Add a line after the last entry, in the section's own indentation.
  const last = map.items[map.items.length - 1] as Pair<YamlNode, YamlNode>;
  const keyStart = (last.key as YamlNode).range![0];
  const indent = text.slice(lineStart(text, keyStart), keyStart);
  const at = lineEnd(text, (last.value ?? (last.key as YamlNode)).range![1]);
  const before = text.slice(0, at);
  const sep = before.endsWith('\n') ? '' : eol;
  return `${before}${sep}${line(indent)}${text.slice(at)}`;
}

/**
 * Sets the webhook generation of `id`, or removes its entry (null): only the number
 * changes in an existing entry, so keys a human added to it stay.
 */
export function setWebhookGeneration(text: string, id: string, generation: number | null): string {
  return setSectionEntry(
    text,
    'webhooks',
    id,
    generation === null
      ? null
      : {
          data: { generation },
          patch: (value) => {
            const gen = isMap(value)
              ? (value.items.find((p) => isScalar(p.key) && p.key.value === 'generation')?.value as
                  YamlNode | undefined)
              : undefined;
            return gen && isScalar(gen) && gen.range
              ? { range: [gen.range[0], gen.range[1]], text: String(generation) }
              : null;
          },
        },
  );
}

/** Sets the lock of `id` (`locks:`), or removes it (null). */
export function setLock(text: string, id: string, lock: Lock | null): string {
  return setSectionEntry(
    text,
    'locks',
    id,
    lock === null ? null : { data: { reason: lock.reason, by: lock.by, at: lock.at } },
  );
}

/** `{ reason: "INC-42", by: "ana", at: "…" }`: strings as JSON strings, which YAML reads as double-quoted scalars. */
function flowOf(data: Record<string, string | number>): string {
  return `{ ${Object.entries(data)
    .map(([k, v]) => `${k}: ${typeof v === 'number' ? String(v) : JSON.stringify(v)}`)
    .join(', ')} }`;
}

function lineStart(text: string, offset: number): number {
  return text.lastIndexOf('\n', offset - 1) + 1;
}

/** The offset just past the newline of the line holding `offset - 1`. */
function lineEnd(text: string, offset: number): number {
  const nl = text.indexOf('\n', Math.max(offset - 1, 0));
  return nl === -1 ? text.length : nl + 1;
}

function reserialise(
  doc: Document.Parsed,
  text: string,
  section: string,
  id: string,
  entry: SectionEntry | null,
): string {
  const bom = text.startsWith('\uFEFF') ? '\uFEFF' : '';
  if (entry === null) {
    doc.deleteIn([section, id]);
    const m = doc.get(section);
    if (isMap(m) && m.items.length === 0) doc.delete(section);
  } else {
    if (!isMap(doc.get(section))) doc.set(section, doc.createNode({}));
    const node = doc.createNode(entry.data);
    node.flow = true;
    doc.setIn([section, id], node);
  }
  let out = doc.toString({ lineWidth: 0 });
  if (text.includes('\r\n')) out = out.replace(/\r?\n/g, '\r\n');
  return bom && !out.startsWith(bom) ? bom + out : out;
}
