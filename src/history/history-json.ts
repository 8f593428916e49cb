import type { HistoryRevision } from '../api-types.js';
import { firstImage } from './app-value.js';
import type { Revision } from './revision-index.js';
import { undoneRevisions } from './undone.js';

/** Revisions (oldest first) as the API shows them: newest first, the newest current, undone ones marked. */
export function historyJson(revisions: readonly Revision[]): HistoryRevision[] {
  const undone = undoneRevisions(revisions);
  return revisions.map((r, i) => revisionJson(revisions, i, undone.has(r.revision))).reverse();
}

/** The current (newest) revision as the API shows it, without converting the rest; undefined for none. */
export function currentRevisionJson(revisions: readonly Revision[]): HistoryRevision | undefined {
  // Nothing came after it, so nothing undid it.
  return revisions.length === 0 ? undefined : revisionJson(revisions, revisions.length - 1, false);
}

function revisionJson(revisions: readonly Revision[], i: number, undone: boolean): HistoryRevision {
  const r = revisions[i]!;
  const images = 'images' in r.value ? r.value.images : undefined;
  return {
    revision: r.revision,
    image: firstImage(r.value),
    ...(images && images.length > 1 ? { images } : {}),
    commit: 'commit' in r.value ? r.value.commit : r.sourceCommit,
    trigger: r.trigger,
    author: r.author,
    actor: r.actor ?? authorName(r.author),
    timestamp: r.timestamp,
    configCommit: r.configCommit,
    current: i === revisions.length - 1,
    undone,
    reason: r.reason ?? null,
    ...(r.promotedFrom ? { promotedFrom: r.promotedFrom } : {}),
    ...(r.rollbackTo ? withTarget(revisions, r.rollbackTo, r.revision) : {}),
    ...(r.pullRequest ? { pullRequest: r.pullRequest } : {}),
  };
}

/** `rolledBackTo`: the number of the revision a rollback's config commit names, when it is in this history. */
function withTarget(revisions: readonly Revision[], configCommit: string, before: number): { rolledBackTo?: number } {
  const target = revisions.findLast((t) => t.revision < before && t.configCommit === configCommit);
  return target ? { rolledBackTo: target.revision } : {};
}

/** `Name <email>` → `Name`: who a commit the bridge did not write names as its author. */
function authorName(author: string): string {
  const at = author.lastIndexOf(' <');
  return at > 0 ? author.slice(0, at) : author;
}
