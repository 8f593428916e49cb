import { isMap, isScalar, isSeq, type Node, type Pair, type YAMLMap } from 'yaml';

/** Where a visited node sits: its yamlPath, and for a mapping value the mapping, its path and the pair. */
export interface NodePlace {
  path: string;
  parent: YAMLMap | undefined;
  parentPath: string;
  pair: Pair | undefined;
}

/**
 * Visit every mapping, sequence and scalar under `root` depth first, with its yamlPath
 * (`spec.values.image`, `images[2]`). Aliases are not followed: the anchored node is
 * visited where it is written, so a value shared through `*alias` is seen (and
 * written) once. Values under a key that is not a plain string (`? [a, b]`) are skipped
 * because they have no yamlPath.
 */
export function walkNodes(root: unknown, visit: (node: Node, place: NodePlace) => void): void {
  walk(root, { path: '', parent: undefined, parentPath: '', pair: undefined }, visit);
}

function walk(node: unknown, place: NodePlace, visit: (node: Node, place: NodePlace) => void): void {
  if (isMap(node)) {
    visit(node, place);
    for (const pair of node.items) {
      if (!isScalar(pair.key) || typeof pair.key.source !== 'string') continue;
      const path = place.path === '' ? pair.key.source : `${place.path}.${pair.key.source}`;
      walk(pair.value, { path, parent: node, parentPath: place.path, pair }, visit);
    }
  } else if (isSeq(node)) {
    visit(node, place);
    node.items.forEach((item, index) => {
      walk(item, { path: `${place.path}[${index}]`, parent: undefined, parentPath: place.path, pair: undefined }, visit);
    });
  } else if (isScalar(node)) {
    visit(node, place);
  }
}
