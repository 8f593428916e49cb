/**
 * Where the config repo's branch lives, seen as two operations: bring its head into
 * the local object store, and move it by compare-and-swap. HttpRemote talks to a git
 * server; LocalRemote is the embedded bare repo in the data dir.
 */
import type { ObjectStore } from './object-store.js';

/**
 * Outcome of a push. `rejected`: the server answered and refused (someone else moved
 * the branch, a hook said no): fetch, re-apply, retry. `unreachable`: no usable
 * answer (network, timeout, 5xx, refused credentials); the push MAY still have landed
 * when the connection dropped mid-way, so fetch and compare the head with the new id
 * before writing the same change again.
 */
export type PushResult = { ok: true } | { ok: false; kind: 'rejected' | 'unreachable'; detail: string };

/** The config repo's branch: fetch its head, compare-and-swap it. */
export interface Remote {
  /** Bring the branch head's objects into the local store (shallow is fine) and return the head oid. Throws KipError('REPO_UNAVAILABLE') when unreachable (bounded time). */
  fetch(): Promise<string>;
  /** Like `fetch`, but brings the whole history (unshallows); for the history index. */
  fetchFull?(): Promise<string>;
  /** Compare-and-swap: move branch from `oldOid` to `newOid`, sending only `newObjects`. Never force. */
  push(oldOid: string, newOid: string, newObjects: string[]): Promise<PushResult>;
  readonly store: ObjectStore;
  /** For logs: the URL or path, never credentials. */
  readonly description: string;
}
