/**
 * The image sites of a file as reading them needs (what `findImages` selects from),
 * without the YAML nodes, so that a reading can be kept per file and the next version of
 * the file read from it when all that changed is one image (issue #14: a first history of
 * 100,000 commits parsed 100,000 files that each differed from the version before by one
 * image, 15 s of parsing and as much again of garbage collection).
 *
 * The shortcut is taken only where it is the same reading by construction: every site
 * of the file is a container's `image:` written as a plain scalar on a block mapping line
 * (`image: registry/app:1`, no anchor, tag, quotes or marker), and the two texts differ
 * only inside one of those scalars, which still reads as a plain scalar of the same
 * extent. Anything else is parsed.
 */
import { isScalar } from 'yaml';
import { collectSites } from './collect-sites.js';
import { whereOf, type ImageSite, type SiteWhere } from './image-site.js';
import { parseDocuments } from './parse-documents.js';

/** A site as selection and reading see it: what it is and reads, without its YAML nodes. */
export interface SiteReading extends SiteWhere {
  current: string;
  repositories?: readonly string[] | undefined;
  /** Where the one plain scalar it reads is, when it is that simple; `node` tells sites reading the same scalar. */
  scalar?: { start: number; end: number; node: number };
}

/** One version of a file, read for one app (markers are per app). */
export interface FileReading {
  text: string;
  app: string | undefined;
  sites: readonly SiteReading[];
  byMarkers: boolean;
  /** Every site is a simple scalar (`scalar` set) and there are no markers: the next version may be read from this one. */
  simple: boolean;
}

/** About what a reading holds in memory, for caches of them bounded by size. */
export function readingSize(reading: FileReading): number {
  return 2 * reading.text.length + 200 * reading.sites.length;
}

/** The sites of `text` for `app`; from `previous` (an earlier version of the same file) when only one simple image changed. */
export function readSites(text: string, app: string | undefined, previous?: FileReading): FileReading {
  return (previous && followingReading(previous, text, app)) ?? readingOf(text, app, collectSites(text, parseDocuments(text), app));
}

/** The reading of `text` when it follows from `previous` without a parse (then it is `simple`); undefined otherwise. */
export function followingReading(previous: FileReading, text: string, app: string | undefined): FileReading | undefined {
  if (previous.app !== app || !previous.simple) return undefined;
  return previous.text === text ? previous : fromPrevious(previous, text);
}

/** The reading of `text` from the sites a parse found (collect-sites.ts). */
export function readingOf(text: string, app: string | undefined, { sites, byMarkers }: { sites: readonly ImageSite[]; byMarkers: boolean }): FileReading {
  const nodes = new Map<unknown, number>();
  const readings = sites.map((site) => {
    const scalar = simpleScalar(text, site);
    const reading: SiteReading = {
      ...whereOf(site),
      current: site.current,
      ...(site.repositories ? { repositories: site.repositories } : {}),
    };
    if (scalar) {
      const node = site.nodes[0];
      if (!nodes.has(node)) nodes.set(node, nodes.size);
      reading.scalar = { ...scalar, node: nodes.get(node)! };
    }
    return reading;
  });
  const simple = !byMarkers && !text.includes('$kipper') && readings.every((r) => r.scalar !== undefined);
  return { text, app, sites: readings, byMarkers, simple };
}

// A block mapping line up to a plain value: indentation, an optional sequence dash, a plain key.
const BLOCK_KEY = /^[ ]*(?:-[ ]+)?[A-Za-z_][A-Za-z0-9_.-]*:[ ]+$/;
// An image reference as a plain scalar that reads the same in any block context: no
// spaces, quotes, comment or flow indicators, starts with no indicator, ends with no ':'.
const SAFE_PLAIN = /^[A-Za-z0-9](?:[A-Za-z0-9._/:@+-]*[A-Za-z0-9._/@+-])?$/;

/** The plain scalar a container site reads, when the site is that simple. */
function simpleScalar(text: string, site: ImageSite): { start: number; end: number } | undefined {
  if ((site.kind !== 'container' && site.kind !== 'initContainer') || site.fields.length > 0 || site.nodes.length !== 1) return undefined;
  const node = site.nodes[0];
  if (!isScalar(node) || node.type !== 'PLAIN' || node.anchor !== undefined || node.tag !== undefined || !node.range) return undefined;
  const [start, end] = node.range;
  if (text.slice(start, end) !== site.current || !SAFE_PLAIN.test(site.current)) return undefined;
  const lineStart = text.lastIndexOf('\n', start - 1) + 1;
  if (!BLOCK_KEY.test(text.slice(lineStart, start))) return undefined;
  return { start, end };
}

/** `text` read from `previous` when they differ only inside one simple scalar; undefined otherwise. */
function fromPrevious(previous: FileReading, text: string): FileReading | undefined {
  const old = previous.text;
  const shortest = Math.min(old.length, text.length);
  let head = 0;
  while (head < shortest && old.charCodeAt(head) === text.charCodeAt(head)) head++;
  let tail = 0;
  while (tail < shortest - head && old.charCodeAt(old.length - 1 - tail) === text.charCodeAt(text.length - 1 - tail)) tail++;
  const site = previous.sites.find((s) => s.scalar && s.scalar.start <= head && old.length - tail <= s.scalar.end);
  if (!site?.scalar) return undefined;
  const { start, end, node } = site.scalar;
  const shift = text.length - old.length;
  const value = text.slice(start, end + shift);
  if (!SAFE_PLAIN.test(value)) return undefined;
  const sites = previous.sites.map((s) => {
    const scalar = s.scalar!;
    if (scalar.node === node) return { ...s, current: value, scalar: { start, end: end + shift, node } };
    return scalar.start >= end ? { ...s, scalar: { ...scalar, start: scalar.start + shift, end: scalar.end + shift } } : s;
  });
  return { text, app: previous.app, sites, byMarkers: false, simple: true };
}
