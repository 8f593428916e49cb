import type { CommitDeployAnswer, DeployAnswer, RollbackAnswer } from '../api-types.js';
import type { AppConfig } from '../config/kipper-file.js';
import { isKipError, KipError } from '../errors.js';
import { describeValue } from '../history/app-value.js';
import type { Revision } from '../history/revision-index.js';
import { parseImageReference, type ImageReference } from '../manifests/image-reference.js';
import type { Signature } from '../repo/git-objects.js';
import type { Edit, Withdrawal } from './write-batch.js';
import type { WriteQueue } from './write-queue.js';
import type { Announce } from './announce.js';
import { assertTakesImages, imageRequestFor, type DeployRequest } from './deploy-request.js';
import type { HistoryService } from './history-service.js';
import { commitEdit, imageEdit, type DeployTrigger, type EditExtras } from './image-edit.js';
import { planRollback } from './plan-rollback.js';
import { holds, repeatedRevision, supersededError } from './retried-request.js';
import { appNotFound, type RepoConfig } from './repo-config.js';
import type { RepoStatus } from './repo-status.js';
import type { ProposalService, Proposed } from './proposals/proposal-service.js';

/** Options of one deploy: who asks, extra trailers and body, and the caller's "I went away" signal. */
export interface DeployOptions {
  /** Who asks for it (`Kipper-Actor`, docs/design.md "Who did it"). */
  actor: string;
  /** A verified person who asked: the commit's author (the bridge stays committer). */
  author?: { name: string; email: string } | undefined;
  /** A webhook request's `Idempotency-Key`, kept in the commit (`Kipper-Idempotency-Key`). */
  idempotencyKey?: string | undefined;
  extras?: EditExtras;
  signal?: Withdrawal | undefined;
  /** Push straight to the branch even for an app in pull-request mode (`--direct`, an incident). */
  direct?: boolean | undefined;
}

/**
 * Deploy, rollback, promote: a request becomes an edit (image-edit.ts), the write queue
 * commits and pushes it, history names its revision. Each deploy has a deadline
 * (KIPPER_DEPLOY_TIMEOUT) from the moment it is asked for.
 */
export class DeployService {
  constructor(
    private readonly queue: WriteQueue,
    private readonly config: RepoConfig,
    private readonly history: HistoryService,
    private readonly status: RepoStatus,
    private readonly settings: { deployTimeoutMs: number },
    private readonly announce: Announce,
    /** The app `id` in whichever config repo lists it, with that repo's deploys: a promotion's target may be in another. */
    private readonly findApp: (id: string) => Promise<{ app: AppConfig; deploys: DeployService } | null>,
    /** Pull-request mode (docs/protected-branches.md); null where the host has no pull request API. */
    readonly proposals: ProposalService | null = null,
  ) {}

  /** Deploy what `request` holds (deploy-request.ts) and wait until it is in the remote. */
  deploy(
    app: AppConfig,
    request: DeployRequest & { kind: 'image' },
    trigger: DeployTrigger,
    options: DeployOptions,
  ): Promise<DeployAnswer>;
  deploy(
    app: AppConfig,
    request: DeployRequest,
    trigger: DeployTrigger,
    options: DeployOptions,
  ): Promise<DeployAnswer | CommitDeployAnswer>;
  async deploy(
    app: AppConfig,
    request: DeployRequest,
    trigger: DeployTrigger,
    options: DeployOptions,
  ): Promise<DeployAnswer | CommitDeployAnswer> {
    const deadline = Date.now() + this.settings.deployTimeoutMs;
    await this.config.beforeWrite();
    const retryOf = trigger === 'webhook' ? await this.retryOf(app, request, deadline) : undefined;
    const extras = options.idempotencyKey
      ? { ...options.extras, trailers: { ...options.extras?.trailers, idempotencyKey: options.idempotencyKey } }
      : options.extras;
    const common = {
      appId: app.id,
      trigger,
      actor: options.actor,
      retryOf,
      configAt: this.config.at.bind(this.config),
      ...extras,
    };
    const edit = withAuthor(
      request.kind === 'image'
        ? imageEdit({ ...common, image: request.image, sourceCommit: request.commit })
        : commitEdit({ ...common, sourceCommit: request.commit }),
      options.author,
    );
    if (app.write === 'pull-request' && !options.direct) {
      const proposed = await this.propose(app, edit, deadline);
      if (proposed) {
        const image = request.kind === 'image' ? request.image.raw : null;
        return {
          status: 'proposed',
          app: app.id,
          image,
          commit: request.commit ?? null,
          revision: null,
          ...proposed,
        } as DeployAnswer | CommitDeployAnswer;
      }
      // The branch already holds it: "unchanged", as a direct deploy would answer.
      const current = await this.history.revisionAt(app.id, null, deadline).catch(() => undefined);
      const unchanged = {
        status: 'unchanged' as const,
        app: app.id,
        revision: current?.revision ?? null,
        configCommit: current?.configCommit ?? null,
      };
      return request.kind === 'commit'
        ? { ...unchanged, image: null, commit: request.commit }
        : { ...unchanged, image: request.image.raw, commit: request.commit ?? null };
    }
    const outcome = await this.queue
      .submit(edit, { deadline, ...(options.signal ? { signal: options.signal } : {}) })
      .catch(async (err: unknown) => {
        if (isKipError(err, 'PUSH_DECLINED')) throw withPullRequestHint(err, app);
        if (!isKipError(err, 'SUPERSEDED') || retryOf === undefined) throw err;
        // Built on a newer deploy, maybe one in the same push: once that push is over, name
        // what runs. Had it failed, the repeated revision is still current: "unchanged".
        await this.status.refreshQuietly();
        const current = (await this.history.revisionsWithin(app.id, deadline).catch(() => undefined))?.at(-1);
        if (current && holds(current, request)) return { result: null, configCommit: null };
        throw supersededError(app.id, retryOf, current?.revision ?? null);
      });
    // In the remote now: whatever history makes of it, the answer is a 200 (revision null at worst).
    const revision = await this.history.revisionAt(app.id, outcome.configCommit, deadline).catch(() => undefined);
    const written = {
      app: app.id,
      revision: revision?.revision ?? null,
      configCommit: outcome.configCommit ?? revision?.configCommit ?? null,
    };
    const image = request.kind === 'image' ? request.image.raw : null;
    const commit = request.commit ?? null;
    if (outcome.configCommit) {
      this.announce({
        event: trigger === 'rollback' ? 'rolled_back' : 'deployed',
        ...written,
        image,
        commit,
        trigger,
        reason: options.extras?.trailers?.reason ?? null,
        author: options.extras?.lock?.by ?? null,
        actor: options.actor,
      });
    }
    if (request.kind === 'commit') {
      // The commit is recorded; the cluster side (Argo CD, a build) now builds it.
      return {
        status: outcome.configCommit ? 'building' : 'unchanged',
        ...written,
        image: null,
        commit: request.commit,
      };
    }
    return { status: outcome.configCommit ? 'deployed' : 'unchanged', ...written, image: request.image.raw, commit };
  }

  /** Proposes `edit` (pull-request mode): null when the branch already holds it. */
  private async propose(app: AppConfig, edit: Edit<null>, deadline: number): Promise<Proposed | null> {
    if (!this.proposals) throw noPlatform(app);
    return this.proposals.propose(app, edit, deadline);
  }

  /**
   * Whether a webhook request repeats a recent webhook revision (retried-request.ts): 409
   * SUPERSEDED when a newer one replaced it; its number when it is what runs, for the edit
   * to answer "unchanged" at most; undefined for a new request (or a history still loading).
   */
  private async retryOf(app: AppConfig, request: DeployRequest, deadline: number): Promise<number | undefined> {
    const revisions = await this.history.revisionsBeforeWrite(app.id, deadline);
    const repeated = revisions && repeatedRevision(revisions, request);
    if (!repeated) return undefined;
    const current = revisions.at(-1)!;
    if (repeated === current || holds(current, request)) return repeated.revision;
    throw supersededError(app.id, repeated.revision, current.revision);
  }

  /**
   * Roll `app` back to revision `requested`, or by plan-rollback's rule without one; with
   * `lockBy`, lock the app in the same commit (one push: CI cannot deploy in between).
   */
  async rollback(
    app: AppConfig,
    requested: number | undefined,
    opts: {
      actor: string;
      author?: { name: string; email: string } | undefined;
      reason?: string | undefined;
      lockBy?: string;
      direct?: boolean | undefined;
    },
  ): Promise<RollbackAnswer> {
    if (opts.lockBy !== undefined && !opts.reason) {
      const message = 'a rollback that locks needs a reason: say why (e.g. INC-42: bad image)';
      throw new KipError('INVALID_BODY', message, { fields: { reason: message } });
    }
    await this.status.refreshQuietly();
    const plan = planRollback(app.id, await this.history.revisions(app.id), requested);
    const lock =
      opts.lockBy !== undefined ? { reason: opts.reason!, by: opts.lockBy, at: new Date().toISOString() } : undefined;
    const extras: EditExtras = {
      trailers: { rollbackTo: plan.target.configCommit, ...(opts.reason ? { reason: opts.reason } : {}) },
      // git log and the Argo CD UI then show it as what it is: a revert of the current revision.
      ...(plan.reverts ? { body: `This reverts commit ${plan.reverts}.` } : {}),
      ...(lock ? { lock } : {}),
    };
    const target = plan.target.value;
    const request: DeployRequest =
      'commit' in target
        ? { kind: 'commit', commit: target.commit }
        : { kind: 'image', image: rollbackImage(app.id, plan.target), commit: plan.target.sourceCommit ?? undefined };
    const result = await this.deploy(app, request, 'rollback', {
      actor: opts.actor,
      author: opts.author,
      extras,
      direct: opts.direct,
    });
    if (result.status === 'proposed') {
      const { revision, image, commit, configCommit, pullRequest } = result;
      return {
        status: 'proposed',
        app: app.id,
        revision,
        rolledBackTo: plan.target.revision,
        image,
        commit,
        configCommit,
        ...(pullRequest ? { pullRequest } : {}),
      };
    }
    if (result.status === 'unchanged')
      throw new KipError('ALREADY_CURRENT', `${app.id} already runs ${describeValue(target)}`, { app: app.id });
    return {
      status: 'rolled_back',
      app: app.id,
      revision: result.revision,
      rolledBackTo: plan.target.revision,
      image: result.image,
      commit: result.commit,
      configCommit: result.configCommit,
      ...(lock ? { lock } : {}),
    };
  }

  /** Deploy the current image of `app` to the app of the same name in namespace `to`. */
  async promote(
    app: AppConfig,
    to: string,
    actor: string,
    reason?: string,
    author?: { name: string; email: string },
    direct?: boolean,
  ): Promise<DeployAnswer> {
    const targetId = `${to}/${app.name}`;
    if (targetId === app.id)
      throw new KipError('INVALID_BODY', 'promote to another environment than the source', { app: app.id });
    const found = await this.findApp(targetId);
    if (!found) throw appNotFound(targetId);
    const target = found.app;
    // A promotion is an image deploy: a git-source target is refused whatever the source holds.
    assertTakesImages(target);
    await this.status.refreshQuietly();
    const current = (await this.history.revisions(app.id)).at(-1);
    const images = current && 'images' in current.value ? current.value.images : [];
    if (images.length !== 1)
      throw new KipError('NO_SOURCE_IMAGE', `${app.id} has no current image to promote; deploy it first`, {
        app: app.id,
      });
    const request = imageRequestFor(target, parseImageReference(images[0]!), current!.sourceCommit ?? undefined);
    // One commit in the target's repo, which may be another than the source's.
    return found.deploys.deploy(target, request, 'promotion', {
      actor,
      author,
      direct,
      extras: { trailers: { promotedFrom: app.namespace, ...(reason ? { reason } : {}) } },
    });
  }
}

/** A declined deploy: the branch is protected, and pull-request mode is the way in (docs/protected-branches.md). */
function withPullRequestHint(err: KipError, app: AppConfig): KipError {
  const hint =
    app.write === 'pull-request'
      ? 'this was a --direct deploy: without it, the deploy is proposed as a pull request'
      : `or deploy through pull requests: set write: pull-request for ${app.id} in kipper.yaml (docs/protected-branches.md)`;
  return new KipError(err.code, `${err.message}; ${hint}`, err.data);
}

/** Where the host has no pull request API, pull-request mode cannot work: say what to set. */
function noPlatform(app: AppConfig): KipError {
  return new KipError(
    'CONFIG_INVALID',
    `${app.id} has write: pull-request in kipper.yaml, but the config repo's host has no pull request API here: set KIPPER_GIT_PROVIDER to github or gitlab (an http(s) KIPPER_REPO_URL), or use write: direct`,
    { app: app.id },
  );
}

/** The image a rollback to `target` deploys: what our commit posted, else what the files held. */
function rollbackImage(app: string, target: Revision): ImageReference {
  if (target.deployed) return parseImageReference(target.deployed);
  const held = describeValue(target.value);
  const image = parseImageReference(held);
  // A file that holds only a tag (a `:tag` marker) has no image to go back to by itself.
  if (!image.tag && !image.digest && !image.domain && !image.path.includes('/')) {
    throw new KipError(
      'NOTHING_TO_ROLL_BACK',
      `revision #${target.revision} of ${app} holds only "${held}", not an image reference`,
      { app },
    );
  }
  return image;
}

/** The author and committer of the bridge's commits, now. */
export function signatureOf(settings: { authorName: string; authorEmail: string }): Signature {
  return {
    name: settings.authorName,
    email: settings.authorEmail,
    timestamp: Math.floor(Date.now() / 1000),
    timezoneOffset: 0,
  };
}

/** `edit` with its commits authored by `author` (a verified person), when there is one. */
function withAuthor<T>(edit: Edit<T>, author: { name: string; email: string } | undefined): Edit<T> {
  if (!author) return edit;
  return async (view) => {
    const decision = await edit(view);
    return decision.kind === 'commit' ? { ...decision, author } : decision;
  };
}
