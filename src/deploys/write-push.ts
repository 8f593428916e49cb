import { performance } from 'node:perf_hooks';
import { isKipError, type KipError } from '../errors.js';
import type { Remote } from '../repo/remote.js';
import { pushEvent, type Batch, type PendingEdit, type PushEvent } from './write-batch.js';
import { declinedError, noAnswerError, rejectedError, unclassifiedError, unreachableError } from './write-errors.js';
import type { BranchHead, Look } from './write-head.js';
import { backoff, deadlineSignal, sleep, timeLeft, type WriteRules } from './write-rules.js';

/** What a batch's push needs from its queue. */
export interface PushContext {
  readonly remote: Remote;
  readonly head: BranchHead;
  readonly rules: WriteRules;
  build(base: string, edits: readonly PendingEdit[]): Promise<Batch>;
  /** Holds `idle()` until `answers` are out. */
  answering(answers: Promise<void>): Promise<void>;
  onPush?: ((e: PushEvent) => void) | undefined;
}

/**
 * The states of one batch on its way into the remote. Each has one transition (the
 * method named beside it), which returns the next state:
 *
 *   built  ─prune──────────▶ ready | empty           (withdrawn edits built out first)
 *   empty  ─confirmUnchanged▶ done | built            (answered unchanged, or the head moved)
 *   ready  ─send───────────▶ landed | failed | lost   (the compare-and-swap push)
 *   lost   ─backOff────────▶ stale | done             (random backoff; done when nobody waits)
 *   stale  ─refetch────────▶ built | landed | failed  (fetch; a push that got no answer may be in it)
 *   landed ─land───────────▶ done                     (next batch may leave; listeners, then callers)
 *   failed ─fail───────────▶ done
 */
type BatchState =
  | { at: 'built'; batch: Batch }
  | { at: 'empty'; batch: Batch }
  | { at: 'ready'; batch: Batch }
  | { at: 'lost'; batch: Batch }
  | { at: 'stale'; batch: Batch }
  | { at: 'landed'; batch: Batch; looks: readonly Look[] }
  | { at: 'failed'; edits: readonly PendingEdit[]; error: KipError }
  | { at: 'done' };

/** What one batch's pushes met so far: the bounded retries count these. */
interface Tries {
  /** Pushes that lost the compare-and-swap (someone else moved the branch). */
  rejections: number;
  /** Pushes and fetches that got no answer. */
  unreachable: number;
  /** What the remote said last, for the error that ends the tries. */
  lastAnswer: string;
  /** Builds of this batch whose push got no answer: any may have landed. Looked for after every fetch. */
  unanswered: Batch[];
}

/** A batch's push as the pipeline sees it: `settled` once the remote confirmed it (its answers may still be going out) or it is done with. */
export interface Flight {
  /** What the next batch is built on meanwhile. */
  tip: string;
  settled: boolean;
  done: Promise<void>;
}

/**
 * Pushes a built batch as a compare-and-swap on the head it was built on; when another
 * writer moved the branch, fetches, builds the edits again on the new head and retries
 * with random backoff, a bounded number of times.
 */
export function takeOff(ctx: PushContext, batch: Batch): Flight {
  let confirm: () => void = () => undefined;
  const confirmed = new Promise<void>((resolve) => (confirm = resolve));
  const flight: Flight = { tip: batch.tip, settled: false, done: Promise.resolve() };
  flight.done = Promise.race([confirmed, pushBatch(ctx, batch, confirm)]).finally(() => {
    flight.settled = true;
  });
  return flight;
}

/** `confirmed` is called the moment the remote took the batch; resolves once its callers are answered. */
async function pushBatch(ctx: PushContext, first: Batch, confirmed: () => void): Promise<void> {
  try {
    await new BatchPush(ctx, confirmed).run(first);
  } catch (err) {
    // Not an answer of the remote (a disk error writing our packs, a bug): outcome unknown.
    ctx.head.lastError = unclassifiedError(err);
    for (const p of first.live) p.fail(ctx.head.lastError);
  }
}

class BatchPush {
  private readonly tries: Tries = { rejections: 0, unreachable: 0, lastAnswer: '', unanswered: [] };

  constructor(
    private readonly ctx: PushContext,
    private readonly confirmed: () => void,
  ) {}

  async run(first: Batch): Promise<void> {
    let state: BatchState = { at: 'built', batch: first };
    while (state.at !== 'done') state = await this.step(state);
  }

  private step(s: Exclude<BatchState, { at: 'done' }>): Promise<BatchState> | BatchState {
    switch (s.at) {
      case 'built':
        return this.prune(s.batch);
      case 'empty':
        return this.confirmUnchanged(s.batch);
      case 'ready':
        return this.send(s.batch);
      case 'lost':
        return this.backOff(s.batch);
      case 'stale':
        return this.refetch(s.batch);
      case 'landed':
        return this.land(s.batch, s.looks);
      case 'failed':
        return this.fail(s.edits, s.error);
    }
  }

  /** Edits withdrawn since the build (deadline, caller gone) are never pushed: built again without them. */
  private async prune(batch: Batch): Promise<BatchState> {
    while (batch.live.some((p) => p.settled)) batch = await this.ctx.build(batch.base, liveOf(batch));
    return batch.tip === batch.base ? { at: 'empty', batch } : { at: 'ready', batch };
  }

  /** Every edit was a no-op (or failed alone). "unchanged" is a claim about the remote: the head it was judged on must still be the remote's. */
  private async confirmUnchanged(batch: Batch): Promise<BatchState> {
    if (!(await this.ctx.head.stillAt(batch.base, batch.live)))
      return { at: 'built', batch: await this.ctx.build(this.head, batch.live) };
    for (const b of batch.done) b.pending.answer({ result: b.result, configCommit: null });
    return { at: 'done' };
  }

  /** The compare-and-swap: move the branch from the batch's base to its tip. */
  private async send(batch: Batch): Promise<BatchState> {
    // The check for withdrawn edits and `pushing` below are in one synchronous step.
    if (batch.live.some((p) => p.settled)) return { at: 'built', batch };
    const started = performance.now();
    for (const p of batch.live) p.carried();
    // Asked for before this push left: if it lands, the remote's head was ours when it
    // moved, later than they asked, which is all a fetch would have told them.
    const looks = [...this.ctx.head.looks];
    let trip: number | undefined;
    const { base, tip, newObjects } = batch;
    const pushed = await this.ctx.remote.push(base, tip, newObjects, deadlineSignal(batch.live), (ms) => (trip = ms));
    // Landed: they stay "pushing" (no deadline can fail them) until `land` answers.
    if (!pushed.ok) for (const p of batch.live) p.pushing = false;
    this.ctx.onPush?.(pushEvent(batch, pushed, performance.now() - started, trip));
    if (pushed.ok) return { at: 'landed', batch, looks };
    this.tries.lastAnswer = pushed.answer;
    // It did not land (or we cannot know): edits that lapsed meanwhile are answered now, with why.
    for (const p of batch.live) if (p.lapsed) p.fail(p.lapsed);
    if (pushed.kind === 'declined') {
      // Policy, not contention: the same push would be declined again (issue #18).
      const error = declinedError(pushed.answer, pushed.messages);
      this.ctx.head.contact();
      this.ctx.head.declined = { error, at: new Date().toISOString() };
      return { at: 'failed', edits: batch.live, error };
    }
    if (pushed.kind === 'rejected') {
      this.ctx.head.contact();
      if (++this.tries.rejections >= this.ctx.rules.maxRejections) {
        return { at: 'failed', edits: batch.live, error: rejectedError(this.tries.rejections, pushed.answer) };
      }
      return { at: 'lost', batch };
    }
    // No answer: the connection may have dropped after the server moved the ref.
    this.tries.unreachable++;
    this.tries.unanswered.push(batch);
    for (const p of batch.live) p.uncertain = true;
    this.ctx.head.lastError = noAnswerError(pushed.detail, pushed.answer);
    return { at: 'lost', batch };
  }

  /** Waits a random backoff that grows with the attempts, never past the earliest deadline. */
  private async backOff(batch: Batch): Promise<BatchState> {
    const live = liveOf(batch);
    if (live.length === 0) return { at: 'done' };
    await sleep(
      Math.min(backoff(this.ctx.rules.backoffMs, this.tries.rejections + this.tries.unreachable), timeLeft(live)),
    );
    return { at: 'stale', batch };
  }

  /** Fetches the head the batch lost to; a build whose push got no answer may be in it. */
  private async refetch(batch: Batch): Promise<BatchState> {
    const live = liveOf(batch);
    if (live.length === 0) return { at: 'done' };
    const { rules } = this.ctx;
    try {
      await this.ctx.head.fetch(deadlineSignal(live));
    } catch (err) {
      this.tries.unreachable++;
      if (isKipError(err)) this.tries.lastAnswer = String(err.data.answer ?? this.tries.lastAnswer);
      if (this.tries.unreachable >= rules.maxUnreachable)
        return { at: 'failed', edits: batch.live, error: unreachableError(err, this.tries.lastAnswer) };
      // Nothing learnt about the head: the same build goes again.
      return { at: 'built', batch };
    }
    // Building a batch that landed again would answer "unchanged" to requests that did deploy.
    for (const candidate of this.tries.unanswered)
      if (await this.ctx.head.has(candidate.tip)) return { at: 'landed', batch: candidate, looks: [] };
    if (this.tries.unreachable >= rules.maxUnreachable) {
      return {
        at: 'failed',
        edits: batch.live,
        error: unreachableError(this.ctx.head.lastError, this.tries.lastAnswer),
      };
    }
    return { at: 'built', batch: await this.ctx.build(this.head, live) };
  }

  /**
   * The batch's tip is in the remote: the next batch may leave at once, the looks asked
   * for before the push left are answered, and the callers get their answers once the
   * listeners followed the new head.
   */
  private async land(batch: Batch, looks: readonly Look[]): Promise<BatchState> {
    const { head } = this.ctx;
    // After our own push the head moves here; when a fetch found the tip, it already did.
    const moved = head.landed(batch.base, batch.tip);
    head.answerLooks(looks);
    const answers = (async () => {
      // The commits are in the remote whatever the listener thinks of them.
      if (moved) await head.follow(batch.tip);
      // Landed: every caller gets its answer, even one whose deadline passed meanwhile.
      for (const b of batch.done) b.pending.answer({ result: b.result, configCommit: b.commit });
    })();
    const held = this.ctx.answering(answers);
    this.confirmed();
    await held;
    return { at: 'done' };
  }

  private fail(edits: readonly PendingEdit[], error: KipError): BatchState {
    for (const p of edits) p.fail(error);
    return { at: 'done' };
  }

  private get head(): string {
    return this.ctx.head.current!;
  }
}

/** The batch's edits not answered yet. */
function liveOf(batch: Batch): PendingEdit[] {
  return batch.live.filter((p) => !p.settled);
}
