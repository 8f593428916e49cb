/**
 * `$kipper` setter markers, after Flux's image-automation setters
 * (https://fluxcd.io/flux/guides/image-update/#configure-image-update-for-custom-resources):
 * a line comment `# {"$kipper": "<namespace>/<app>[:part]"}` right after a scalar says
 * that the scalar holds that app's image, or one part of it. See docs/design.md "The config repo".
 */
import { isScalar, type Document, type Scalar, type YAMLMap } from 'yaml';
import { walkNodes } from './walk-nodes.js';

/** Which part of the value a marker's scalar holds; `image` is the whole reference. */
export type MarkerPart = 'image' | 'name' | 'tag' | 'digest' | 'commit';

/** One marked scalar. */
export interface SetterMarker {
  /** `<namespace>/<app>`, as written in the marker. */
  app: string;
  part: MarkerPart;
  node: Scalar;
  documentIndex: number;
  yamlPath: string;
  /** The mapping the scalar is a value of, its yamlPath and the key; undefined for a sequence item. */
  parent: YAMLMap | undefined;
  parentPath: string;
  key: string | undefined;
}

// The rest of the line after the scalar: only a comment holding one JSON object. JSON
// allows any whitespace, so `{"$kipper":"ns/app:tag"}` and `{ "$kipper" : … }` both work.
const COMMENT = /[ \t]*#[ \t]*(\{[^\r\n]*\})[ \t]*(?:\r?\n|\r?$)/y;
// Kubernetes namespaces and our app names have neither '/', ':' nor spaces.
const VALUE = /^([^\s/:]+\/[^\s/:]+)(?::(name|tag|digest|commit))?$/;

/** Every marker in the file, in file order. Pure text scan around scalars already parsed. */
export function findSetterMarkers(text: string, documents: readonly Document.Parsed[]): SetterMarker[] {
  // Most files have none: skip the walk entirely.
  if (!text.includes('$kipper')) return [];
  const markers: SetterMarker[] = [];
  documents.forEach((doc, documentIndex) => {
    walkNodes(doc.contents, (node, place) => {
      if (!isScalar(node)) return;
      const marker = readMarker(text, node);
      if (marker === undefined) return;
      markers.push({
        ...marker,
        node,
        documentIndex,
        yamlPath: place.path,
        parent: place.parent,
        parentPath: place.parentPath,
        key: isScalar(place.pair?.key) ? String(place.pair.key.source) : undefined,
      });
    });
  });
  return markers;
}

/** The app and part a marker comment right after `node` names, if there is one. */
function readMarker(text: string, node: Scalar): { app: string; part: MarkerPart } | undefined {
  const token = node.srcToken;
  // Plain and quoted scalars end on the line the comment is on. A block scalar's range
  // ends on the line after its content, where a comment belongs to something else.
  if (token !== undefined && token.type !== 'scalar' && token.type !== 'single-quoted-scalar' && token.type !== 'double-quoted-scalar') {
    return undefined;
  }
  const end = node.range?.[1];
  if (end === undefined) return undefined;
  COMMENT.lastIndex = end;
  const json = COMMENT.exec(text)?.[1];
  if (json === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return undefined;
  }
  const value = (parsed as Record<string, unknown> | null)?.['$kipper'];
  if (typeof value !== 'string') return undefined;
  const match = VALUE.exec(value);
  if (!match) return undefined;
  return { app: match[1] as string, part: (match[2] as MarkerPart | undefined) ?? 'image' };
}
