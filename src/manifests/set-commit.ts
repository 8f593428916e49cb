/**
 * Git-source apps (`source: git` in kipper.yaml): the posted commit goes to the app's
 * `# {"$kipper": "<namespace>/<app>:commit"}` markers, e.g. an Argo CD Application's
 * `targetRevision` or a build resource's revision field. Nothing is found
 * automatically: a SHA has no repository to match by.
 */
import { KipError } from '../errors.js';
import { applySplices } from './apply-splices.js';
import { parseDocuments } from './parse-documents.js';
import type { EditResult, ImageMatch } from './set-image.js';
import { findSetterMarkers, type SetterMarker } from './setter-markers.js';
import { spliceWrites, type PendingWrites } from './splice-writes.js';

/** The commit to set on one app's `:commit` markers. */
export interface CommitTarget {
  /** `<namespace>/<app>`. */
  app: string;
  /** A git commit SHA, 7 to 64 hex digits, written as given. */
  commit: string;
}

/** A `:commit` marker's scalar, as it reads now. */
export interface FoundCommit {
  documentIndex: number;
  yamlPath: string;
  value: string;
}

const COMMIT = /^[0-9a-fA-F]{7,64}$/;

/** Set every `<app>:commit` marker scalar in `text` to the commit; zero matches is NOT an error here (the caller checks across files). */
export function setCommit(text: string, target: CommitTarget): EditResult {
  // The webhook validates the body already; this keeps anything that could break out
  // of a scalar from ever reaching one, whoever calls.
  if (!COMMIT.test(target.commit)) {
    throw new KipError('INVALID_COMMIT', 'the commit must be a git commit SHA: 7 to 64 hexadecimal characters', {
      field: 'commit',
    });
  }
  const parsed = parseDocuments(text);
  const markers = commitMarkers(text, parsed, target.app);
  if (markers.length === 0) return { text, changed: false, matches: [] };
  const writes: PendingWrites = new Map();
  const matches: ImageMatch[] = markers.map((marker) => {
    const before = String(marker.node.source);
    if (before !== target.commit) writes.set(marker.node, { value: target.commit, documentIndex: marker.documentIndex });
    return {
      kind: 'marker',
      documentIndex: marker.documentIndex,
      yamlPath: marker.yamlPath,
      fields: [],
      container: undefined,
      workload: undefined,
      before,
      after: target.commit,
    };
  });
  const out = applySplices(text, spliceWrites(text, parsed, writes).splices);
  return { text: out, changed: out !== text, matches };
}

/** Read the app's `:commit` marker values, in file order. */
export function findCommits(text: string, app: string): FoundCommit[] {
  return commitMarkers(text, parseDocuments(text), app).map((marker) => ({
    documentIndex: marker.documentIndex,
    yamlPath: marker.yamlPath,
    value: String(marker.node.source),
  }));
}

function commitMarkers(text: string, documents: Parameters<typeof findSetterMarkers>[1], app: string): SetterMarker[] {
  return findSetterMarkers(text, documents).filter((marker) => marker.app === app && marker.part === 'commit');
}
