import type { Revision } from './revision-index.js';

/**
 * The revisions of one app that were undone (docs/design.md "History and rollback"): a later
 * rollback took the app away from every revision after its target, and a `git revert`
 * took it away from the commit it names. Pure: revisions (oldest first) in, numbers out.
 * A rollback must never bring back what someone deliberately undid (issue #9).
 */
export function undoneRevisions(revisions: readonly Revision[]): Set<number> {
  const undone = new Set<number>();
  for (const r of revisions) {
    if (r.rollbackTo !== undefined) {
      const target = findByCommit(revisions, r.rollbackTo, r.revision);
      if (target === undefined) continue;
      for (let n = target.revision + 1; n < r.revision; n++) undone.add(n);
    } else if (r.reverts !== undefined) {
      const reverted = findByCommit(revisions, r.reverts, r.revision);
      if (reverted !== undefined) undone.add(reverted.revision);
    }
  }
  return undone;
}

/** The newest revision before `before` whose config commit is `sha` (git may name it abbreviated). */
function findByCommit(revisions: readonly Revision[], sha: string, before: number): Revision | undefined {
  for (let i = Math.min(before - 1, revisions.length) - 1; i >= 0; i--) {
    const r = revisions[i]!;
    if (r.configCommit === sha || (sha.length >= 7 && r.configCommit.startsWith(sha))) return r;
  }
  return undefined;
}
