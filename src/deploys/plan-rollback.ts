import { KipError } from '../errors.js';
import type { Revision } from '../history/revision-index.js';

/** What a rollback will write: the target revision, and the commit it reverts if exactly one. */
export interface RollbackPlan {
  target: Revision;
  current: Revision;
  /** The current revision's config commit when the rollback undoes exactly it. */
  reverts: string | undefined;
}

/**
 * Choose the revision a rollback goes to (DESIGN.md "History and rollback"). Without a
 * number it is the revision before the current one, where a current rollback counts as
 * the revision it went back to: rolling back again keeps stepping back (3 → 2 → 1)
 * instead of toggling between two images. Pure: revisions in, plan out.
 */
/** What a revision deployed: the image, or for a git-source app the commit. */
export function valueOf(r: Revision): string | null {
  return r.image ?? r.commit;
}

export function planRollback(app: string, revisions: Revision[], requested: number | undefined): RollbackPlan {
  const current = revisions.at(-1);
  if (!current) throw new KipError('NOTHING_TO_ROLL_BACK', `${app} has no revisions yet; deploy it first`, { app });
  let target: Revision | undefined;
  if (requested !== undefined) {
    target = revisions[requested - 1];
    if (!Number.isInteger(requested) || requested < 1 || !target) {
      throw new KipError('REVISION_NOT_FOUND', `${app} has no revision #${requested}; see \`kip app history\` (1 to ${revisions.length})`, {
        app,
        revision: requested,
      });
    }
  } else {
    let position = current.revision;
    if (current.rollbackTo) {
      const wentTo = revisions.findLast((r) => r.configCommit === current.rollbackTo);
      if (wentTo) position = wentTo.revision;
    }
    target = revisions[position - 2];
    if (!target) throw new KipError('NOTHING_TO_ROLL_BACK', `${app} has no earlier revision to roll back to`, { app });
  }
  const value = valueOf(target);
  if (value === null || value.includes(', ')) {
    throw new KipError('NOTHING_TO_ROLL_BACK', `revision #${target.revision} of ${app} has no single image to roll back to`, { app });
  }
  if (value === valueOf(current)) {
    throw new KipError('ALREADY_CURRENT', `revision #${target.revision} of ${app} runs ${value}, which is already current`, {
      app,
      revision: target.revision,
    });
  }
  const reverts = target.revision === current.revision - 1 ? current.configCommit : undefined;
  return { target, current, reverts };
}
