import type { Gitdir } from './gitdir.js';

/** Where a remote's whole history is fetched: a ref of its own, beside the queue's fetches of the branch (it can take minutes). */
const HISTORY_REF = 'refs/kipper/history';

/**
 * `Remote.fetchFull` for a remote that fetches with `git fetch` (HTTP, SSH): unshallow the
 * local store into a ref of its own and return the head it brought. `gitFetch(args, into)`
 * runs the remote's own `git fetch`; `noHead` is its error for a branch that is not there.
 */
export async function fetchWholeHistory(
  gitdir: Gitdir,
  gitFetch: (args: string[], into: string) => Promise<void>,
  noHead: () => Error,
): Promise<string> {
  // git refuses --unshallow on a repo that is already whole.
  await gitFetch((await gitdir.isShallow()) ? ['--unshallow'] : [], HISTORY_REF);
  const head = await gitdir.readRef(HISTORY_REF);
  if (head === null) throw noHead();
  return head;
}
