import express, { type Response, type Router } from 'express';
import type { AppConfig } from '../config/kipper-file.js';
import {
  deployRequestFor,
  imageRequestFor,
  isCommitSha,
  validateDeployBody,
  type DeployRequest,
} from '../deploys/deploy-request.js';
import type { Bridge } from '../deploys/open-bridge.js';
import type { DeployOptions } from '../deploys/deploy-service.js';
import { idempotencyKeyOf, type GivenAnswer } from '../deploys/idempotent-answers.js';
import type { Withdrawal } from '../deploys/write-batch.js';
import { proposalBranch } from '../deploys/proposals/proposal-branch.js';
import { isKipError, KipError } from '../errors.js';
import { firstImage, repositoryOf } from '../history/app-value.js';
import type { Logger } from '../log.js';
import { parseImageReference } from '../manifests/image-reference.js';
import { DeliveryCache } from '../webhooks/delivery-cache.js';
import { OidcVerifier } from '../webhooks/oidc-verifier.js';
import type { FailureLimiter } from '../webhooks/failure-limiter.js';
import type { ProviderAction } from '../webhooks/provider-event.js';
import { verifyAndReceive } from '../webhooks/verify-and-receive.js';
import { requestLog } from './request-id.js';
import { errorBody } from './error-middleware.js';
import { ERROR_STATUS } from './error-status.js';

/** Bodies over this are refused with 413, also after gzip inflation. */
export const WEBHOOK_BODY_LIMIT = 64 * 1024;

interface Answer {
  status: number;
  headers?: Record<string, string>;
  body: unknown;
}

/** The answer an error becomes, for the `Idempotency-Key` of the request that got it. */
function refusalOf(err: unknown): GivenAnswer {
  if (!isKipError(err)) return { status: 500, body: null };
  return { status: ERROR_STATUS[err.code], body: errorBody(err) };
}

/** `?wait=<seconds>` (at most 900), or null without one. */
function waitSeconds(value: unknown): number | null {
  if (value === undefined) return null;
  const seconds = Number(value);
  if (typeof value !== 'string' || !/^\d+(\.\d+)?$/.test(value) || seconds <= 0 || seconds > 900) {
    throw new KipError('INVALID_BODY', 'wait: must be a number of seconds above 0 and at most 900, e.g. ?wait=300', {
      fields: { wait: 'must be 1 to 900 seconds' },
    });
  }
  return seconds;
}

/**
 * Aborted when the caller goes away before its answer: its deploy is withdrawn unless
 * already being pushed. A plain object, not an AbortController: one of those per request
 * was ~1 % of a deploy's CPU (issue #14).
 */
class CallerGone implements Withdrawal {
  aborted = false;
  private readonly listeners = new Set<() => void>();

  constructor(res: Response) {
    res.on('close', () => {
      if (res.writableEnded) return;
      this.aborted = true;
      for (const listener of [...this.listeners]) listener();
      this.listeners.clear();
    });
  }

  addEventListener(_type: 'abort', listener: () => void): void {
    if (!this.aborted) this.listeners.add(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    this.listeners.delete(listener);
  }
}

/**
 * `POST /api/v1/webhook/{namespace}/{app}`: the CI and git-provider entry point
 * (docs/design.md "Webhook"), the express adapter of webhooks/verify-and-receive.ts.
 */
export function webhookRouter(bridge: Bridge, baseLog: Logger, limiter: FailureLimiter): Router {
  const router = express.Router();
  const readRaw = express.raw({ type: () => true, limit: WEBHOOK_BODY_LIMIT });
  const deliveries = new DeliveryCache();
  const oidc = new OidcVerifier();

  // Counted for every answer, including body-parser's 413 and authorisation failures.
  router.use('/api/v1/webhook', (_req, res, next) => {
    res.on('finish', () => bridge.metrics.webhookRequests.inc({ status: String(res.statusCode) }));
    next();
  });

  router.post('/api/v1/webhook/:namespace/:app', async (req, res) => {
    const id = `${req.params.namespace}/${req.params.app}`;
    res.locals.app = id.length > 200 ? `${id.slice(0, 200)}…` : id;
    // Known as of the last look, without waiting for one: a 401 for an unknown app costs
    // what one for a known app does (issue #18).
    const app = bridge.config.knownApp(id);
    const readBody = () =>
      new Promise<Buffer>((resolve, reject) =>
        readRaw(req, res, (err?: unknown) =>
          err ? reject(err) : resolve(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0)),
        ),
      );
    // An ID token is checked against the last valid kipper.yaml's trust: rules, as tokens are.
    const trusted = async (token: string) => {
      const result = await oidc.verify(token, app?.id ?? null, bridge.config.known().trust, bridge.settings.publicUrl);
      if (result.ok) return result.identity;
      requestLog(res, baseLog).info('webhook OIDC token refused', {
        app: res.locals.app as string,
        check: result.check,
        reason: result.reason,
      });
      return null;
    };
    let received;
    try {
      received = await verifyAndReceive(
        { headers: req.headers, readBody },
        app ? bridge.webhooks.token(app.id) : null,
        trusted,
      );
    } catch (err) {
      const address = req.ip ?? 'unknown';
      if (isKipError(err, 'UNAUTHORIZED') && limiter.fail(address)) {
        throw new KipError(
          'TOO_MANY_REQUESTS',
          'too many failed authorisations from this address; wait and check the token',
          {
            retryAfter: limiter.retryAfter(address),
          },
        );
      }
      throw err;
    }
    // An unknown app never gets this far: it has no token, so the request was refused.
    const known = app!;
    const started = Date.now();
    // Keyed by app too: a delivery id is no secret, and one app's caller must never be
    // answered with (or block) another app's deploy.
    const delivery =
      typeof req.headers['x-github-delivery'] === 'string'
        ? `${known.id} ${req.headers['x-github-delivery']}`
        : undefined;
    const signal = new CallerGone(res);
    const wait = waitSeconds(req.query.wait);
    const key = idempotencyKeyOf(req.headers['idempotency-key']);
    const ci = received.ci;
    const actor = ci
      ? `oidc:${ci.subject}`
      : received.auth !== 'token' && received.sender
        ? received.sender
        : `webhook:${known.id}`;
    const extras = ci?.run ? { trailers: { run: ci.run } } : undefined;
    const run = () =>
      handle(known, received.json, received.action, {
        signal,
        actor,
        idempotencyKey: key,
        ...(extras ? { extras } : {}),
      });
    const replayed =
      key === undefined
        ? undefined
        : await bridge.idempotency.replay(known, key, started + bridge.settings.deployTimeoutMs);
    if (replayed) {
      requestLog(res, baseLog).info('webhook replayed', { app: known.id, via: received.auth, status: replayed.status });
      res.set('Idempotent-Replayed', 'true');
      res.status(replayed.status).json(replayed.body);
      return;
    }
    let answer: Answer = await deliveries
      .once(delivery, () => (key === undefined ? run() : bridge.idempotency.first(known, key, run, refusalOf)))
      .catch((err: unknown) => {
        // A deploy the bridge could not make (the repo unreachable, the branch never still):
        // someone should know besides the CI job that failed.
        if (isKipError(err) && ERROR_STATUS[err.code] >= 500)
          bridge.announce({ event: 'refused', app: known.id, code: err.code, error: err.message });
        throw err;
      });
    if (wait !== null && answer.status === 202 && (answer.body as { status?: unknown }).status === 'proposed') {
      answer = await awaitMerge(known, answer.body as Record<string, unknown>, wait, signal);
    }
    if (
      wait !== null &&
      answer.status === 200 &&
      typeof (answer.body as { configCommit?: unknown }).configCommit === 'string'
    ) {
      const left = Math.max(1, wait - (Date.now() - started) / 1000);
      answer = await awaitRollout(known, answer.body as Record<string, unknown>, left, signal);
    }
    const result = answer.body as Record<string, unknown>;
    if (result.status === 'deployed' || result.status === 'building')
      bridge.metrics.deployDuration.observe((Date.now() - started) / 1000);
    requestLog(res, baseLog).info(`webhook ${String(result.status)}`, {
      app: known.id,
      via: received.auth,
      image: result.image,
      commit: result.commit,
      revision: result.revision,
      configCommit: result.configCommit,
      durationMs: Date.now() - started,
    });
    if (answer.headers) res.set(answer.headers);
    res.status(answer.status).json(answer.body);
  });

  router.all('/api/v1/webhook/:namespace/:app', (_req, res) => {
    res.setHeader('Allow', 'POST');
    throw new KipError('METHOD_NOT_ALLOWED', 'use POST with a JSON body');
  });

  /**
   * `?wait=`: after the commit, the answer waits until the rollout settles: 200 healthy,
   * 424 ROLLOUT_FAILED (degraded, failed, superseded), 504 ROLLOUT_TIMEOUT. Every answer
   * keeps the deploy's fields (`configCommit`, `revision`), so a retry answers
   * `unchanged` and waits again, never deploying twice.
   */
  async function awaitRollout(
    app: AppConfig,
    deployed: Record<string, unknown>,
    seconds: number,
    signal: Withdrawal,
  ): Promise<Answer> {
    const { rollout, ended } = await bridge.rollouts.wait(app, deployed.configCommit as string, seconds * 1000, {
      signal,
    });
    const body = { ...deployed, rollout };
    if (rollout.state === 'healthy' || (rollout.state === 'unknown' && !app.syncer)) return { status: 200, body };
    if (ended === 'shutdown') {
      // The deploy is in git; a retry (here after the restart, or another replica) answers
      // `unchanged` and waits again.
      return {
        status: 503,
        headers: { 'Retry-After': '2', Connection: 'close' },
        body: {
          error: `the bridge is shutting down while the rollout is ${rollout.state}; the deploy is committed: retry to keep waiting`,
          code: 'SHUTTING_DOWN',
          ...body,
        },
      };
    }
    if (ended === 'timeout') {
      return {
        status: 504,
        body: {
          error: `the rollout did not settle within ${seconds} s (it is ${rollout.state}${rollout.message ? `: ${rollout.message}` : ''})`,
          code: 'ROLLOUT_TIMEOUT',
          ...body,
        },
      };
    }
    return {
      status: 424,
      body: {
        error: `the rollout is ${rollout.state}${rollout.message ? `: ${rollout.message}` : ''}`,
        code: 'ROLLOUT_FAILED',
        ...body,
      },
    };
  }

  /**
   * `?wait=` in pull-request mode: first the merge (by the bridge's autoMerge or a person),
   * then, by the caller, the rollout of the commit that brought it into the branch. A
   * proposal closed unmerged answers 409 PR_CLOSED, one a newer deploy replaced 409
   * SUPERSEDED, both with `pullRequest`.
   */
  async function awaitMerge(
    app: AppConfig,
    proposed: Record<string, unknown>,
    seconds: number,
    signal: Withdrawal,
  ): Promise<Answer> {
    const pullRequest = proposed.pullRequest as { number: number; url: string };
    let merged;
    try {
      merged = await bridge.proposals.wait(
        app,
        { configCommit: proposed.configCommit as string, pullRequest },
        seconds * 1000,
        signal,
      );
    } catch (err) {
      if (isKipError(err, 'PR_CLOSED') || isKipError(err, 'SUPERSEDED')) return { status: 409, body: errorBody(err) };
      throw err;
    }
    if (merged === 'timeout') {
      const error = `pull request #${pullRequest.number} was not merged within ${seconds} s; it stays open: ${pullRequest.url}`;
      return { status: 504, body: { error, code: 'ROLLOUT_TIMEOUT', ...proposed } };
    }
    // The merge is in the branch: the revision it became, read from git like any other.
    const repo = bridge.repoOf(app.id);
    await repo.status.refreshQuietly();
    const revisions = await bridge.history.revisions(app.id);
    const revision = revisions.findLast((r) => r.pullRequest?.number === pullRequest.number) ?? revisions.at(-1);
    return {
      status: 200,
      body: {
        ...proposed,
        status: 'deployed',
        revision: revision?.revision ?? null,
        configCommit: revision?.configCommit ?? null,
        pullRequest,
      },
    };
  }

  async function handle(
    app: AppConfig,
    json: unknown,
    action: ProviderAction | null,
    options: DeployOptions,
  ): Promise<Answer> {
    const ignored = (reason: string): Answer => ({ status: 202, body: { status: 'ignored', app: app.id, reason } });
    const deploy = async (request: DeployRequest): Promise<Answer> => {
      const body = await bridge.deploys.deploy(app, request, 'webhook', options);
      // 202: pull-request mode proposed it; it is deployed once merged.
      return { status: body.status === 'proposed' ? 202 : 200, body };
    };
    if (action === null) return deploy(deployRequestFor(app, validateDeployBody(json)));
    switch (action.kind) {
      case 'ping':
        return { status: 200, body: { status: 'pong', app: app.id } };
      case 'ignored':
        return ignored(action.reason);
      case 'push': {
        if (app.source !== 'git')
          return ignored('push events deploy git-source apps; image apps deploy from CI or package events');
        if (action.ref !== `refs/heads/${app.branch}`)
          return ignored(`${action.ref} is not the app's branch (${app.branch})`);
        if (!isCommitSha(action.commit)) throw new KipError('INVALID_COMMIT', 'after: is not a commit SHA');
        return deploy({ kind: 'commit', commit: action.commit.toLowerCase() });
      }
      case 'proposal': {
        // Pull-request mode: the host says the app's proposal or its checks changed.
        if (action.branch !== proposalBranch(app.id))
          return ignored(`${action.branch} is not ${app.id}'s proposal branch`);
        bridge.proposals.nudge(app);
        return { status: 202, body: { status: 'noted', app: app.id } };
      }
      case 'package': {
        if (app.source === 'git') return ignored('package events deploy image apps');
        const image = parseImageReference(action.image);
        const current = (await bridge.history.revisions(app.id)).at(-1);
        const running = current ? firstImage(current.value) : null;
        if (running !== null && repositoryOf(running) !== repositoryOf(image.raw))
          return ignored(`${image.repository} is not the repository ${app.id} runs`);
        const commit =
          action.commit !== undefined && isCommitSha(action.commit) ? action.commit.toLowerCase() : undefined;
        return deploy(imageRequestFor(app, image, commit));
      }
    }
  }

  return router;
}
