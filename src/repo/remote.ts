/**
 * Where the config repo's branch lives, seen as two operations: bring its head into the
 * local gitdir, and move it by compare-and-swap. HttpRemote talks to a git server;
 * LocalRemote is the embedded bare repo in the data dir.
 */
import type { Gitdir } from './gitdir.js';

/**
 * Outcome of a push. `rejected`: the server answered and refused because someone else
 * moved the branch (the compare-and-swap lost): fetch, re-apply, retry. `declined`: the
 * server refused for policy (a pre-receive or update hook, a protected branch): retrying
 * cannot help, `messages` are the lines the remote printed for the pusher. `unreachable`: no usable
 * answer (network, timeout, 5xx, refused credentials); the push MAY still have landed
 * when the connection dropped mid-way, so fetch and compare the head with the new id
 * before writing the same change again. `answer` is what the remote said, in a few
 * words for logs (`HTTP 503`, `timeout`, `ECONNREFUSED`, `non-fast-forward`), never
 * with credentials.
 */
export type PushResult =
  | { ok: true }
  | { ok: false; kind: 'rejected' | 'unreachable'; detail: string; answer: string }
  | { ok: false; kind: 'declined'; detail: string; answer: string; messages: string[] };

/** Told the push's round trip: from sending it to its answer read (network and the server), in ms, when it got one. */
export type RoundTrip = (ms: number) => void;

/** The config repo's branch: fetch its head, compare-and-swap it. */
export interface Remote {
  /**
   * Bring the branch head's objects into the gitdir (shallow is fine) and return the head
   * oid. Throws KipError('REPO_UNAVAILABLE', data.answer) when unreachable, after at most
   * the remote's timeout or when `signal` aborts, whichever is first.
   */
  fetch(signal?: AbortSignal): Promise<string>;
  /** Like `fetch`, but brings the whole history (unshallows); for the history index. */
  fetchFull(): Promise<string>;
  /**
   * Compare-and-swap: move branch from `oldOid` to `newOid`, sending only `newObjects`.
   * Never force. Gives up (unreachable) after the remote's timeout or when `signal` aborts.
   */
  push(
    oldOid: string,
    newOid: string,
    newObjects: string[],
    signal?: AbortSignal,
    roundTrip?: RoundTrip,
  ): Promise<PushResult>;
  /** The local gitdir, the one owner of its directory. */
  readonly gitdir: Gitdir;
  /** For logs: the URL or path, never credentials. */
  readonly description: string;
}
