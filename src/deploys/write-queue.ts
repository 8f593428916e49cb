import { performance } from 'node:perf_hooks';
import { KipError, isKipError } from '../errors.js';
import type { Signature } from '../repo/git-objects.js';
import type { Remote } from '../repo/remote.js';
import {
  PendingEdit,
  backoff,
  buildBatch,
  joinBatches,
  sleep,
  withdrawnError,
  type Batch,
  type Edit,
  type Outcome,
  type PushEvent,
  type SubmitOptions,
} from './write-batch.js';

export type { Edit, EditDecision, Outcome, PushEvent, SubmitOptions, TreeView } from './write-batch.js';

export interface WriteQueueOptions {
  /** Pushes rejected because someone else moved the branch, before giving up. */
  maxRejections?: number;
  /** Attempts while the remote is unreachable, before answering 503. */
  maxUnreachable?: number;
  /** Base of the random backoff between attempts, in ms. */
  backoffMs?: number;
  /** Edits carried by one push at most. */
  maxBatch?: number;
  /** The longest an edit waits in all (queue, pushes, retries) before it is answered 503. */
  deployTimeoutMs?: number;
  signature: () => Signature;
  /** Signs every commit (KIPPER_SIGNING_KEY); unsigned without. */
  sign?: ((payload: Buffer) => Promise<string>) | undefined;
  /** Told about every push attempt. */
  onPush?: (e: PushEvent) => void;
  /** Called after the branch head moved (our push or a fetch), before waiters resolve. */
  onHead?: (head: string) => Promise<void> | void;
}

/**
 * The one writer of a config repo. Edits queue up and are drained in batches: every edit
 * becomes its own commit, chained on the head, and one push carries the batch (group
 * commit). The push is a compare-and-swap on the head the batch was built on; when
 * another writer moved the branch we fetch, run the pending edits again on the new head
 * and retry with random backoff, a bounded number of times. Nothing resolves before its
 * commit is in the remote, and a batch that cannot be pushed is dropped whole, never
 * pushed later behind its callers' backs.
 *
 * Pipelined: while batch N is being pushed, batch N+1 is built on N's tip. N+1 is only
 * pushed (or answered "unchanged") once N's tip is confirmed as the head; if N had to be
 * rebuilt or failed, N+1 is built again on the real head first. N+1 leaves the moment
 * the remote confirms N: N's callers are answered (after the listeners followed the new
 * head, in order) while N+1 is on its way, so a far remote's round trip is paid once per
 * batch and nothing else sits between two pushes (issue #14).
 *
 * Deadlines (issue #9): every edit is answered within its deadline. Until a push request
 * carries it, an edit whose deadline passes or whose caller goes away is dropped at once
 * (503 / nothing) and never written; each push or fetch is cut off at the earliest
 * deadline of the edits it serves, so a remote that hangs costs a caller its deadline,
 * not the remote's own timeout times the retries.
 */
export class WriteQueue {
  private pending: PendingEdit[] = [];
  /** Taken from `pending` into a batch and not yet answered. */
  private readonly taken = new Set<PendingEdit>();
  private draining = false;
  private refreshWanted: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  private current: string | null = null;
  private readonly opts: Required<Omit<WriteQueueOptions, 'onHead' | 'onPush' | 'sign'>> & Pick<WriteQueueOptions, 'onHead' | 'onPush' | 'sign'>;
  private idleWaiters: Array<() => void> = [];
  private arrivals: Array<() => void> = [];
  /** Batches confirmed by the remote whose callers are still being answered. */
  private readonly answering = new Set<Promise<void>>();
  /** The listeners' work on the heads seen so far, in order (onHead is never run twice at once). */
  private following: Promise<void> = Promise.resolve();
  /** Set when the last exchange with the remote failed; cleared by the next success. */
  lastError: KipError | null = null;
  /** When the remote last answered anything (a fetch, or a push ok or rejected); epoch ms. */
  lastContact = 0;
  /** The last push was declined by the remote's policy (a hook, a protected branch); cleared by the next push that lands. */
  declined: { error: KipError; at: string } | null = null;

  constructor(
    private readonly remote: Remote,
    options: WriteQueueOptions,
  ) {
    this.opts = {
      maxRejections: 25,
      maxUnreachable: 3,
      backoffMs: 20,
      maxBatch: 200,
      deployTimeoutMs: 30_000,
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

  /** Number of edits waiting or being written. */
  get depth(): number {
    return this.pending.length + this.taken.size;
  }

  /** Queue an edit; resolves once its commit is in the remote (or it changed nothing). */
  submit<T>(edit: Edit<T>, options: SubmitOptions = {}): Promise<Outcome<T>> {
    return new Promise<Outcome<T>>((resolve, reject) => {
      if (options.signal?.aborted) return reject(withdrawnError());
      const deadline = options.deadline ?? Date.now() + this.opts.deployTimeoutMs;
      const p = new PendingEdit(edit as Edit<unknown>, deadline, {
        resolve: resolve as (o: Outcome<unknown>) => void,
        reject,
        settled: (done) => this.taken.delete(done),
      });
      p.watch(
        options.signal,
        () => this.deadlineError(p),
        withdrawnError,
        (q, err) => this.withdraw(q, err),
      );
      this.pending.push(p);
      this.wake();
    });
  }

  /** Fetch the remote head (serialised with writes) so others' pushes are seen. */
  refresh(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.refreshWanted.push({ resolve, reject });
      this.wake();
    });
  }

  /** Resolves when nothing is queued, in flight or being answered. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private isIdle(): boolean {
    return !this.draining && this.pending.length === 0 && this.refreshWanted.length === 0 && this.answering.size === 0;
  }

  private wakeIdle(): void {
    if (this.isIdle()) for (const w of this.idleWaiters.splice(0)) w();
  }

  private wake(): void {
    for (const a of this.arrivals.splice(0)) a();
    this.kick();
  }

  private kick(): void {
    if (this.draining) return;
    this.draining = true;
    void this.drain()
      .catch((err: unknown) => {
        // Only a bug gets here (every known failure is answered per edit): still answer
        // every waiting caller rather than leave them hanging or crash the process.
        const e = isKipError(err) ? err : new KipError('INTERNAL', `the write queue failed: ${err instanceof Error ? err.message : String(err)}`);
        this.lastError = e;
        for (const p of [...this.pending, ...this.taken]) p.fail(e);
      })
      .finally(() => {
        this.draining = false;
        if (this.pending.length > 0 || this.refreshWanted.length > 0) this.kick();
        else this.wakeIdle();
      });
  }

  private async drain(): Promise<void> {
    // The push in flight, if any, and the batch being assembled on its tip meanwhile.
    let previous: { done: Promise<void>; tip: string; settled: boolean } | null = null;
    let next: Batch | null = null;
    for (;;) {
      if (previous && !previous.settled) {
        // While a push is in flight, build what arrives on its tip, so that the next
        // push can leave the moment this one is confirmed (group commit, pipelined).
        if (this.pending.length > 0 && (next?.live.length ?? 0) < this.opts.maxBatch) {
          next = await this.extend(next, previous.tip, this.takePending(next));
          continue;
        }
        await Promise.race([previous.done, this.arrival()]);
        continue;
      }
      previous = null;
      // A look asked for while a batch waits goes with that batch's push, whose landing
      // answers it (see `landed`): the batch does not wait a round trip for a fetch.
      const lookRides = next !== null && this.current !== null && next.base === this.current;
      if ((this.refreshWanted.length > 0 && !lookRides) || this.current === null) {
        // Nothing asked for and nothing to write: do not fetch in a loop without a head.
        if (this.refreshWanted.length === 0 && this.pending.length === 0 && !next) return;
        // A fetch moves the head: whatever was built on the old one is built again.
        await this.serveRefresh();
        continue;
      }
      if (next && next.base !== this.current) next = await this.build(this.head, next.live);
      if (this.pending.length > 0 && (next?.live.length ?? 0) < this.opts.maxBatch) {
        next = await this.extend(next, this.head, this.takePending(next));
      }
      if (!next) return;
      const batch = next;
      next = null;
      // Settled once the remote confirmed the batch (its answers may still be going out),
      // or once it is done with.
      const inflight: { done: Promise<void>; tip: string; settled: boolean } = { done: Promise.resolve(), tip: batch.tip, settled: false };
      let confirm: () => void = () => undefined;
      const confirmed = new Promise<void>((resolve) => (confirm = resolve));
      const pushed = this.pushBatch(batch, confirm);
      inflight.done = Promise.race([confirmed, pushed]).finally(() => {
        inflight.settled = true;
      });
      previous = inflight;
    }
  }

  /** Take as many pending edits as fit in a batch that already holds `into`. */
  private takePending(into: Batch | null): PendingEdit[] {
    const taken = this.pending.splice(0, this.opts.maxBatch - (into?.live.length ?? 0));
    for (const p of taken) this.taken.add(p);
    return taken;
  }

  /** Build `items` on top of `into` (or a new batch on `base`). */
  private async extend(into: Batch | null, base: string, items: PendingEdit[]): Promise<Batch> {
    return joinBatches(into, await this.build(into?.tip ?? base, items));
  }

  /** Resolves at the next `submit` or `refresh`. */
  private arrival(): Promise<void> {
    return new Promise((resolve) => this.arrivals.push(resolve));
  }

  private async serveRefresh(): Promise<void> {
    const waiters = this.refreshWanted.splice(0);
    try {
      await this.fetch();
      for (const w of waiters) w.resolve();
    } catch (err) {
      for (const w of waiters) w.reject(err);
      // Without a head nothing can be written: fail the queued edits rather than spin.
      if (this.current === null) for (const p of this.pending.splice(0)) p.fail(err);
    }
  }

  /** Runs the listeners on `head` after those of every head before it. */
  private follow(head: string): Promise<void> {
    // What listeners make of the new head is theirs to report: the remote answered.
    const run = () => Promise.resolve(this.opts.onHead?.(head)).catch(() => undefined);
    this.following = this.following.then(run, run);
    return this.following;
  }

  private async fetch(signal?: AbortSignal): Promise<void> {
    let head: string;
    try {
      head = await this.remote.fetch(signal);
    } catch (err) {
      this.lastError = isKipError(err) ? err : new KipError('REPO_UNAVAILABLE', 'the config repo could not be fetched', { answer: 'error' });
      throw this.lastError;
    }
    this.lastError = null;
    this.lastContact = Date.now();
    if (head === this.current) return;
    this.current = head;
    await this.follow(head);
  }

  /** Push a built batch; on conflicts fetch, rebuild on the new head and retry (bounded). `confirmed`: the remote took it. */
  private async pushBatch(first: Batch, confirmed: () => void): Promise<void> {
    try {
      await this.pushWithRetries(first, confirmed);
    } catch (err) {
      // An error the remote layer did not classify (a disk error writing our packs, a
      // bug): its outcome is unknown, so the callers get 503 and a retry is safe (it
      // deploys, or answers unchanged if the push did land).
      const reason = err instanceof Error ? err.message : String(err);
      this.lastError = new KipError('REPO_UNAVAILABLE', `writing to the config repo failed: ${reason}`, { retryAfter: 10, answer: 'error' });
      this.failAll(first.live, this.lastError);
    }
  }

  private async pushWithRetries(first: Batch, confirmed: () => void): Promise<void> {
    let built = first;
    let rejections = 0;
    let unreachable = 0;
    let lastAnswer: string;
    // Batches whose push got no answer: any of them may have landed (the connection
    // dropped after the server moved the ref). Checked after every fetch, not just the next.
    const unanswered: Batch[] = [];
    for (;;) {
      // Edits withdrawn since the build (deadline, caller gone) are never pushed; the
      // check and `pushing` below are in one synchronous step.
      while (built.live.some((p) => p.settled))
        built = await this.build(
          built.base,
          built.live.filter((p) => !p.settled),
        );
      if (built.tip === built.base) {
        // Every edit was a no-op (or failed on its own): nothing to push. "unchanged" is a
        // claim about the remote, so the head it was judged on must still be the remote's.
        if (!(await this.stillHead(built))) {
          built = await this.build(this.head, built.live);
          continue;
        }
        for (const b of built.done) b.pending.answer({ result: b.result, configCommit: null });
        return;
      }
      const started = performance.now();
      for (const p of built.live) {
        p.pushing = true;
        p.attempts++;
      }
      // Asked for before this push left: if it lands, the remote's head was ours when it
      // moved, later than they asked, which is all a fetch would have told them.
      const looks = [...this.refreshWanted];
      const pushed = await this.remote.push(built.base, built.tip, built.newObjects, this.deadlineSignal(built.live));
      // Landed: they stay "pushing" (no deadline can fail them) until `landed` answers.
      if (!pushed.ok) for (const p of built.live) p.pushing = false;
      this.opts.onPush?.({
        commits: built.done.filter((d) => d.commit !== null).length,
        result: pushed.ok ? 'ok' : pushed.kind,
        buildMs: built.buildMs,
        pushMs: performance.now() - started,
        ...(pushed.ok ? {} : { answer: pushed.answer }),
        ...(!pushed.ok && pushed.kind === 'declined' ? { remote: pushed.messages } : {}),
      });
      if (pushed.ok) return this.landed(built, confirmed, looks);
      lastAnswer = pushed.answer;
      // The push did not land (or we cannot know): edits that lapsed while it was in
      // flight are answered now, with why.
      for (const p of built.live) if (p.lapsed) p.fail(p.lapsed);
      if (pushed.kind === 'declined') {
        // Policy, not contention: the same push would be declined again (issue #18).
        this.lastContact = Date.now();
        this.declined = { error: declinedError(pushed.answer, pushed.messages), at: new Date().toISOString() };
        return this.failAll(built.live, this.declined.error);
      }
      if (pushed.kind === 'rejected') {
        this.lastContact = Date.now();
        rejections++;
        if (rejections >= this.opts.maxRejections) {
          return this.failAll(
            built.live,
            new KipError('PUSH_REJECTED', `the config repo kept moving: ${rejections} pushes rejected (${pushed.answer}); retry later`, {
              retryAfter: 5,
              answer: pushed.answer,
            }),
          );
        }
      } else {
        unreachable++;
        unanswered.push(built);
        for (const p of built.live) p.uncertain = true;
        this.lastError = new KipError('REPO_UNAVAILABLE', `the config repo is unreachable: ${pushed.detail}`, { retryAfter: 10, answer: pushed.answer });
      }
      const live = built.live.filter((p) => !p.settled);
      if (live.length === 0) return;
      await sleep(Math.min(backoff(this.opts.backoffMs, rejections + unreachable), this.remaining(live)));
      try {
        await this.fetch(this.deadlineSignal(live));
      } catch (err) {
        unreachable++;
        lastAnswer = isKipError(err) ? String(err.data.answer ?? lastAnswer) : lastAnswer;
        if (unreachable >= this.opts.maxUnreachable) return this.failAll(built.live, this.unreachableError(err, lastAnswer));
        continue;
      }
      // Building a batch that landed again would answer "unchanged" to requests that did deploy.
      for (const candidate of unanswered) {
        if (await this.contains(this.head, candidate.tip)) return this.landed(candidate, confirmed);
      }
      if (unreachable >= this.opts.maxUnreachable) {
        return this.failAll(built.live, this.unreachableError(this.lastError, lastAnswer));
      }
      built = await this.build(
        this.head,
        built.live.filter((p) => !p.settled),
      );
    }
  }

  /**
   * Resolve a batch whose tip is in the remote: the next batch may leave at once
   * (`confirmed`), and `looks` (refreshes asked for before the push left) are answered;
   * the callers get their answers once the listeners followed the new head.
   */
  private async landed(built: Batch, confirmed: () => void, looks: ReadonlyArray<(typeof this.refreshWanted)[number]> = []): Promise<void> {
    this.lastError = null;
    this.declined = null;
    this.lastContact = Date.now();
    // After our own push the head moves here; when a fetch found the tip, it already did.
    const moved = this.current === built.base;
    if (moved) this.current = built.tip;
    for (const look of looks) {
      const at = this.refreshWanted.indexOf(look);
      if (at < 0) continue;
      this.refreshWanted.splice(at, 1);
      look.resolve();
    }
    const answered = (async () => {
      // The commits are in the remote whatever the listener thinks of them.
      if (moved) await this.follow(built.tip);
      // Landed: every caller gets its answer, even one whose deadline passed meanwhile.
      for (const b of built.done) b.pending.answer({ result: b.result, configCommit: b.commit });
    })();
    this.answering.add(answered);
    confirmed();
    await answered;
    this.answering.delete(answered);
    this.wakeIdle();
  }

  /** True when `oid` is `head` or one of its recent first-parent ancestors. */
  private async contains(head: string, oid: string): Promise<boolean> {
    let cur: string | undefined = head;
    for (let i = 0; cur && i < 200; i++) {
      if (cur === oid) return true;
      try {
        cur = (await this.remote.gitdir.readCommit(cur)).parents[0];
      } catch {
        return false;
      }
    }
    return false;
  }

  private failAll(batch: PendingEdit[], err: unknown): void {
    for (const p of batch) p.fail(err);
  }

  /** Drop an edit (deadline passed, caller gone) unless a push request carries it right now. */
  private withdraw(p: PendingEdit, err: KipError): void {
    if (p.settled) return;
    if (p.pushing) {
      p.lapsed ??= err;
      return;
    }
    const at = this.pending.indexOf(p);
    if (at >= 0) this.pending.splice(at, 1);
    p.fail(err);
  }

  /** Ms until the earliest deadline of `live` (at least 1). */
  private remaining(live: PendingEdit[]): number {
    const earliest = Math.min(...live.map((p) => p.deadline));
    return Math.max(1, earliest - Date.now());
  }

  /** Aborts at the earliest deadline of `live`: the request is of no use to anyone after that. */
  private deadlineSignal(live: PendingEdit[]): AbortSignal {
    return AbortSignal.timeout(this.remaining(live));
  }

  private deadlineError(p: PendingEdit): KipError {
    const answer = String(this.lastError?.data.answer ?? 'no answer');
    // After a push whose answer was lost, the change may be in the remote: a retry is safe
    // either way (it answers unchanged if it landed).
    const outcome = p.uncertain ? 'it may have been written: retry (a retry answers unchanged if it was)' : 'nothing was written, retry later';
    return new KipError(
      'REPO_UNAVAILABLE',
      `the config repo did not confirm the change within ${Math.round(this.opts.deployTimeoutMs / 1000)} s (last answer: ${answer}); ${outcome}`,
      {
        retryAfter: 10,
        answer,
        attempts: p.attempts,
      },
    );
  }

  /** True when the remote's head is still `built.base` (looked up now; a moved head is fetched). */
  private async stillHead(built: Batch): Promise<boolean> {
    if (built.live.length === 0) return true;
    try {
      await this.fetch(this.deadlineSignal(built.live));
    } catch {
      // Unreachable: "unchanged" as of the last head we saw is the best answer there is.
      return true;
    }
    return this.head === built.base;
  }

  private unreachableError(err: unknown, answer: string): KipError {
    const message = err instanceof Error ? err.message : 'the config repo is unreachable';
    return new KipError('REPO_UNAVAILABLE', message, { retryAfter: 10, answer });
  }

  private build(base: string, edits: PendingEdit[]): Promise<Batch> {
    return buildBatch(this.remote.gitdir, base, edits, this.opts.signature, this.opts.sign);
  }
}

/**
 * PUSH_DECLINED (502): the remote refused the push for policy. The answer carries the
 * remote's own lines (`remote`), which say why and what to do (e.g. GitHub's `GH006:
 * Protected branch update failed`, a hook's `POLICY-REJECT: …`).
 */
function declinedError(reason: string, messages: readonly string[]): KipError {
  const said = messages.length > 0 ? `: ${messages.join(' / ')}` : '';
  return new KipError(
    'PUSH_DECLINED',
    `the config repo declined the push (${reason})${said}; nothing was written. A hook or branch protection refuses the bridge's pushes: ` +
      `let the bridge's identity push to the branch, or lift the rule`,
    { answer: reason, body: { remote: messages.join('\n') } },
  );
}
