import { isMap, isScalar, parseDocument, type Document, type Pair, type Node as YamlNode } from 'yaml';
import { KipError } from '../errors.js';
import { KIPPER_FILE } from './kipper-file.js';

/**
 * Return kipper.yaml text with the webhook entry of `id` set to `generation`, or removed
 * when `generation` is null. Like image edits, this splices bytes into the original text
 * (the generation number, one added line, or the removed entry's lines), so comments,
 * spacing, CRLF and a BOM in the hand-written rest of the file survive. Only a shape we
 * cannot splice safely (a flow-style `webhooks: {…}`) is re-serialised.
 */
export function setWebhookGeneration(text: string, id: string, generation: number | null): string {
  const doc = parseDocument(text, { keepSourceTokens: true });
  if (doc.errors.length > 0) {
    throw new KipError('CONFIG_INVALID', `${KIPPER_FILE}: not valid YAML: ${doc.errors[0]?.message.split('\n')[0]}`);
  }
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const root = doc.contents;
  if (!isMap(root)) return reserialise(doc, text, id, generation);
  const webhooksPair = root.items.find((p) => isScalar(p.key) && p.key.value === 'webhooks') as Pair<YamlNode, YamlNode | null> | undefined;
  const webhooks = webhooksPair?.value;

  if (!webhooksPair || webhooks === null || (isScalar(webhooks) && webhooks.value === null)) {
    if (generation === null) return text;
    if (webhooksPair) return reserialise(doc, text, id, generation);
    // No section yet: append one at the end of the file.
    const sep = text === '' || text.endsWith('\n') ? '' : eol;
    return `${text}${sep}webhooks:${eol}  ${id}: { generation: ${generation} }${eol}`;
  }
  if (!isMap(webhooks) || webhooks.flow) return reserialise(doc, text, id, generation);

  const entry = webhooks.items.find((p) => isScalar(p.key) && p.key.value === id) as Pair<YamlNode, YamlNode> | undefined;
  if (generation === null) {
    if (!entry) return text;
    if (webhooks.items.length === 1) return reserialise(doc, text, id, generation);
    // Remove the entry's whole lines.
    const start = lineStart(text, (entry.key as YamlNode).range![0]);
    const end = lineEnd(text, entry.value!.range![1]);
    return text.slice(0, start) + text.slice(end);
  }
  if (entry) {
    const value = entry.value;
    const gen = isMap(value) ? (value.items.find((p) => isScalar(p.key) && p.key.value === 'generation')?.value as YamlNode | undefined) : undefined;
    if (!gen || !isScalar(gen) || !gen.range) return reserialise(doc, text, id, generation);
    const [s, e] = gen.range;
    return text.slice(0, s) + String(generation) + text.slice(e);
  }
  // Add a line after the last entry, in the section's own indentation.
  const last = webhooks.items[webhooks.items.length - 1] as Pair<YamlNode, YamlNode>;
  const keyStart = (last.key as YamlNode).range![0];
  const indent = text.slice(lineStart(text, keyStart), keyStart);
  const at = lineEnd(text, (last.value ?? (last.key as YamlNode)).range![1]);
  const before = text.slice(0, at);
  const sep = before.endsWith('\n') ? '' : eol;
  return `${before}${sep}${indent}${id}: { generation: ${generation} }${eol}${text.slice(at)}`;
}

function lineStart(text: string, offset: number): number {
  return text.lastIndexOf('\n', offset - 1) + 1;
}

/** The offset just past the newline of the line holding `offset - 1`. */
function lineEnd(text: string, offset: number): number {
  const nl = text.indexOf('\n', Math.max(offset - 1, 0));
  return nl === -1 ? text.length : nl + 1;
}

function reserialise(doc: Document.Parsed, text: string, id: string, generation: number | null): string {
  const bom = text.startsWith('\uFEFF') ? '\uFEFF' : '';
  if (generation === null) {
    doc.deleteIn(['webhooks', id]);
    const w = doc.get('webhooks');
    if (isMap(w) && w.items.length === 0) doc.delete('webhooks');
  } else {
    if (!isMap(doc.get('webhooks'))) doc.set('webhooks', doc.createNode({}));
    const entry = doc.createNode({ generation });
    entry.flow = true;
    doc.setIn(['webhooks', id], entry);
  }
  let out = doc.toString({ lineWidth: 0 });
  if (text.includes('\r\n')) out = out.replace(/\r?\n/g, '\r\n');
  return bom && !out.startsWith(bom) ? bom + out : out;
}
