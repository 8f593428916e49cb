import { isAlias, isScalar, type Alias, type Document, type Scalar } from 'yaml';
import { NodeLookup } from './node-lookup.js';
import { renderIntoEmpty, renderScalar, type Splice } from './render-scalar.js';

/** A value to write, keyed by its node so a scalar reached from two sites is written once. */
export type PendingWrites = Map<Scalar | Alias, { value: string; documentIndex: number }>;

/**
 * The splices for `writes`, and a lookup per document for callers that also need to
 * resolve aliases. Each scalar keeps its quoting style where the value allows it.
 */
export function spliceWrites(
  text: string,
  documents: readonly Document.Parsed[],
  writes: PendingWrites,
): { splices: Splice[]; lookupFor: (documentIndex: number) => NodeLookup } {
  const lookups = new Map<number, NodeLookup>();
  const lookupFor = (index: number): NodeLookup => {
    let lookup = lookups.get(index);
    if (!lookup) lookups.set(index, (lookup = new NodeLookup(documents[index] as Document.Parsed)));
    return lookup;
  };

  const splices: Splice[] = [];
  for (const [node, { value, documentIndex }] of writes) {
    if (isAlias(node)) {
      // `image: *img` whose anchor is itself being set to the same value follows it:
      // leave the alias. Otherwise the anchor holds something we must not change
      // (another container's image), so only this alias is replaced by the value.
      const anchored = lookupFor(documentIndex).resolve(node);
      if (isScalar(anchored) && writes.get(anchored)?.value === value) continue;
    }
    if (node.srcToken !== undefined) {
      splices.push(renderScalar(node.srcToken, value));
    } else if (isScalar(node) && node.range && node.range[0] === node.range[1]) {
      splices.push(renderIntoEmpty(text, node.range[0], value));
    } else {
      throw new Error('composed node without a source token');
    }
  }
  return { splices, lookupFor };
}
