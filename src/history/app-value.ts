import type { AppConfig } from '../config/kipper-file.js';
import { isKipError } from '../errors.js';
import { ambiguousWorkloads, type NamedContainer } from '../manifests/assert-one-repository.js';
import { findCommits } from '../manifests/set-commit.js';
import { readSites, type FileReading } from '../manifests/read-sites.js';
import {
  findInReading,
  findWithRepositories,
  isWorkload,
  type FoundImage,
  type ImageMatch,
} from '../manifests/set-image.js';
import { normalizeRepository, parseImageReference } from '../manifests/image-reference.js';

/**
 * What an app runs in one version of its files: the images its targets hold (sorted,
 * several when they differ), or a git-source app's commit.
 */
export type AppValue = { images: string[] } | { commit: string };

/** The first image of a value (what the API's `image` field shows), or null for a commit. */
export function firstImage(value: AppValue): string | null {
  return 'images' in value ? value.images[0]! : null;
}

/** A value as one line of text, for messages. */
export function describeValue(value: AppValue): string {
  return 'images' in value ? value.images.join(', ') : value.commit;
}

export function sameValue(a: AppValue | null, b: AppValue | null): boolean {
  return (
    a === b || (a !== null && b !== null && describeValue(a) === describeValue(b) && 'commit' in a === 'commit' in b)
  );
}

/**
 * The deployed value of an app in one version of its files, or null when none is found
 * (issue #18): what the app deploys, never the first image of a file (a Deployment's
 * init container often runs another repository's image, `tools/migrate`, before `api`).
 * So: the named `container` (and `workload`) when kipper.yaml gives them; else the targets
 * of `repository`, the one the app's deploys target, read the way a deploy of it matches;
 * else, before any deploy told which (`repository` undefined), every image of the app's
 * targets, main containers' first (see `readsEveryImage`). An app whose `container` names containers of different
 * repositories (no `workload`) has no value, as a deploy to it is refused (AMBIGUOUS_TARGET).
 *
 * `texts` are those of `app.files`, in order. With `readings`, each file is read from its
 * last reading there when only one image changed since (read-sites.ts), and its reading
 * is kept there for the next version.
 */
export function appValue(
  app: AppConfig,
  texts: Array<string | null>,
  repository: string | undefined,
  readings?: Readings,
): AppValue | null {
  return readAppValue(app, texts, repository, readings).value;
}

/**
 * For a value of every image: the normalised repositories each image's targets match a
 * deploy by (`*`: a marker's, which takes any), to narrow it once a deploy tells the
 * app's repository (`narrowValue`) without reading its files again.
 */
export type ImageRepositories = Record<string, string[]>;

/** `appValue`, and for a value of several images read with every image (`readsEveryImage`), their `repositories`. */
export function readAppValue(
  app: AppConfig,
  texts: Array<string | null>,
  repository: string | undefined,
  readings?: Readings,
): { value: AppValue | null; repositories?: ImageRepositories } {
  const everyImage = readsEveryImage(app, repository);
  const repositories = new Map<string, Set<string>>();
  const values = new Set<string>();
  /** Images of workloads' main containers (not initContainers): shown first in a value of every image. */
  const main = new Set<string>();
  const named: NamedContainer[] = [];
  for (const [i, text] of texts.entries()) {
    if (text === null) continue;
    let found: Array<FoundImage & { repositories?: string[] | null }>;
    try {
      if (app.source === 'git') {
        for (const c of findCommits(text, app.id)) values.add(c.value);
        continue;
      }
      const narrowing = app.container ? { container: app.container } : repository ? { repository } : {};
      const path = app.files[i]!;
      const reading = readSites(text, app.id, readings?.get(path));
      readings?.set(path, reading);
      const query = { app: app.id, workload: app.workload, ...narrowing };
      found = everyImage ? findWithRepositories(reading, query) : findInReading(reading, query);
    } catch (err) {
      if (isKipError(err, 'AMBIGUOUS_TARGET')) return { value: null };
      continue; // a file that does not parse at this commit has no readable value
    }
    for (const f of found) {
      values.add(f.value);
      if (f.kind === 'container') main.add(f.value);
      if (!everyImage) continue;
      let of = repositories.get(f.value);
      if (!of) repositories.set(f.value, (of = new Set()));
      for (const r of f.repositories ?? ['*']) of.add(r);
    }
    if (app.container && !app.workload) {
      for (const f of found) if (isWorkload(f.kind)) named.push({ workload: f.workload, image: f.value });
    }
  }
  if (ambiguousWorkloads(named) !== undefined) return { value: null };
  const value = valueOf(app, values);
  if (value === null || !('images' in value) || !everyImage || value.images.length === 1) return { value };
  // `image` in history is the first: of every image, a main container's rather than an
  // init container's `tools/migrate`, which sorts before `web`.
  return {
    value: { images: [...value.images.filter((i) => main.has(i)), ...value.images.filter((i) => !main.has(i))] },
    repositories: Object.fromEntries([...repositories].map(([image, of]) => [image, [...of]])),
  };
}

/**
 * A value of every image (`readAppValue`) narrowed to the images a deploy of `repository`
 * targets, which is what `appValue` reads with that repository; null when it targets none.
 */
export function narrowValue(value: AppValue, repositories: ImageRepositories, repository: string): AppValue | null {
  if (!('images' in value)) return value;
  let wanted: string;
  try {
    wanted = normalizeRepository(parseImageReference(repository).repository);
  } catch {
    return null;
  }
  const kept = value.images.filter((image) => repositories[image]?.some((r) => r === '*' || r === wanted));
  return kept.length === 0 ? null : { images: kept.sort() };
}

/**
 * Whether `appValue` reads every image of the app's targets: an image app with no
 * `container`, whose deploys have not yet told the repository they target. Such a value
 * is narrowed once one does (revision-index.ts).
 */
export function readsEveryImage(app: AppConfig, repository: string | undefined): boolean {
  return app.source !== 'git' && app.container === undefined && repository === undefined;
}

/** The value the distinct values an app's targets hold make, or null for none. */
function valueOf(app: AppConfig, values: Iterable<string>): AppValue | null {
  const sorted = [...new Set(values)].sort();
  if (sorted.length === 0) return null;
  if (app.source !== 'git') return { images: sorted };
  // A git-source app's markers name one commit; markers that disagree have no single value.
  return sorted.length === 1 ? { commit: sorted[0]! } : null;
}

/** The last reading of each file, by path (kept by the history index between commits). */
export interface Readings {
  get(path: string): FileReading | undefined;
  set(path: string, reading: FileReading): void;
}

/**
 * What `appValue` reads from the files an edit of `app` just wrote, told by the edit's own
 * matches instead of a second parse of every file (issue #14): every match reads back as
 * its `after` (test/unit/manifests/site-reading.ts), and a deploy narrows as `appValue`
 * does for the repository it posts, except that with `container` only markers and the
 * workloads' containers count. `matches` are those of all the app's files. Undefined when
 * the matches cannot tell: an alias that followed an edited anchor may or may not be a
 * target when the files are read back.
 */
export function valueAfterEdit(app: AppConfig, matches: readonly ImageMatch[]): AppValue | null | undefined {
  if (matches.some((m) => m.throughAlias)) return undefined;
  const counted =
    app.source === 'git' || !app.container ? matches : matches.filter((m) => m.kind === 'marker' || isWorkload(m.kind));
  return valueOf(
    app,
    counted.map((m) => m.after),
  );
}

/** A deploy's value as its edit told it (`valueAfterEdit`), carried with its commit. */
export interface LearnedValue {
  app: string;
  value: AppValue | null;
}

/** The value `memo` tells for `appId`, or undefined when it tells nothing about it. */
export function learnedValue(memo: unknown, appId: string): AppValue | null | undefined {
  if (typeof memo !== 'object' || memo === null || (memo as Partial<LearnedValue>).app !== appId) return undefined;
  return (memo as LearnedValue).value;
}

/** The normalised repository of an image reference, or the raw text when it does not parse. */
export function repositoryOf(image: string): string {
  try {
    return normalizeRepository(parseImageReference(image).repository);
  } catch {
    return image;
  }
}
