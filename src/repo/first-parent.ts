import type { Gitdir } from './gitdir.js';

/**
 * How a first-parent walk ended: `found` (the predicate said so), `root` (a commit without
 * parents), `limit` (that many commits looked at), or `missing` (a commit not in the gitdir:
 * the edge of a shallow fetch, or one not fetched yet). Only `missing` may turn into
 * another answer after the next fetch.
 */
export type WalkEnd = 'found' | 'root' | 'limit' | 'missing';

/**
 * Walks the first-parent chain from `from` (included), newest first, until `found` says
 * so or the walk ends. One walker for every "is it on the branch" question: the write
 * queue's "did a push whose answer was lost land", the rollout's "is the cluster at or past
 * this revision".
 */
export async function walkFirstParents(
  gitdir: Pick<Gitdir, 'readCommit'>,
  from: string,
  found: (oid: string) => boolean,
  limit: number,
): Promise<WalkEnd> {
  let oid: string | undefined = from;
  for (let i = 0; i < limit; i++) {
    if (oid === undefined) return 'root';
    if (found(oid)) return 'found';
    try {
      oid = (await gitdir.readCommit(oid)).parents[0];
    } catch {
      return 'missing';
    }
  }
  return 'limit';
}
