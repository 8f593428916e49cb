/**
 * Set or read the image of an app in one YAML file: pure text in, text out. Only the
 * bytes of the changed scalars differ between input and output (plus, in a kustomize
 * `images:` entry, a `newTag`/`digest` key added or dropped the way `kustomize edit set
 * image` does), so comments, quoting, anchors, CRLF and long lines survive and the git
 * diff shows exactly the deploy.
 */
import { isAlias, isScalar } from 'yaml';
import { applySplices } from './apply-splices.js';
import { assertOneRepository } from './assert-one-repository.js';
import { collectSites } from './collect-sites.js';
import { normalizeRepository, parseImageReference, tryParseImageReference, type ImageReference } from './image-reference.js';
import { whereOf, type ImageSite, type ImageSiteKind, type SiteWhere } from './image-site.js';
import { parseDocuments } from './parse-documents.js';
import { followingReading, readingOf, readSites, type FileReading, type SiteReading } from './read-sites.js';
import { renderNewScalar, type Splice } from './render-scalar.js';
import { spliceWrites, type PendingWrites } from './splice-writes.js';

/** The image to set, optionally narrowed to one workload and one container by name, for one app. */
export interface ImageTarget {
  image: ImageReference;
  /** Narrows workload containers by name; kustomize and Helm-values sites still match by repository. */
  container?: string | undefined;
  /**
   * `<Kind>/<name>`: only that workload's containers are candidates (`container`, or the
   * repository, then picks among them). Other kinds of sites are not affected.
   */
  workload?: string | undefined;
  /**
   * `<namespace>/<app>`. Enables that app's `$kipper` markers, which then replace
   * automatic matching in any file that has them. Without it, markers are not used.
   */
  app?: string | undefined;
}

/** One place that `setImage` matched (and changed, unless `before === after`); `fields` and `workload` as on ImageSite. */
export interface ImageMatch extends SiteWhere {
  before: string;
  after: string;
  /**
   * Not a target itself: an alias of a scalar that a target wrote, reported because it
   * changed too. Whether a reading narrowed another way counts it is not known here.
   */
  throughAlias?: true;
}

/** The edited text and what matched. */
export interface EditResult {
  text: string;
  changed: boolean;
  matches: ImageMatch[];
}

/** An image that `setImage` would target, as it reads now. */
export interface FoundImage extends SiteWhere {
  value: string;
}

/** Set every matching image in `text`; zero matches is NOT an error here (the caller checks across the app's files). */
export function setImage(text: string, target: ImageTarget): EditResult {
  const parsed = parseDocuments(text);
  return editParsed(text, parsed, collectSites(text, parsed, target.app), target);
}

/**
 * `setImage`, with the reading of `text` (read-sites.ts) to edit its next version from.
 * When the reading of `text` follows from `previous` (a reading of an earlier version:
 * one plain image changed), the file is edited without a parse (issue #14: a deploy's
 * largest cost): every site is then a container's plain `image:` scalar, so the splices
 * are those `setImage` makes, the new value in place of the scalar's bytes, written as
 * `renderScalar` writes a plain token.
 */
export function setImageFrom(text: string, target: ImageTarget, previous: FileReading | undefined): { edit: EditResult; reading: FileReading } {
  const following = previous && followingReading(previous, text, target.app);
  if (following) return { edit: editSimple(following, target), reading: following };
  const parsed = parseDocuments(text);
  const collected = collectSites(text, parsed, target.app);
  return { edit: editParsed(text, parsed, collected, target), reading: readingOf(text, target.app, collected) };
}

/** `setImage` of a simple reading (every site a plain scalar of a container's image, no markers). */
function editSimple(reading: FileReading, target: ImageTarget): EditResult {
  const { text } = reading;
  const selected = selectSites(reading.sites, { repository: target.image.repository, container: target.container, workload: target.workload });
  if (selected.length === 0) return { text, changed: false, matches: [] };
  const raw = target.image.raw;
  const splices: Splice[] = [];
  const written = new Set<number>();
  for (const site of selected) {
    const scalar = site.scalar!;
    if (site.current === raw || written.has(scalar.node)) continue;
    written.add(scalar.node);
    splices.push({ start: scalar.start, end: scalar.end, source: renderNewScalar(raw) });
  }
  const out = applySplices(text, splices);
  return { text: out, changed: out !== text, matches: selected.map((site) => toMatch(site, raw)) };
}

function editParsed(
  text: string,
  parsed: ReturnType<typeof parseDocuments>,
  { sites, byMarkers }: { sites: ImageSite[]; byMarkers: boolean },
  target: ImageTarget,
): EditResult {
  const selected = byMarkers
    ? sites
    : selectSites(sites, { repository: target.image.repository, container: target.container, workload: target.workload });
  if (selected.length === 0) return { text, changed: false, matches: [] };

  const matches: ImageMatch[] = [];
  const writes: PendingWrites = new Map();
  const edits: Splice[] = [];
  for (const site of selected) {
    const plan = site.plan(target.image);
    matches.push(toMatch(site, plan.after));
    for (const { node, value } of plan.writes) writes.set(node, { value, documentIndex: site.documentIndex });
    if (plan.splices) edits.push(...plan.splices);
  }
  const { splices, lookupFor } = spliceWrites(text, parsed, writes);

  // An edited scalar that carries an anchor changes every alias of it too, because
  // that is what the alias says. Report such sites (a sidecar written `image: *img`)
  // so the caller sees everything that changed, not just what was asked for.
  const chosen = new Set(selected);
  for (const site of sites) {
    const [node] = site.nodes;
    if (chosen.has(site) || site.nodes.length !== 1 || !isAlias(node)) continue;
    const anchored = lookupFor(site.documentIndex).resolve(node);
    const write = isScalar(anchored) ? writes.get(anchored) : undefined;
    if (write && write.value !== site.current) matches.push({ ...toMatch(site, write.value), throughAlias: true });
  }

  const out = applySplices(text, [...splices, ...edits]);
  return { text: out, changed: out !== text, matches };
}

/**
 * Read the images that `setImage` would target (same matching rules, markers first
 * when `app` is given), for "already current" checks and history.
 */
export function findImages(text: string, match: ImageQuery): FoundImage[] {
  return findInReading(readSites(text, match.app), match);
}

/** What `findImages` looks for. */
export interface ImageQuery {
  repository?: string | undefined;
  container?: string | undefined;
  workload?: string | undefined;
  app?: string | undefined;
}

/** `findImages` over a reading of the file (read-sites.ts; `reading.app` must be `match.app`). */
export function findInReading(reading: FileReading, match: ImageQuery): FoundImage[] {
  return selectInReading(reading, match).map((site) => ({ ...whereOf(site), value: site.current }));
}

/**
 * `findInReading`, each image with the normalised repositories its target matches a
 * posted repository by, or null for a marker (it takes what is posted, whatever its
 * repository): what a query without `repository` found, narrowed later to one without
 * reading the file again (history, issue #18).
 */
export function findWithRepositories(reading: FileReading, match: ImageQuery): Array<FoundImage & { repositories: string[] | null }> {
  return selectInReading(reading, match).map((site) => ({
    ...whereOf(site),
    value: site.current,
    repositories: reading.byMarkers ? null : repositoriesOf(site).map(normalizeRepository),
  }));
}

function selectInReading(reading: FileReading, match: ImageQuery): readonly SiteReading[] {
  const repository = match.repository === undefined ? undefined : parseImageReference(match.repository).repository;
  const { sites, byMarkers } = reading;
  return byMarkers ? sites : selectSites(sites, { repository, container: match.container, workload: match.workload });
}

/**
 * A named workload keeps only its own containers. A named container matches by name
 * alone: narrowing exists for apps whose container runs an image from another
 * repository. Sites without containers (kustomize, Helm values) and every site when no
 * name is given match by repository, after Docker's normalisation (`nginx` is
 * `docker.io/library/nginx`). With neither, all. A container name without a workload
 * that hits containers of different repositories is refused (AMBIGUOUS_TARGET) rather
 * than overwriting other services' images.
 */
function selectSites<S extends SiteReading | ImageSite>(
  sites: readonly S[],
  match: { repository: string | undefined; container: string | undefined; workload: string | undefined },
): S[] {
  const wanted = match.repository === undefined ? undefined : normalizeRepository(match.repository);
  const selected = sites.filter((site) => {
    if (isWorkload(site.kind) && match.workload !== undefined && site.workload !== match.workload) return false;
    if (match.container !== undefined && isWorkload(site.kind)) return site.container === match.container;
    if (wanted === undefined) return match.container === undefined;
    return repositoriesOf(site).some((repository) => normalizeRepository(repository) === wanted);
  });
  if (match.container !== undefined && match.workload === undefined) {
    const named = selected.filter((site) => isWorkload(site.kind));
    assertOneRepository(named.map((site) => ({ workload: site.workload, image: site.current })), match.container);
  }
  return selected;
}

/** Whether a site is a workload's container or initContainer (what `container` and `workload` narrow). */
export function isWorkload(kind: ImageSiteKind): boolean {
  return kind === 'container' || kind === 'initContainer';
}

function repositoriesOf(site: SiteReading | ImageSite): readonly string[] {
  if (site.repositories) return site.repositories;
  const current = tryParseImageReference(site.current);
  return current === undefined ? [] : [current.repository];
}

function toMatch(site: ImageSite | SiteReading, after: string): ImageMatch {
  return { ...whereOf(site), before: site.current, after };
}
