import { performance } from 'node:perf_hooks';
import { KipError } from '../errors.js';
import type { Signature } from '../repo/git-objects.js';
import type { CommitSign, Gitdir } from '../repo/gitdir.js';
import type { PushResult } from '../repo/remote.js';

/** A read-only view of the branch at one commit, handed to an edit. */
export interface TreeView {
  readFile(path: string): Promise<Uint8Array | null>;
  /** The blob id at `path` (to cache what is parsed from it), or null. */
  fileOid(path: string): Promise<string | null>;
}

/** What an edit decided for the view it was given. */
export type EditDecision<T> =
  | {
      kind: 'commit';
      files: Map<string, Uint8Array>;
      message: string;
      result: T;
      /** What the edit knows of its commit, for whoever reads it back (`CommitInput.memo`). */
      memo?: unknown;
      /** A verified person who asked for it: the commit's author, the bridge staying committer (docs/design.md "Who did it"). */
      author?: { name: string; email: string } | undefined;
    }
  | { kind: 'unchanged'; result: T };

/**
 * An edit is a pure function of the files it reads: the queue may run it again on a
 * newer head after a rejected push, so it must not keep state between calls.
 */
export type Edit<T> = (view: TreeView) => Promise<EditDecision<T>>;

/** The outcome of a submitted edit: `configCommit` is null when nothing changed. */
export interface Outcome<T> {
  result: T;
  configCommit: string | null;
}

/** A caller's going away, as a deploy sees it: an AbortSignal is one (webhook-route.ts has a lighter one). */
export interface Withdrawal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** How long a submitted edit may wait, and who may take it back. */
export interface SubmitOptions {
  /** Epoch ms after which the edit is dropped with 503 unless a push carrying it is in flight. Default: now + deployTimeoutMs. */
  deadline?: number;
  /** Aborted when the caller went away: the edit is dropped unless a push carrying it is in flight. */
  signal?: Withdrawal;
}

/** One push attempt: how many commits, its result, how long building and pushing took. */
export interface PushEvent {
  commits: number;
  result: 'ok' | 'rejected' | 'declined' | 'unreachable';
  buildMs: number;
  pushMs: number;
  /** The remote's part of `pushMs`: from sending the push to its answer read (when it got one). */
  roundTripMs?: number;
  /** A push that did not land: what the remote answered (never credentials). */
  answer?: string;
  /** A declined push: the lines the remote printed (a hook's reason). */
  remote?: string[];
}

/**
 * One submitted edit until it is answered, once: resolved with its outcome, or failed.
 * Until a push request carries it, it may be withdrawn (deadline passed, caller gone);
 * while one does, only that push's outcome decides (it may land), and a withdrawal
 * waits as `lapsed` for a push that did not.
 */
export class PendingEdit {
  /** Carried by a push request right now. */
  pushing = false;
  lapsed: KipError | null = null;
  settled = false;
  /** Push attempts that carried it (for the log line of a failure). */
  attempts = 0;
  /** A push carrying it got no answer: it may be in the remote. */
  uncertain = false;
  private release: () => void = () => undefined;

  constructor(
    readonly edit: Edit<unknown>,
    readonly deadline: number,
    private readonly done: {
      resolve: (o: Outcome<unknown>) => void;
      reject: (err: unknown) => void;
      settled: (p: PendingEdit) => void;
    },
  ) {}

  /** A push request carries it now: no withdrawal until that push's outcome is known. */
  carried(): void {
    this.pushing = true;
    this.attempts++;
  }

  /** Withdraws the edit at `deadline` (with `expired()`) and when `signal` aborts (with `gone()`). */
  watch(
    signal: Withdrawal | undefined,
    expired: () => KipError,
    gone: () => KipError,
    withdraw: (p: PendingEdit, err: KipError) => void,
  ): void {
    const timer = setTimeout(() => withdraw(this, expired()), Math.max(0, this.deadline - Date.now()));
    const onAbort = () => withdraw(this, gone());
    signal?.addEventListener('abort', onAbort, { once: true });
    this.release = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
  }

  answer(outcome: Outcome<unknown>): void {
    if (this.finish()) this.done.resolve(outcome);
  }

  fail(err: unknown): void {
    if (this.finish()) this.done.reject(err);
  }

  private finish(): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.release();
    this.done.settled(this);
    return true;
  }
}

/** Edits built into commits chained on `base`, ready for one push. */
export interface Batch {
  base: string;
  tip: string;
  done: Array<{ pending: PendingEdit; result: unknown; commit: string | null }>;
  /** The edits that applied (committed or unchanged); the others failed alone. */
  live: PendingEdit[];
  newObjects: string[];
  buildMs: number;
}

/**
 * Runs each edit on the tip the previous one left, writing one commit per change. An
 * edit that cannot apply (no image target, bad YAML, a path through a file) fails alone,
 * not the batch; withdrawn ones are skipped.
 */
export async function buildBatch(
  gitdir: Gitdir,
  base: string,
  edits: readonly PendingEdit[],
  signature: () => Signature,
  sign?: CommitSign,
): Promise<Batch> {
  const started = performance.now();
  const batch: Batch = { base, tip: base, done: [], live: [], newObjects: [], buildMs: 0 };
  for (const p of edits) {
    if (p.settled) continue;
    const at = batch.tip;
    const view: TreeView = gitdir.view(at);
    try {
      const decision = await p.edit(view);
      let commit: string | null = null;
      if (decision.kind === 'commit') {
        const sig = signature();
        const written = await gitdir.writeCommit({
          parent: at,
          files: decision.files,
          message: decision.message,
          author: decision.author ? { ...sig, name: decision.author.name, email: decision.author.email } : sig,
          committer: sig,
          memo: decision.memo,
          sign,
        });
        batch.newObjects.push(...written.newObjects);
        batch.tip = commit = written.oid;
      }
      batch.live.push(p);
      batch.done.push({ pending: p, result: decision.result, commit });
    } catch (err) {
      p.fail(err);
    }
  }
  batch.buildMs = performance.now() - started;
  return batch;
}

/** `more`, built on `first`'s tip, joined to it: one push carries both. */
export function joinBatches(first: Batch | null, more: Batch): Batch {
  if (!first) return more;
  return {
    base: first.base,
    tip: more.tip,
    done: [...first.done, ...more.done],
    live: [...first.live, ...more.live],
    newObjects: [...first.newObjects, ...more.newObjects],
    buildMs: first.buildMs + more.buildMs,
  };
}

/** What `onPush` hears of one push attempt of `batch`. */
export function pushEvent(batch: Batch, pushed: PushResult, pushMs: number, roundTripMs?: number): PushEvent {
  return {
    commits: batch.done.filter((d) => d.commit !== null).length,
    result: pushed.ok ? 'ok' : pushed.kind,
    buildMs: batch.buildMs,
    pushMs,
    ...(roundTripMs === undefined ? {} : { roundTripMs }),
    ...(pushed.ok ? {} : { answer: pushed.answer }),
    ...(!pushed.ok && pushed.kind === 'declined' ? { remote: pushed.messages } : {}),
  };
}
