import type { KipError } from '../errors.js';
import { walkFirstParents } from '../repo/first-parent.js';
import type { Remote } from '../repo/remote.js';
import type { PendingEdit } from './write-batch.js';
import { fetchError } from './write-errors.js';
import { LANDED_WITHIN, deadlineSignal } from './write-rules.js';

/** Someone waiting to see the remote's head as it is now (`WriteQueue.refresh`). */
export interface Look {
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** What the remote said last, for readiness and metrics (`WriteQueue.remote`). */
export interface RemoteState {
  /** The branch head as last seen; null before the first fetch. */
  readonly current: string | null;
  /** Set when the last exchange with the remote failed; cleared by the next success. */
  readonly lastError: KipError | null;
  /** When the remote last answered anything (a fetch, or a push ok, rejected or declined); epoch ms. */
  readonly lastContact: number;
  /** The last push was declined by the remote's policy (a hook, a protected branch); cleared by the next push that lands. */
  readonly declined: { error: KipError; at: string } | null;
}

/**
 * The branch head as the queue last saw it, and what the remote said last. The one place
 * the head moves (a fetch, or a push of ours that landed on it), and the one that runs the
 * listeners on every new head: in order, never two at once, before anyone is answered.
 */
export class BranchHead implements RemoteState {
  current: string | null = null;
  lastError: KipError | null = null;
  lastContact = 0;
  declined: { error: KipError; at: string } | null = null;
  /** Looks asked for and not answered yet. */
  looks: Look[] = [];
  /** The listeners' work on the heads seen so far, in order. */
  private following: Promise<void> = Promise.resolve();

  constructor(
    private readonly remote: Remote,
    private readonly onHead: ((head: string) => Promise<void> | void) | undefined,
  ) {}

  /** Asks for a look at the remote; resolves once one that started after this call answered. */
  look(): Promise<void> {
    return new Promise<void>((resolve, reject) => this.looks.push({ resolve, reject }));
  }

  /** One fetch for every look asked for so far; rejects them (and throws) when it fails. */
  async serveLooks(): Promise<void> {
    const waiters = this.looks.splice(0);
    try {
      await this.fetch();
    } catch (err) {
      for (const w of waiters) w.reject(err);
      throw err;
    }
    for (const w of waiters) w.resolve();
  }

  /** Answers those of `looks` still waiting: a push that left after they asked landed, so the remote's head was ours. */
  answerLooks(looks: readonly Look[]): void {
    for (const look of looks) {
      const at = this.looks.indexOf(look);
      if (at < 0) continue;
      this.looks.splice(at, 1);
      look.resolve();
    }
  }

  /** Brings the remote's head; a new one is followed (the listeners run) before this resolves. */
  async fetch(signal?: AbortSignal): Promise<void> {
    let head: string;
    try {
      head = await this.remote.fetch(signal);
    } catch (err) {
      this.lastError = fetchError(err);
      throw this.lastError;
    }
    this.lastError = null;
    this.contact();
    if (head === this.current) return;
    this.current = head;
    await this.follow(head);
  }

  /**
   * Our push moved the remote from `base` to `tip`. True when that moved the head as we
   * know it (then the caller follows `tip`); false when a fetch already found the tip.
   */
  landed(base: string, tip: string): boolean {
    this.lastError = null;
    this.declined = null;
    this.contact();
    if (this.current !== base) return false;
    this.current = tip;
    return true;
  }

  /** True when the remote's head is still `base` (fetched now, cut off at the deadline of `edits`). */
  async stillAt(base: string, edits: readonly PendingEdit[]): Promise<boolean> {
    if (edits.length === 0) return true;
    try {
      await this.fetch(deadlineSignal(edits));
    } catch {
      // Unreachable: the last head we saw is the best answer there is.
      return true;
    }
    return this.current === base;
  }

  /** True when `oid` is the head or one of its recent first-parent ancestors. */
  async has(oid: string): Promise<boolean> {
    if (this.current === null) return false;
    return (await walkFirstParents(this.remote.gitdir, this.current, (c) => c === oid, LANDED_WITHIN)) === 'found';
  }

  /** The remote answered (even if with a refusal). */
  contact(): void {
    this.lastContact = Date.now();
  }

  /** Runs the listeners on `head` after those of every head before it. */
  follow(head: string): Promise<void> {
    // What listeners make of the new head is theirs to report: the remote answered.
    const run = () => Promise.resolve(this.onHead?.(head)).catch(() => undefined);
    this.following = this.following.then(run, run);
    return this.following;
  }
}
