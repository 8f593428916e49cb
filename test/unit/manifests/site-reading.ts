/**
 * Test-side reading of what a reported site holds after an edit, from a full parse of
 * the output (YAML 1.1 as Kubernetes' go-yaml reads it, and 1.2), and the rules for what
 * it must hold after posting an image. Independent of src/manifests on purpose.
 */
import { expect } from 'vitest';
import { normalizeRepository, parseImageReference, type ImageReference } from '../../../src/manifests/image-reference.js';
import type { ImageMatch } from '../../../src/manifests/set-image.js';
import { jsAt, markerAt } from './yaml-spans.js';

interface Reading {
  /** The site as one reference, spelt the way `ImageMatch.after` spells it. */
  composed: string;
  check(posted: ImageReference): void;
}

const VERSIONS = ['1.1', '1.2'] as const;

/** Assert that every match reads back, in both YAML versions, as `posted` and as its own `after`. */
export function expectReadsAsPosted(text: string, matches: readonly ImageMatch[], posted: ImageReference): void {
  for (const match of matches) {
    for (const version of VERSIONS) {
      const reading = readSite(text, match, version);
      expect(reading.composed, `${match.yamlPath} in YAML ${version}`).toBe(match.after);
      reading.check(posted);
    }
  }
}

function readSite(text: string, match: ImageMatch, version: '1.1' | '1.2'): Reading {
  const at = (yamlPath: string): string | undefined => {
    const value = jsAt(text, { documentIndex: match.documentIndex, yamlPath }, version);
    // A tag that YAML reads as a number (unquoted `1.10`) fails right here.
    if (value !== undefined && value !== null && typeof value !== 'string') {
      throw new Error(`${yamlPath} reads as ${typeof value} ${String(value)} in YAML ${version}`);
    }
    return value ?? undefined;
  };
  const field = (key: string): string | undefined => at(`${match.yamlPath}.${key}`);

  if (match.fields.length === 0) {
    const value = at(match.yamlPath) ?? '';
    const part = match.kind === 'marker' ? (markerAt(text, match)?.[1] ?? 'image') : 'image';
    return { composed: value, check: (posted) => checkPart(part, value, posted) };
  }

  if (match.kind === 'kustomize') {
    const repository = field('newName') || (field('name') as string);
    const tag = field('newTag') || undefined;
    const digest = field('digest') || undefined;
    return {
      composed: compose(repository, tag, digest),
      check: (posted) => {
        expectSameRepository(repository, posted);
        expect(tag).toBe(posted.tag ?? (posted.digest === undefined ? 'latest' : undefined));
        expect(digest).toBe(posted.digest);
      },
    };
  }

  if (match.kind === 'helmValues') {
    const registry = field('registry');
    const repository = registry ? `${registry}/${field('repository')}` : (field('repository') as string);
    const tag = field('tag') ?? '';
    const digestKey = match.fields.includes('digest');
    const digest = digestKey ? field('digest') : undefined;
    return {
      composed: compose(repository, tag || undefined, digest || undefined),
      check: (posted) => {
        expectSameRepository(repository, posted);
        const [bareTag, tagDigest] = tag.split('@');
        if (posted.tag !== undefined) expect(bareTag).toBe(posted.tag);
        else if (posted.digest === undefined) expect(bareTag).toBe('latest');
        expect(digestKey ? digest || undefined : tagDigest).toBe(posted.digest);
      },
    };
  }

  // Part markers on keys of one mapping.
  const parts = new Map<string, string>();
  for (const key of match.fields) {
    const part = markerAt(text, { documentIndex: match.documentIndex, yamlPath: `${match.yamlPath}.${key}` })?.[1];
    if (part === undefined) throw new Error(`no marker on ${match.yamlPath}.${key}`);
    parts.set(part, field(key) ?? '');
  }
  return {
    composed: compose(parts.get('name'), parts.get('tag') || undefined, parts.get('digest') || undefined),
    check: (posted) => {
      for (const [part, value] of parts) checkPart(part, value, posted);
    },
  };
}

function checkPart(part: string, value: string, posted: ImageReference): void {
  switch (part) {
    case 'image':
      return void expect(value).toBe(posted.raw);
    case 'name':
      return expectSameRepository(value, posted);
    case 'tag':
      if (posted.tag !== undefined) expect(value).toBe(posted.tag);
      else if (posted.digest === undefined) expect(value).toBe('latest');
      return;
    case 'digest':
      return void expect(value).toBe(posted.digest ?? '');
    default:
      throw new Error(`unexpected marker part ${part}`);
  }
}

function expectSameRepository(repository: string, posted: ImageReference): void {
  expect(normalizeRepository(parseImageReference(repository).repository)).toBe(normalizeRepository(posted.repository));
}

function compose(repository: string | undefined, tag: string | undefined, digest: string | undefined): string {
  const head = repository === undefined ? (tag ?? '') : tag === undefined ? repository : `${repository}:${tag}`;
  return digest === undefined ? head : `${head}@${digest}`;
}
