import { isAlias, isMap, isScalar, isSeq, visit, type Document, type Node, type YAMLMap, type YAMLSeq } from 'yaml';

/** Navigates composed YAML nodes by key, seeing through aliases (`*anchor`). */
export class NodeLookup {
  private anchored: Node[] | undefined;

  constructor(private readonly doc: Document.Parsed) {}

  /** The node itself, or for an alias the node its anchor names (undefined if none). */
  resolve(node: unknown): Node | undefined {
    if (!isAlias(node)) return isNodeLike(node) ? node : undefined;
    // Collected once per document and only when the first alias is met: most
    // manifests have none. Like the YAML spec, an alias names the closest anchor
    // before it.
    this.anchored ??= collectAnchorsAndAliases(this.doc);
    let found: Node | undefined;
    for (const candidate of this.anchored) {
      if (candidate === node) break;
      if (!isAlias(candidate) && candidate.anchor === node.source) found = candidate;
    }
    return found;
  }

  /** The value node at `key` in a mapping, as written (possibly an alias). */
  entry(map: unknown, key: string): Node | undefined {
    const resolved = this.resolve(map);
    if (!isMap(resolved)) return undefined;
    for (const pair of resolved.items) {
      const k = this.resolve(pair.key);
      if (isScalar(k) && k.source === key) return isNodeLike(pair.value) ? pair.value : undefined;
    }
    return undefined;
  }

  /** The mapping at `key`, through aliases. */
  map(parent: unknown, key: string): YAMLMap | undefined {
    const node = this.resolve(this.entry(parent, key));
    return isMap(node) ? node : undefined;
  }

  /** The sequence at `key`, through aliases. */
  seq(parent: unknown, key: string): YAMLSeq | undefined {
    const node = this.resolve(this.entry(parent, key));
    return isSeq(node) ? node : undefined;
  }

  /** The string at `key`, through aliases; undefined unless it is a scalar. */
  string(parent: unknown, key: string): string | undefined {
    const node = this.resolve(this.entry(parent, key));
    return isScalar(node) ? node.source : undefined;
  }
}

function isNodeLike(value: unknown): value is Node {
  return isScalar(value) || isMap(value) || isSeq(value) || isAlias(value);
}

function collectAnchorsAndAliases(doc: Document.Parsed): Node[] {
  const nodes: Node[] = [];
  visit(doc, {
    Node(_key, node) {
      if (isAlias(node) || node.anchor !== undefined) nodes.push(node);
    },
  });
  return nodes;
}
