import type { PullRequestRef } from '../../api-types.js';
import type { AppConfig } from '../../config/kipper-file.js';
import { isKipError, KipError } from '../../errors.js';
import { formatCommitMessage, parseTrailers } from '../../history/trailers.js';
import type { Platform, HostProposal } from '../../hosts/types.js';
import type { Logger } from '../../log.js';
import { ZERO_OID, type Signature } from '../../repo/git-objects.js';
import type { CommitSign } from '../../repo/gitdir.js';
import type { HttpRemote } from '../../repo/http-remote.js';
import type { PushResult } from '../../repo/remote.js';
import { backoff, sleep } from '../write-rules.js';
import type { Edit } from '../write-queue.js';
import { bodyTrailers, proposalBody, proposalBranch, subjectOf } from './proposal-branch.js';
import { ProposalWatches, type MergedProposal } from './proposal-watches.js';

/** A proposed deploy: the commit on `kipper/<ns>/<app>` and the proposal that carries it. */
export interface Proposed {
  configCommit: string;
  pullRequest: PullRequestRef;
}

/** What a proposal service needs of its repo. */
export interface ProposalDeps {
  remote: HttpRemote;
  platform: Platform;
  /** The branch proposals go into (KIPPER_REPO_BRANCH or the repos file's `branch`). */
  target: string;
  /** The target branch's head, fetched now (the write queue's refresh). */
  head: () => Promise<string>;
  signature: () => Signature;
  sign: CommitSign | undefined;
  log: Logger;
  /** Polls of one open proposal are at least this far apart (5 s: docs/protected-branches.md). */
  pollMs?: number;
}

/** Lost compare-and-swaps on the kipper/ branch (another replica's deploy of the same app) before giving up. */
const MAX_ATTEMPTS = 8;

/**
 * Pull-request mode (issue #20): a deploy becomes ONE commit on top of the target
 * branch's head, on the branch `kipper/<namespace>/<app>`, and one open pull/merge
 * request from it. A newer deploy replaces the commit: its push is a compare-and-swap
 * against the tip read just before (never a blind force), so two replicas never fight
 * over the branch: the loser reads the new tip and tries again on top of the newest head.
 * The open proposal is looked up before one is created, and the host refuses a second
 * one for the branch, so there is never more than one.
 */
export class ProposalService {
  /** One proposal write per app at a time in this process (the CAS covers other processes). */
  private readonly chains = new Map<string, Promise<unknown>>();
  readonly watches: ProposalWatches;

  constructor(private readonly deps: ProposalDeps) {
    this.watches = new ProposalWatches(deps.platform, deps.log, deps.pollMs ?? 5_000);
  }

  /**
   * Propose `edit` for `app`: null when the target branch already holds it (nothing to
   * propose: "unchanged"), else the commit and its proposal.
   */
  propose(app: AppConfig, edit: Edit<null>, deadline: number): Promise<Proposed | null> {
    const previous = this.chains.get(app.id) ?? Promise.resolve();
    const run = previous.then(
      () => this.write(app, edit, deadline),
      () => this.write(app, edit, deadline),
    );
    const tail = run.catch(() => undefined);
    this.chains.set(app.id, tail);
    tail.then(
      () => {
        if (this.chains.get(app.id) === tail) this.chains.delete(app.id);
      },
      () => undefined,
    );
    return run;
  }

  /** The app's open proposal as the host has it, with what it deploys (from its body's trailers), or null. */
  async open(app: AppConfig): Promise<{ proposal: HostProposal; image: string | null; commit: string | null } | null> {
    const proposal = await this.deps.platform.findOpenForBranch(proposalBranch(app.id), this.deps.target);
    if (!proposal) return null;
    const trailers = bodyTrailers(proposal.body);
    if (app.autoMerge)
      this.watches.adopt(app, {
        configCommit: proposal.headSha,
        pullRequest: { number: proposal.number, url: proposal.url },
      });
    return { proposal, image: trailers.image ?? null, commit: trailers.sourceCommit ?? null };
  }

  /** Waits until the proposal carrying `configCommit` is merged (see ProposalWatches.wait). */
  wait(
    app: AppConfig,
    proposed: Proposed,
    timeoutMs: number,
    signal?: { aborted: boolean; addEventListener(t: 'abort', l: () => void): void },
  ): Promise<MergedProposal | 'timeout'> {
    return this.watches.wait(app, proposed, timeoutMs, signal);
  }

  /** A host event (pull_request, check_suite, Merge Request Hook) about the app's proposal: look now. */
  nudge(app: AppConfig): void {
    if (this.watches.nudge(app.id) || !app.autoMerge) return;
    // Not watched here (opened before a restart, or by another replica): adopt it, so that
    // autoMerge still merges it once the host says it may.
    this.open(app).catch((err: unknown) => {
      this.deps.log.warn('could not look at a proposal', {
        app: app.id,
        error: err instanceof Error ? err.message : String(err),
      });
    });
  }

  close(): void {
    this.watches.close();
  }

  private async write(app: AppConfig, edit: Edit<null>, deadline: number): Promise<Proposed | null> {
    const { remote, platform, target } = this.deps;
    const branch = proposalBranch(app.id);
    const ref = `refs/heads/${branch}`;
    for (let attempt = 0; ; attempt++) {
      if (Date.now() > deadline)
        throw new KipError(
          'REPO_UNAVAILABLE',
          `the proposal for ${app.id} could not be written in time; nothing was proposed, retry`,
          { retryAfter: 5 },
        );
      const base = await this.deps.head();
      const tip = await remote.lookRef(ref, AbortSignal.timeout(Math.max(1, deadline - Date.now())));
      const decision = await edit(remote.gitdir.view(base));
      if (decision.kind === 'unchanged') return null;
      const existing = await platform.findOpenForBranch(branch, target);
      const message = existing ? withPullRequest(decision.message, existing.url) : decision.message;
      const first = await this.commit(base, decision.files, message);
      // A retry of the deploy the proposal already shows (CI retried, a duplicate trigger):
      // nothing to push, and the host's checks are not started again for the same change.
      if (existing && tip !== null && existing.headSha === tip && (await this.sameChange(tip, first.oid))) {
        const proposed = { configCommit: tip, pullRequest: { number: existing.number, url: existing.url } };
        this.watches.proposed(app, proposed);
        return proposed;
      }
      const pushed = await remote.pushRef(ref, tip ?? ZERO_OID, first.oid, first.newObjects);
      if (!pushed.ok) {
        if (pushed.kind === 'rejected' && attempt + 1 < MAX_ATTEMPTS) {
          // Another replica moved the branch between our look and our push: read it again.
          await sleep(backoff(50, attempt));
          continue;
        }
        throw pushError(pushed, branch);
      }
      const proposal = existing
        ? await platform.update(existing.number, { title: subjectOf(message), body: proposalBody(message) })
        : await this.openFor(app, branch, message);
      let configCommit = first.oid;
      if (!existing) {
        // The first commit could not name its proposal: the same change again, now naming it,
        // so history reads the proposal from the commit whatever merge method a person picks.
        const named = withPullRequest(decision.message, proposal.url);
        const second = await this.commit(base, decision.files, named);
        const again = await remote.pushRef(ref, first.oid, second.oid, second.newObjects);
        if (again.ok) configCommit = second.oid;
        // Lost: a newer deploy replaced ours meanwhile, and its commit names the proposal.
        await platform
          .update(proposal.number, { title: subjectOf(named), body: proposalBody(named) })
          .catch((err: unknown) => {
            this.deps.log.warn('could not update the proposal body', {
              app: app.id,
              error: err instanceof Error ? err.message : String(err),
            });
          });
      }
      const proposed = { configCommit, pullRequest: { number: proposal.number, url: proposal.url } };
      this.watches.proposed(app, proposed, configCommit === first.oid ? [] : [first.oid]);
      return proposed;
    }
  }

  /** Opens the proposal; when another replica opened it a moment ago, takes that one. */
  private async openFor(app: AppConfig, branch: string, message: string): Promise<HostProposal> {
    const { platform, target } = this.deps;
    try {
      return await platform.create({
        branch,
        target,
        title: subjectOf(message),
        body: proposalBody(message),
        labels: app.labels,
      });
    } catch (err) {
      if (!isKipError(err, 'HOST_API_FAILED') || err.data.exists !== true) throw err;
      const found = await platform.findOpenForBranch(branch, target);
      if (!found) throw err;
      return platform.update(found.number, { title: subjectOf(message), body: proposalBody(message) });
    }
  }

  /** `tip` holds what `candidate` would: the same parent, tree and trailers (another replica's commit may not be here: then no). */
  private async sameChange(tip: string, candidate: string): Promise<boolean> {
    try {
      const [a, b] = await Promise.all([
        this.deps.remote.gitdir.readCommit(tip),
        this.deps.remote.gitdir.readCommit(candidate),
      ]);
      const ta = parseTrailers(a.message);
      const tb = parseTrailers(b.message);
      return (
        a.tree === b.tree &&
        a.parents[0] === b.parents[0] &&
        ta.image === tb.image &&
        ta.sourceCommit === tb.sourceCommit &&
        ta.trigger === tb.trigger
      );
    } catch {
      return false;
    }
  }

  private commit(
    base: string,
    files: Map<string, Uint8Array>,
    message: string,
  ): Promise<{ oid: string; newObjects: string[] }> {
    const sig = this.deps.signature();
    return this.deps.remote.gitdir.writeCommit({
      parent: base,
      files,
      message,
      author: sig,
      committer: sig,
      sign: this.deps.sign,
    });
  }
}

/** `message` with the `Kipper-Pull-Request` trailer set to `url`. */
function withPullRequest(message: string, url: string): string {
  const paragraphs = message.trimEnd().split(/\n\s*\n/);
  const subject = paragraphs[0] ?? '';
  const trailers = parseTrailers(message);
  const body = paragraphs.slice(1, -1).join('\n\n');
  // The reason is written as a paragraph by formatCommitMessage itself: not twice.
  const rest = trailers.reason && body.startsWith(trailers.reason) ? body.slice(trailers.reason.length).trim() : body;
  return formatCommitMessage(subject, { ...trailers, pullRequest: url }, rest || undefined);
}

function pushError(pushed: Exclude<PushResult, { ok: true }>, branch: string): KipError {
  if (pushed.kind === 'declined') {
    return new KipError(
      'PUSH_DECLINED',
      `the config repo declined the push of ${branch} (${pushed.answer}); let the bridge's identity push kipper/* branches`,
      {
        answer: pushed.answer,
        body: { remote: pushed.messages.join('\n') },
      },
    );
  }
  if (pushed.kind === 'rejected')
    return new KipError('PUSH_REJECTED', `${branch} kept moving: ${pushed.answer}; retry later`, {
      retryAfter: 5,
      answer: pushed.answer,
    });
  return new KipError('REPO_UNAVAILABLE', pushed.detail, { retryAfter: 10, answer: pushed.answer });
}
