/**
 * Set or read the image of an app in one YAML file: pure text in, text out. Only the
 * bytes of the changed scalars differ between input and output, so comments, quoting,
 * anchors, CRLF and long lines survive and the git diff shows exactly the deploy.
 */
import { isAlias, isScalar, type Alias, type Document, type Scalar } from 'yaml';
import { applySplices } from './apply-splices.js';
import { imageFinders } from './image-finders.js';
import {
  normalizeRepository,
  parseImageReference,
  tryParseImageReference,
  type ImageReference,
} from './image-reference.js';
import type { ImageSite, ImageSiteKind } from './image-site.js';
import { NodeLookup } from './node-lookup.js';
import { parseDocuments } from './parse-documents.js';
import { renderScalar, type Splice } from './render-scalar.js';

/** The image to set, optionally narrowed to one container by name. */
export interface ImageTarget {
  image: ImageReference;
  container?: string | undefined;
}

/** One place that `setImage` matched (and changed, unless `before === after`). */
export interface ImageMatch {
  kind: ImageSiteKind;
  documentIndex: number;
  yamlPath: string;
  container: string | undefined;
  before: string;
  after: string;
}

/** The edited text and what matched. */
export interface EditResult {
  text: string;
  changed: boolean;
  matches: ImageMatch[];
}

/** An image that `setImage` would target, as it reads now. */
export interface FoundImage {
  kind: ImageSiteKind;
  documentIndex: number;
  yamlPath: string;
  container: string | undefined;
  value: string;
}

/** Set every matching image in `text`; zero matches is NOT an error here (the caller checks across the app's files). */
export function setImage(text: string, target: ImageTarget): EditResult {
  const parsed = parseDocuments(text);
  const sites = collectSites(parsed);
  const selected = selectSites(sites, { repository: target.image.repository, container: target.container });
  if (selected.length === 0) return { text, changed: false, matches: [] };

  const matches: ImageMatch[] = [];
  // Keyed by node so that one scalar reached from two sites (a container map reused
  // through an alias) is written once.
  const writes = new Map<Scalar | Alias, { value: string; documentIndex: number }>();
  for (const site of selected) {
    const { after, writes: siteWrites } = site.plan(target.image);
    matches.push(toMatch(site, after));
    for (const { node, value } of siteWrites) writes.set(node, { value, documentIndex: site.documentIndex });
  }

  const lookups = new Map<number, NodeLookup>();
  const lookupFor = (index: number): NodeLookup => {
    let lookup = lookups.get(index);
    if (!lookup) lookups.set(index, (lookup = new NodeLookup(parsed[index] as Document.Parsed)));
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
    if (node.srcToken === undefined) throw new Error('composed node without a source token');
    splices.push(renderScalar(node.srcToken, value));
  }

  // An edited scalar that carries an anchor changes every alias of it too, because
  // that is what the alias says. Report such sites (a sidecar written `image: *img`)
  // so the caller sees everything that changed, not just what was asked for.
  const chosen = new Set(selected);
  for (const site of sites) {
    const [node] = site.nodes;
    if (chosen.has(site) || site.nodes.length !== 1 || !isAlias(node)) continue;
    const anchored = lookupFor(site.documentIndex).resolve(node);
    const write = isScalar(anchored) ? writes.get(anchored) : undefined;
    if (write && write.value !== site.current) matches.push(toMatch(site, write.value));
  }

  const out = applySplices(text, splices);
  return { text: out, changed: out !== text, matches };
}

/** Read the images that `setImage` would target (same matching rules), for "already current" checks and history. */
export function findImages(text: string, match: { repository?: string; container?: string }): FoundImage[] {
  const repository = match.repository === undefined ? undefined : parseImageReference(match.repository).repository;
  return selectSites(collectSites(parseDocuments(text)), { repository, container: match.container }).map(
    (site) => ({
      kind: site.kind,
      documentIndex: site.documentIndex,
      yamlPath: site.yamlPath,
      container: site.container,
      value: site.current,
    }),
  );
}

function collectSites(documents: readonly Document.Parsed[]): ImageSite[] {
  const sites: ImageSite[] = [];
  documents.forEach((doc, index) => {
    const found: ImageSite[] = [];
    for (const finder of imageFinders) found.push(...finder(doc, index));
    // File order, so matches read top to bottom like the diff (initContainers usually
    // come before containers).
    found.sort((a, b) => offsetOf(a) - offsetOf(b));
    sites.push(...found);
  });
  return sites;
}

/**
 * A named container matches by name alone: narrowing exists for apps whose container
 * runs an image from another repository. Without a name, the repository decides, after
 * Docker's normalisation (`nginx` is `docker.io/library/nginx`). With neither, all.
 */
function selectSites(
  sites: readonly ImageSite[],
  match: { repository: string | undefined; container: string | undefined },
): ImageSite[] {
  if (match.container !== undefined) return sites.filter((site) => site.container === match.container);
  if (match.repository === undefined) return [...sites];
  const wanted = normalizeRepository(match.repository);
  return sites.filter((site) => {
    const current = tryParseImageReference(site.current);
    return current !== undefined && normalizeRepository(current.repository) === wanted;
  });
}

function offsetOf(site: ImageSite): number {
  return site.nodes[0]?.srcToken?.offset ?? 0;
}

function toMatch(site: ImageSite, after: string): ImageMatch {
  return {
    kind: site.kind,
    documentIndex: site.documentIndex,
    yamlPath: site.yamlPath,
    container: site.container,
    before: site.current,
    after,
  };
}
