import { KipError } from '../errors.js';
import { describeValue, sameValue, type AppValue } from '../history/app-value.js';
import type { Revision } from '../history/revision-index.js';
import { undoneRevisions } from '../history/undone.js';

/** What a rollback will write: the target revision, and the commit it reverts if exactly one. */
export interface RollbackPlan {
  /**
   * The revision to go back to, its value as the rollback writes it: for one read before
   * any deploy told the app's repository (every image of its files), the one image that
   * differs from the current value (`restoredValue`).
   */
  target: Revision;
  current: Revision;
  /** The current revision's config commit when the rollback undoes exactly it. */
  reverts: string | undefined;
}

/**
 * Choose the revision a rollback goes to (docs/design.md "History and rollback"). Without a
 * number: the newest revision older than the current one that is not undone and whose
 * value differs from the current value. A rollback undoes what it skipped, so rolling
 * back again keeps stepping back (3 → 2 → 1) instead of toggling, and a revision that a
 * `git revert` took away is never brought back. `requested` goes to that revision, undone
 * or not: an explicit choice. Pure: revisions in, plan out.
 */
export function planRollback(app: string, revisions: Revision[], requested: number | undefined): RollbackPlan {
  const current = revisions.at(-1);
  if (!current) throw new KipError('NOTHING_TO_ROLL_BACK', `${app} has no revisions yet; deploy it first`, { app });
  let target: Revision | undefined;
  if (requested !== undefined) {
    target = revisions[requested - 1];
    if (!Number.isInteger(requested) || requested < 1 || !target) {
      throw new KipError(
        'REVISION_NOT_FOUND',
        `${app} has no revision #${requested}; see \`kip app history\` (1 to ${revisions.length})`,
        {
          app,
          revision: requested,
        },
      );
    }
  } else {
    const undone = undoneRevisions(revisions);
    target = revisions.findLast((r) => r !== current && !undone.has(r.revision) && !sameValue(r.value, current.value));
    if (!target) {
      throw new KipError(
        'NOTHING_TO_ROLL_BACK',
        `${app} has no earlier revision that was not undone and runs something else`,
        { app },
      );
    }
  }
  if (sameValue(target.value, current.value)) {
    throw new KipError(
      'ALREADY_CURRENT',
      `revision #${target.revision} of ${app} runs ${describeValue(target.value)}, which is already current`,
      {
        app,
        revision: target.revision,
      },
    );
  }
  // A revert in git's sense: the value goes back to what the current revision replaced.
  const before = revisions[current.revision - 2];
  const reverts = before !== undefined && sameValue(before.value, target.value) ? current.configCommit : undefined;
  return { target: { ...target, value: restoredValue(app, target, current) }, current, reverts };
}

/**
 * The value a rollback to `target` writes. A revision of several images holds every image
 * of the app's files, of several repositories, read before any deploy told which is the
 * app's (history's `everyImage`): the rollback deploys the one image that differs from
 * the current value, so that the others (an init container's `tools/migrate`) stay as
 * they are (issue #18). Several that differ: no single image to go back to.
 */
function restoredValue(app: string, target: Revision, current: Revision): AppValue {
  if (!('images' in target.value) || target.value.images.length === 1) return target.value;
  const now = 'images' in current.value ? current.value.images : [];
  const differing = target.value.images.filter((image) => !now.includes(image));
  if (differing.length !== 1) {
    throw new KipError(
      'NOTHING_TO_ROLL_BACK',
      `revision #${target.revision} of ${app} holds several images (${describeValue(target.value)}), ${differing.length} of them not running now: ` +
        'no single image to roll back to; deploy the one you want with `kip app update --image`',
      { app },
    );
  }
  return { images: differing };
}
