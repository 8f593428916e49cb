import { KipError, isKipError } from '../errors.js';
import type { Signature } from './object-store.js';
import type { Remote } from './remote.js';

/** A read-only view of the branch at one commit, handed to an edit. */
export interface TreeView {
  readonly head: string;
  readFile(path: string): Promise<Uint8Array | null>;
}

/** What an edit decided for the view it was given. */
export type EditDecision<T> =
  | { kind: 'commit'; files: Map<string, Uint8Array>; message: string; result: T }
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
  /** The branch head right after this edit (its own commit, or the head it saw). */
  head: string;
}

export interface WriteQueueOptions {
  /** Pushes rejected because someone else moved the branch, before giving up. */
  maxRejections?: number;
  /** Attempts while the remote is unreachable, before answering 503. */
  maxUnreachable?: number;
  /** Base of the random backoff between attempts, in ms. */
  backoffMs?: number;
  /** Edits carried by one push at most. */
  maxBatch?: number;
  signature: () => Signature;
  /** Called after the branch head moved (our push or a fetch), before waiters resolve. */
  onHead?: (head: string) => Promise<void> | void;
}

interface Built {
  base: string;
  tip: string;
  done: Array<{ pending: Pending; result: unknown; commit: string | null; head: string }>;
  live: Pending[];
  newObjects: string[];
}

interface Pending {
  edit: Edit<unknown>;
  resolve: (o: Outcome<unknown>) => void;
  reject: (err: unknown) => void;
}

/**
 * The one writer of a config repo. Edits queue up and are drained in batches: every edit
 * becomes its own commit, chained on the head, and one push carries the batch (group
 * commit). The push is a compare-and-swap on the head the batch was built on; when
 * another writer moved the branch we fetch, run the pending edits again on the new head
 * and retry with random backoff, a bounded number of times. Nothing resolves before its
 * commit is in the remote, and a batch that cannot be pushed is dropped whole, never
 * pushed later behind its callers' backs.
 */
export class WriteQueue {
  private pending: Pending[] = [];
  private draining = false;
  private refreshWanted: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  private current: string | null = null;
  private readonly opts: Required<Omit<WriteQueueOptions, 'onHead'>> & Pick<WriteQueueOptions, 'onHead'>;
  private idleWaiters: Array<() => void> = [];
  /** Set when the last exchange with the remote failed; cleared by the next success. */
  lastError: KipError | null = null;
  stats = { pushes: 0, rejected: 0, unreachable: 0, commits: 0 };

  constructor(
    private readonly remote: Remote,
    options: WriteQueueOptions,
  ) {
    this.opts = {
      maxRejections: 25,
      maxUnreachable: 3,
      backoffMs: 20,
      maxBatch: 200,
      ...options,
    };
  }

  /** The branch head as last seen; throws before the first successful fetch. */
  get head(): string {
    if (this.current === null) throw new KipError('REPO_UNAVAILABLE', 'the config repo has not been fetched yet');
    return this.current;
  }

  get hasHead(): boolean {
    return this.current !== null;
  }

  /** Number of edits waiting, including the batch in flight. */
  get depth(): number {
    return this.pending.length;
  }

  /** Queue an edit; resolves once its commit is in the remote (or it changed nothing). */
  submit<T>(edit: Edit<T>): Promise<Outcome<T>> {
    return new Promise<Outcome<T>>((resolve, reject) => {
      this.pending.push({ edit: edit as Edit<unknown>, resolve: resolve as (o: Outcome<unknown>) => void, reject });
      this.kick();
    });
  }

  /** Fetch the remote head (serialised with writes) so others' pushes are seen. */
  refresh(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.refreshWanted.push({ resolve, reject });
      this.kick();
    });
  }

  /** Resolves when nothing is queued or in flight. */
  idle(): Promise<void> {
    if (!this.draining && this.pending.length === 0 && this.refreshWanted.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private kick(): void {
    if (this.draining) return;
    this.draining = true;
    void this.drain().finally(() => {
      this.draining = false;
      if (this.pending.length > 0 || this.refreshWanted.length > 0) this.kick();
      else for (const w of this.idleWaiters.splice(0)) w();
    });
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0 || this.refreshWanted.length > 0) {
      if (this.refreshWanted.length > 0 || this.current === null) {
        const waiters = this.refreshWanted.splice(0);
        try {
          await this.fetch();
          for (const w of waiters) w.resolve();
        } catch (err) {
          for (const w of waiters) w.reject(err);
          // Without a head nothing can be written: fail the queued edits rather than spin.
          if (this.current === null) for (const p of this.pending.splice(0)) p.reject(err);
          continue;
        }
      }
      if (this.pending.length === 0) continue;
      const batch = this.pending.slice(0, this.opts.maxBatch);
      await this.runBatch(batch);
      this.pending.splice(0, batch.length);
    }
  }

  private async fetch(): Promise<void> {
    try {
      const head = await this.remote.fetch();
      this.lastError = null;
      if (head !== this.current) {
        this.current = head;
        await this.opts.onHead?.(head);
      }
    } catch (err) {
      this.lastError = isKipError(err) ? err : new KipError('REPO_UNAVAILABLE', 'the config repo could not be fetched');
      throw this.lastError;
    }
  }

  /** Build the batch's commits on the current head and push them; retry on conflicts. */
  private async runBatch(batch: Pending[]): Promise<void> {
    let rejections = 0;
    let unreachable = 0;
    let live = batch;
    for (;;) {
      const base = this.head;
      const built = await this.build(base, live);
      live = built.live;
      if (built.tip === base) {
        // Every edit was a no-op (or failed on its own): nothing to push.
        for (const b of built.done) b.pending.resolve({ result: b.result, configCommit: null, head: base });
        return;
      }
      const pushed = await this.remote.push(base, built.tip, built.newObjects);
      this.stats.pushes++;
      if (pushed.ok) return this.landed(built);
      if (pushed.kind === 'rejected') {
        this.stats.rejected++;
        rejections++;
        if (rejections >= this.opts.maxRejections) {
          return this.fail(live, new KipError('REPO_UNAVAILABLE', `the config repo kept moving: ${rejections} pushes rejected; retry later`, { retryAfter: 5 }));
        }
      } else {
        this.stats.unreachable++;
        unreachable++;
        this.lastError = new KipError('REPO_UNAVAILABLE', `the config repo is unreachable: ${pushed.detail}`, { retryAfter: 10 });
      }
      await sleep(backoff(this.opts.backoffMs, rejections + unreachable));
      try {
        await this.fetch();
      } catch (err) {
        unreachable++;
        if (unreachable >= this.opts.maxUnreachable) return this.fail(live, err);
        continue;
      }
      // A push whose answer was lost may still have landed: then it is done, and
      // building it again would answer "unchanged" to requests that did deploy.
      if (pushed.kind === 'unreachable' && (await this.contains(this.head, built.tip))) return this.landed(built);
      if (unreachable >= this.opts.maxUnreachable) return this.fail(live, this.lastError ?? new KipError('REPO_UNAVAILABLE', 'the config repo is unreachable'));
    }
  }

  /** Resolve a batch whose tip is in the remote. */
  private async landed(built: Built): Promise<void> {
    this.lastError = null;
    this.stats.commits += built.done.filter((d) => d.commit !== null).length;
    // After our own push the head moves here; when a fetch found the tip, it already did.
    if (this.current === built.base) {
      this.current = built.tip;
      await this.opts.onHead?.(built.tip);
    }
    for (const b of built.done) b.pending.resolve({ result: b.result, configCommit: b.commit, head: b.head });
  }

  /** True when `oid` is `head` or one of its recent first-parent ancestors. */
  private async contains(head: string, oid: string): Promise<boolean> {
    let cur: string | undefined = head;
    for (let i = 0; cur && i < 200; i++) {
      if (cur === oid) return true;
      try {
        cur = (await this.remote.store.readCommit(cur)).parents[0];
      } catch {
        return false;
      }
    }
    return false;
  }

  private fail(batch: Pending[], err: unknown): void {
    for (const p of batch) p.reject(err);
  }

  private async build(base: string, batch: Pending[]): Promise<Built> {
    const done: Array<{ pending: Pending; result: unknown; commit: string | null; head: string }> = [];
    const live: Pending[] = [];
    const newObjects: string[] = [];
    let tip = base;
    const store = this.remote.store;
    for (const p of batch) {
      const at = tip;
      const view: TreeView = { head: at, readFile: (path) => store.readFile(at, path) };
      let decision: EditDecision<unknown>;
      try {
        decision = await p.edit(view);
      } catch (err) {
        // An edit that cannot apply (no image target, bad YAML) fails alone, not the batch.
        p.reject(err);
        continue;
      }
      live.push(p);
      if (decision.kind === 'unchanged') {
        done.push({ pending: p, result: decision.result, commit: null, head: at });
        continue;
      }
      const sig = this.opts.signature();
      const written = await store.writeCommit({
        parent: at,
        files: decision.files,
        message: decision.message,
        author: sig,
        committer: sig,
      });
      newObjects.push(...written.newObjects);
      tip = written.oid;
      done.push({ pending: p, result: decision.result, commit: written.oid, head: written.oid });
    }
    return { base, tip, done, live, newObjects };
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Random backoff that grows with the attempt: without the randomness one writer starves the others. */
function backoff(base: number, attempt: number): number {
  const cap = base * 2 ** Math.min(attempt, 6);
  return Math.floor(base / 2 + Math.random() * cap);
}
