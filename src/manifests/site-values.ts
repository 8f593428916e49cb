/** Small helpers shared by the finders of split sites (kustomize, Helm values, markers). */
import { isAlias, isScalar, type Alias, type Pair, type Scalar, type YAMLMap } from 'yaml';
import { normalizeRepository, tryParseImageReference } from './image-reference.js';
import type { NodeLookup } from './node-lookup.js';

/** A string-valued key of a mapping: the pair's index, its value node as written, and the string it reads as. */
export interface ScalarField {
  index: number;
  pair: Pair;
  node: Scalar | Alias;
  value: string;
}

/**
 * The string-valued keys of `map` among `keys`, or undefined when one of them holds
 * something else (a mapping, a list, an alias to either): such a mapping is not the
 * shape we edit, so the finder skips it rather than guess.
 */
export function scalarFields(
  lookup: NodeLookup,
  map: YAMLMap,
  keys: readonly string[],
): Map<string, ScalarField> | undefined {
  const fields = new Map<string, ScalarField>();
  for (const [index, pair] of map.items.entries()) {
    if (!isScalar(pair.key) || typeof pair.key.source !== 'string' || !keys.includes(pair.key.source)) continue;
    const node = pair.value;
    const value = lookup.resolve(node);
    if (!(isScalar(node) || isAlias(node)) || !isScalar(value) || typeof value.source !== 'string') return undefined;
    // An empty value (`tag:`) has no token but a position, so it can still be filled.
    if (isScalar(node) && node.srcToken === undefined && node.range?.[0] !== node.range?.[1]) return undefined;
    fields.set(pair.key.source, { index, pair, node, value: scalarValue(value) });
  }
  return fields;
}

// YAML's null in both the 1.1 and the 1.2 core schema. The failsafe parse keeps it as text.
const NULL = /^(?:~|null|Null|NULL)$/;

/**
 * The string a scalar holds as a value. A plain, untagged YAML null (`tag: null`,
 * `tag: ~`) is no value at all, the same as `tag:` and `tag: ""`: Helm and kustomize
 * read it so (keel's own chart ships `tag: null`), and taken as text it would make
 * `repo:null`, or `~@sha256:…` after a digest deploy (issue #9). A quoted `"null"` or
 * a `!!str null` is the string it says.
 */
export function scalarValue(scalar: Scalar): string {
  const text = String(scalar.source);
  return scalar.type === 'PLAIN' && scalar.tag === undefined && NULL.test(text) ? '' : text;
}

/** The repository a name denotes, when it is a bare repository name (no tag, no digest). */
export function parseRepository(name: string): string | undefined {
  const ref = tryParseImageReference(name);
  return ref !== undefined && ref.tag === undefined && ref.digest === undefined ? ref.repository : undefined;
}

/** Whether two repository names denote the same repository after Docker's normalisation. */
export function sameRepository(a: string, b: string): boolean {
  const left = tryParseImageReference(a);
  const right = tryParseImageReference(b);
  return (
    left !== undefined &&
    right !== undefined &&
    normalizeRepository(left.repository) === normalizeRepository(right.repository)
  );
}

/**
 * The reference a split site reads as. Empty parts count as absent (`tag: ""` is the
 * chart's default, `digest: ""` no digest). Without a repository (a lone `:tag`
 * marker) it is the tag and/or `@digest` alone.
 */
export function composeReference(repository: string | undefined, tag: string | undefined, digest: string | undefined): string {
  let out = repository ?? '';
  if (tag) out += repository === undefined ? tag : `:${tag}`;
  if (digest) out += `@${digest}`;
  return out;
}
