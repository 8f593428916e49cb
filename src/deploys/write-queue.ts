import { KipError } from '../errors.js';
import type { Signature } from '../repo/git-objects.js';
import type { Remote } from '../repo/remote.js';
import {
  PendingEdit,
  buildBatch,
  joinBatches,
  type Batch,
  type Edit,
  type Outcome,
  type PushEvent,
  type SubmitOptions,
} from './write-batch.js';
import { deadlineError, queueFailedError, withdrawnError } from './write-errors.js';
import { BranchHead, type RemoteState } from './write-head.js';
import { takeOff, type Flight, type PushContext } from './write-push.js';
import { writeRules, type WriteRules } from './write-rules.js';

export type { Edit, EditDecision, Outcome, PushEvent, SubmitOptions, TreeView } from './write-batch.js';

export interface WriteQueueOptions extends Partial<WriteRules> {
  signature: () => Signature;
  /** Signs every commit (KIPPER_SIGNING_KEY); unsigned without. */
  sign?: ((payload: Buffer) => Promise<string>) | undefined;
  /** Told about every push attempt. */
  onPush?: (e: PushEvent) => void;
  /** Called after the branch head moved (our push or a fetch), before waiters resolve. */
  onHead?: (head: string) => Promise<void> | void;
}

/**
 * What the drain loop does next; each stage has one method, which returns the next stage:
 *
 *   ahead  ─buildAhead─▶ ahead | (look | launch)   a push is in flight: build what arrives on its tip
 *   look   ─look───────▶ look | launch | stop      fetch the head: asked for, or none known yet
 *   launch ─launch─────▶ ahead | stop              push the next batch, built again if the head moved
 */
type Stage =
  | { at: 'ahead'; flight: Flight; next: Batch | null }
  | { at: 'look'; next: Batch | null }
  | { at: 'launch'; next: Batch | null }
  | { at: 'stop' };

/**
 * The one writer of a config repo. Edits queue up and are drained in batches: every edit
 * becomes its own commit, chained on the head, and one push carries the batch (group
 * commit). How a batch gets into the remote (compare-and-swap, bounded retries with random
 * backoff, a push whose answer was lost) is `write-push.ts`; the rules are `write-rules.ts`.
 *
 * Pipelined: while batch N is being pushed, batch N+1 is built on N's tip. N+1 leaves the
 * moment the remote confirms N, built again on the real head first if N had to be rebuilt
 * or failed; N's callers are answered (after the listeners followed the new head, in
 * order) while N+1 is on its way, so a far remote's round trip is paid once per batch and
 * nothing else sits between two pushes (issue #14).
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
  private idleWaiters: Array<() => void> = [];
  private arrivals: Array<() => void> = [];
  /** Batches confirmed by the remote whose callers are still being answered. */
  private readonly answering = new Set<Promise<void>>();
  private readonly branch: BranchHead;
  private readonly ctx: PushContext;

  constructor(
    remote: Remote,
    private readonly options: WriteQueueOptions,
  ) {
    this.branch = new BranchHead(remote, options.onHead);
    this.ctx = {
      remote,
      head: this.branch,
      rules: writeRules(options),
      build: (base, edits) => this.build(base, edits),
      answering: (answers) => this.hold(answers),
      onPush: options.onPush,
    };
  }

  /** The branch head as last seen; throws before the first successful fetch. */
  get head(): string {
    if (this.branch.current === null)
      throw new KipError('REPO_UNAVAILABLE', 'the config repo has not been fetched yet');
    return this.branch.current;
  }

  /** What the remote said last (head, error, contact, a declined push). */
  get remote(): RemoteState {
    return this.branch;
  }

  /** Number of edits waiting or being written. */
  get depth(): number {
    return this.pending.length + this.taken.size;
  }

  /** Queue an edit; resolves once its commit is in the remote (or it changed nothing). */
  submit<T>(edit: Edit<T>, options: SubmitOptions = {}): Promise<Outcome<T>> {
    return new Promise<Outcome<T>>((resolve, reject) => {
      if (options.signal?.aborted) return reject(withdrawnError());
      const deadline = options.deadline ?? Date.now() + this.ctx.rules.deployTimeoutMs;
      const p = new PendingEdit(edit as Edit<unknown>, deadline, {
        resolve: resolve as (o: Outcome<unknown>) => void,
        reject,
        settled: (done) => this.taken.delete(done),
      });
      const expired = () => deadlineError(this.ctx.rules.deployTimeoutMs, this.branch.lastError, p);
      p.watch(options.signal, expired, withdrawnError, (q, err) => this.withdraw(q, err));
      this.pending.push(p);
      this.wake();
    });
  }

  /** Fetch the remote head (serialised with writes) so others' pushes are seen. */
  refresh(): Promise<void> {
    const seen = this.branch.look();
    this.wake();
    return seen;
  }

  /** Resolves when nothing is queued, in flight or being answered. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private isIdle(): boolean {
    return !this.draining && this.pending.length === 0 && this.branch.looks.length === 0 && this.answering.size === 0;
  }

  private wakeIdle(): void {
    if (this.isIdle()) for (const w of this.idleWaiters.splice(0)) w();
  }

  private wake(): void {
    for (const a of this.arrivals.splice(0)) a();
    if (this.draining) return;
    this.draining = true;
    void this.drain()
      .catch((err: unknown) => {
        // Only a bug gets here (every known failure is answered per edit): still answer
        // every waiting caller rather than leave them hanging or crash the process.
        this.branch.lastError = queueFailedError(err);
        for (const p of [...this.pending, ...this.taken]) p.fail(this.branch.lastError);
      })
      .finally(() => {
        this.draining = false;
        if (this.pending.length > 0 || this.branch.looks.length > 0) this.wake();
        else this.wakeIdle();
      });
  }

  private async drain(): Promise<void> {
    let stage: Stage = this.afterFlight(null);
    while (stage.at !== 'stop') {
      if (stage.at === 'ahead') stage = await this.buildAhead(stage.flight, stage.next);
      else if (stage.at === 'look') stage = await this.look(stage.next);
      else stage = await this.launch(stage.next);
    }
  }

  /** While a push is in flight, build what arrives on its tip so the next push can leave the moment it is confirmed. */
  private async buildAhead(flight: Flight, next: Batch | null): Promise<Stage> {
    if (flight.settled) return this.afterFlight(next);
    if (this.hasRoom(next)) next = await this.extend(next, flight.tip);
    else await Promise.race([flight.done, this.arrival()]);
    return { at: 'ahead', flight, next };
  }

  /** No push in flight: look at the remote first when someone asked or no head is known, else launch. */
  private afterFlight(next: Batch | null): Stage {
    // A look asked for while a batch waits goes with that batch's push, whose landing
    // answers it (write-push.ts, `land`): the batch does not wait a round trip for a fetch.
    const rides = next !== null && next.base === this.branch.current;
    const mustLook = (this.branch.looks.length > 0 && !rides) || this.branch.current === null;
    return mustLook ? { at: 'look', next } : { at: 'launch', next };
  }

  /** One fetch for every look asked for; a moved head means `next` is built again at launch. */
  private async look(next: Batch | null): Promise<Stage> {
    // Nothing asked for and nothing to write: do not fetch in a loop without a head.
    if (this.branch.looks.length === 0 && this.pending.length === 0 && !next) return { at: 'stop' };
    try {
      await this.branch.serveLooks();
    } catch (err) {
      // Without a head nothing can be written: fail the queued edits rather than spin.
      if (this.branch.current === null) for (const p of this.pending.splice(0)) p.fail(err);
    }
    return this.afterFlight(next);
  }

  /** Sends `next` (built again if the head moved under it, topped up with what waits) on its way. */
  private async launch(next: Batch | null): Promise<Stage> {
    if (next && next.base !== this.head) next = await this.build(this.head, next.live);
    if (this.hasRoom(next)) next = await this.extend(next, this.head);
    if (!next) return { at: 'stop' };
    return { at: 'ahead', flight: takeOff(this.ctx, next), next: null };
  }

  /** Edits wait and the batch being assembled can take more. */
  private hasRoom(into: Batch | null): boolean {
    return this.pending.length > 0 && (into?.live.length ?? 0) < this.ctx.rules.maxBatch;
  }

  /** Builds as many pending edits as fit on top of `into` (or a new batch on `base`). */
  private async extend(into: Batch | null, base: string): Promise<Batch> {
    const taken = this.pending.splice(0, this.ctx.rules.maxBatch - (into?.live.length ?? 0));
    for (const p of taken) this.taken.add(p);
    return joinBatches(into, await this.build(into?.tip ?? base, taken));
  }

  /** Resolves at the next `submit` or `refresh`. */
  private arrival(): Promise<void> {
    return new Promise((resolve) => this.arrivals.push(resolve));
  }

  /** Holds `idle()` until a landed batch's answers are out. */
  private async hold(answers: Promise<void>): Promise<void> {
    this.answering.add(answers);
    await answers;
    this.answering.delete(answers);
    this.wakeIdle();
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

  private build(base: string, edits: readonly PendingEdit[]): Promise<Batch> {
    return buildBatch(this.ctx.remote.gitdir, base, edits, this.options.signature, this.options.sign);
  }
}
