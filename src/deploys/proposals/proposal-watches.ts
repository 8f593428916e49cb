import type { PullRequestRef } from '../../api-types.js';
import type { AppConfig } from '../../config/kipper-file.js';
import { KipError } from '../../errors.js';
import type { HostProposal, Platform } from '../../hosts/types.js';
import type { Logger } from '../../log.js';

/** A proposal that was merged (by the bridge or a person, with any merge method). */
export interface MergedProposal {
  pullRequest: PullRequestRef;
}

interface Waiter {
  configCommit: string;
  resolve: (m: MergedProposal | 'timeout') => void;
  reject: (err: KipError) => void;
  timer: NodeJS.Timeout;
}

/** One app's open proposal, as far as this process knows it. */
interface Watch {
  app: AppConfig;
  pullRequest: PullRequestRef;
  /**
   * The commits this process put on the kipper/ branch, oldest first, each with the
   * number of the deploy it carries (a new proposal's first commit and the one naming the
   * proposal carry the same): a head of an older deploy is the host being late.
   */
  ours: Array<{ commit: string; change: number }>;
  waiters: Set<Waiter>;
  timer: NodeJS.Timeout | null;
  looking: Promise<void> | null;
  lookAgain: boolean;
  lastLook: number;
}

/**
 * What happens to open proposals: merged (waiters get their answer), closed unmerged
 * (409 PR_CLOSED), replaced (409 SUPERSEDED), and with `autoMerge` the merge itself,
 * through the host's merge API with the head sha once the host reports it mergeable.
 * One watch per app, shared by all its waiters: the host is polled at most every
 * `pollMs` per open proposal, and sooner when one of its webhooks says something changed.
 */
export class ProposalWatches {
  private readonly watches = new Map<string, Watch>();
  private closed = false;
  private changes = 0;

  constructor(
    private readonly platform: Platform,
    private readonly log: Logger,
    private readonly pollMs: number,
  ) {}

  /**
   * This process just proposed `configCommit` (and before it `earlier`, the same change)
   * in `pullRequest` for `app`: older waiters are superseded.
   */
  proposed(
    app: AppConfig,
    proposed: { configCommit: string; pullRequest: PullRequestRef },
    earlier: readonly string[] = [],
  ): void {
    const watch = this.watchOf(app, proposed.pullRequest);
    watch.app = app;
    const change = ++this.changes;
    for (const commit of [...earlier, proposed.configCommit]) watch.ours.push({ commit, change });
    if (watch.ours.length > 50) watch.ours.splice(0, watch.ours.length - 50);
    for (const w of [...watch.waiters])
      if (this.changeOf(watch, w.configCommit) !== change || watch.pullRequest.number !== proposed.pullRequest.number)
        this.supersede(watch, w);
    watch.pullRequest = proposed.pullRequest;
    if (app.autoMerge) this.schedule(watch, 0);
  }

  /** Resolves once the proposal carrying `configCommit` is merged; 'timeout' after `timeoutMs`; rejects PR_CLOSED or SUPERSEDED. */
  wait(
    app: AppConfig,
    proposed: { configCommit: string; pullRequest: PullRequestRef },
    timeoutMs: number,
    signal?: { aborted: boolean; addEventListener(t: 'abort', l: () => void): void },
  ): Promise<MergedProposal | 'timeout'> {
    const watch = this.watchOf(app, proposed.pullRequest);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        configCommit: proposed.configCommit,
        resolve: (m) => {
          clearTimeout(waiter.timer);
          watch.waiters.delete(waiter);
          resolve(m);
        },
        reject: (err) => {
          clearTimeout(waiter.timer);
          watch.waiters.delete(waiter);
          reject(err);
        },
        timer: setTimeout(() => waiter.resolve('timeout'), timeoutMs),
      };
      watch.waiters.add(waiter);
      signal?.addEventListener('abort', () => waiter.resolve('timeout'));
      this.schedule(watch, 0);
    });
  }

  /** The host said something changed about the app's proposal: look now (the poll's 5 s do not apply to events). */
  nudge(appId: string): boolean {
    const watch = this.watches.get(appId);
    if (watch) this.look(watch).catch(() => undefined);
    return watch !== undefined;
  }

  /** An open proposal this process did not write (before a restart, another replica): watched from now on, unless it already is. */
  adopt(app: AppConfig, proposed: { configCommit: string; pullRequest: PullRequestRef }): void {
    if (!this.watches.has(app.id)) this.proposed(app, proposed);
  }

  close(): void {
    this.closed = true;
    for (const watch of this.watches.values()) {
      if (watch.timer) clearTimeout(watch.timer);
      for (const w of watch.waiters) w.resolve('timeout');
    }
    this.watches.clear();
  }

  private watchOf(app: AppConfig, pullRequest: PullRequestRef): Watch {
    let watch = this.watches.get(app.id);
    if (!watch) {
      watch = {
        app,
        pullRequest,
        ours: [],
        waiters: new Set(),
        timer: null,
        looking: null,
        lookAgain: false,
        lastLook: 0,
      };
      this.watches.set(app.id, watch);
    }
    return watch;
  }

  /** The next poll, no sooner than `pollMs` after the last one. */
  private schedule(watch: Watch, delayMs: number): void {
    if (this.closed || watch.timer) return;
    const due = Math.max(delayMs, watch.lastLook + this.pollMs - Date.now());
    watch.timer = setTimeout(() => {
      watch.timer = null;
      // look() reports its own failures; nothing is left to catch here.
      this.look(watch).catch(() => undefined);
    }, due);
  }

  private look(watch: Watch): Promise<void> {
    if (watch.looking) {
      watch.lookAgain = true;
      return watch.looking;
    }
    watch.looking = (async () => {
      do {
        watch.lookAgain = false;
        watch.lastLook = Date.now();
        try {
          await this.judge(watch, await this.platform.get(watch.pullRequest.number));
        } catch (err) {
          this.log.warn('could not look at a proposal', {
            app: watch.app.id,
            pullRequest: watch.pullRequest.number,
            error: err instanceof Error ? err.message : String(err),
          });
        }
      } while (watch.lookAgain && !this.closed);
    })().finally(() => {
      watch.looking = null;
      if (this.watches.get(watch.app.id) === watch && (watch.waiters.size > 0 || watch.app.autoMerge))
        this.schedule(watch, this.pollMs);
    });
    return watch.looking;
  }

  /** What the host's view of the proposal means for its waiters, and for an auto-merge. */
  private async judge(watch: Watch, proposal: HostProposal): Promise<void> {
    if (proposal.state === 'merged') return this.merged(watch, proposal.headSha);
    if (proposal.state === 'closed') {
      const err = new KipError(
        'PR_CLOSED',
        `pull request #${proposal.number} was closed without merging: nothing was deployed`,
        {
          app: watch.app.id,
          body: { pullRequest: watch.pullRequest },
        },
      );
      for (const w of [...watch.waiters]) w.reject(err);
      this.forget(watch);
      return;
    }
    for (const w of [...watch.waiters]) if (this.replaced(watch, w, proposal.headSha)) this.supersede(watch, w);
    const latest = watch.ours.at(-1)?.commit;
    if (!watch.app.autoMerge || !proposal.mergeable || latest === undefined || proposal.headSha !== latest) return;
    // The sha: the host merges only this head, never one that moved since we looked.
    const outcome = await this.platform.merge(proposal.number, proposal.headSha);
    if (outcome.merged) {
      this.log.info('merged a proposal', { app: watch.app.id, pullRequest: proposal.number, head: proposal.headSha });
      return this.merged(watch, proposal.headSha);
    }
    this.log.info('the host did not merge the proposal yet', {
      app: watch.app.id,
      pullRequest: proposal.number,
      reason: outcome.reason,
    });
  }

  /** The deploy `commit` carries, in this process's count; undefined for another's commit. */
  private changeOf(watch: Watch, commit: string): number | undefined {
    return watch.ours.find((o) => o.commit === commit)?.change;
  }

  /** The proposal's head is a newer deploy than the waiter's (or another replica's): not an older one the host still shows. */
  private replaced(watch: Watch, w: Waiter, head: string): boolean {
    if (head === w.configCommit) return false;
    const mine = this.changeOf(watch, w.configCommit);
    const heads = this.changeOf(watch, head);
    return heads === undefined || mine === undefined || heads > mine;
  }

  private merged(watch: Watch, head: string): void {
    for (const w of [...watch.waiters]) {
      const mine = this.changeOf(watch, w.configCommit);
      // Merged with the waiter's change in it (its own commit, or the same change before it named the proposal).
      if (head === w.configCommit || (mine !== undefined && this.changeOf(watch, head) === mine))
        w.resolve({ pullRequest: watch.pullRequest });
      else this.supersede(watch, w);
    }
    this.forget(watch);
  }

  private supersede(watch: Watch, w: Waiter): void {
    w.reject(
      new KipError(
        'SUPERSEDED',
        `a newer deploy of ${watch.app.id} replaced this one in pull request #${watch.pullRequest.number}`,
        {
          app: watch.app.id,
          body: { pullRequest: watch.pullRequest },
        },
      ),
    );
  }

  private forget(watch: Watch): void {
    if (watch.timer) clearTimeout(watch.timer);
    watch.timer = null;
    if (this.watches.get(watch.app.id) === watch) this.watches.delete(watch.app.id);
  }
}
