import type { PushResult, Remote } from '../repo/remote.js';

/** What the fence asks of the elector. */
export interface WriteFence {
  /** Until when (epoch ms) pushes are allowed; 0: not now. */
  mayWriteUntil(now?: number): number;
}

/**
 * The remote as the write queue of a replica sees it under KIPPER_LEASE: a push leaves only
 * while this replica holds the Lease, and is cut off when its right to write ends (the
 * renew deadline), so a holder that cannot renew stops pushing before another may take
 * over. A refused push is `unreachable` to the queue: its callers get 503 with
 * Retry-After and retry at the new holder; nothing is written.
 */
export function fencedRemote(remote: Remote, fence: WriteFence): Remote {
  return {
    fetch: (signal) => remote.fetch(signal),
    fetchFull: () => remote.fetchFull(),
    get gitdir() {
      return remote.gitdir;
    },
    get description() {
      return remote.description;
    },
    async push(oldOid, newOid, newObjects, signal, roundTrip): Promise<PushResult> {
      const left = fence.mayWriteUntil() - Date.now();
      if (left <= 0)
        return {
          ok: false,
          kind: 'unreachable',
          detail: 'this replica no longer holds the lease',
          answer: 'not the lease holder',
        };
      const cut = AbortSignal.timeout(left);
      return remote.push(oldOid, newOid, newObjects, signal ? AbortSignal.any([signal, cut]) : cut, roundTrip);
    },
  };
}
