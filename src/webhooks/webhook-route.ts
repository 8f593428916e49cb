import express, { type Request, type Response, type Router } from 'express';
import type { AppConfig } from '../config/kipper-file.js';
import type { Bridge } from '../deploys/bridge.js';
import { deployRequestFor, imageRequestFor, isCommitSha, validateDeployBody, type DeployRequest } from '../deploys/deploy-request.js';
import { KipError } from '../errors.js';
import type { Logger } from '../log.js';
import { parseImageReference } from '../manifests/image-reference.js';
import { repositoryOf } from '../history/app-value.js';
import { requestLog } from '../http/request-id.js';
import { authorizeRequest, credentialOf, type Credential } from './authorize-request.js';
import { DeliveryCache } from './delivery-cache.js';
import { FailureLimiter } from './failure-limiter.js';
import { parseJsonBody } from './parse-body.js';
import { providerAction } from './provider-event.js';

/** Bodies over this are refused with 413, also after gzip inflation. */
export const WEBHOOK_BODY_LIMIT = 64 * 1024;

interface Answer {
  status: number;
  body: unknown;
}

/**
 * Says which credential was checked and did not match, never whether the app exists: the
 * message depends only on the request's own headers. A token header and no credential at
 * all share one message (send X-Kipper-Token); a GitLab token or a GitHub signature is
 * named, so a provider's webhook settings point at the right field.
 */
function unauthorized(credential: Credential | null): KipError {
  const how = 'see `kip app webhook status`';
  switch (credential?.kind) {
    case 'gitlab':
      return new KipError('UNAUTHORIZED', `X-Gitlab-Token (the GitLab webhook's Secret token) is not this app's current webhook token, or its webhook is disabled; ${how}`);
    case 'github':
      return new KipError(
        'UNAUTHORIZED',
        `X-Hub-Signature-256 does not verify with this app's current webhook token (set it as the GitHub webhook's Secret; sha256 only), or its webhook is disabled; ${how}`,
      );
    default:
      return new KipError('UNAUTHORIZED', `missing or invalid webhook token for this app (send X-Kipper-Token; ${how})`);
  }
}

/** application/json or any `+json` type; a request without a Content-Type is not JSON (415). */
function isJsonContentType(req: Request): boolean {
  const ct = req.headers['content-type'];
  if (ct === undefined) return false;
  const type = ct.split(';')[0]!.trim().toLowerCase();
  return type === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(type);
}

function header(req: Request, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
}

/** Aborted when the caller goes away before its answer: its deploy is withdrawn unless already being pushed. */
function callerGone(res: Response): AbortSignal {
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableEnded) controller.abort();
  });
  return controller.signal;
}

/**
 * `POST /api/v1/webhook/{namespace}/{app}`: the CI and git-provider entry point (DESIGN.md
 * "Webhook"). Checks run in this order, each answering before the next looks at more:
 * the credential of a token header (X-Kipper-Token, X-Gitlab-Token) before the body is
 * read, so an unauthorised caller gets 401 and never 413; the body (64 KiB, also after
 * gzip) only then, or first for a GitHub request signed over it (X-Hub-Signature-256);
 * then Content-Type (415), JSON, fields.
 */
export function webhookRouter(bridge: Bridge, baseLog: Logger): Router {
  const router = express.Router();
  const readRaw = express.raw({ type: () => true, limit: WEBHOOK_BODY_LIMIT });
  const readBody = (req: Request, res: Response) =>
    new Promise<Buffer>((resolve, reject) =>
      readRaw(req, res, (err?: unknown) => (err ? reject(err) : resolve(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0)))),
    );
  const limiter = new FailureLimiter();
  const deliveries = new DeliveryCache();

  // Counted for every answer, including body-parser's 413 and authorisation failures.
  router.use('/api/v1/webhook', (_req, res, next) => {
    res.on('finish', () => bridge.metrics.webhookRequests.inc({ status: String(res.statusCode) }));
    next();
  });

  router.post('/api/v1/webhook/:namespace/:app', async (req, res) => {
    const log = requestLog(res, baseLog);
    const id = `${req.params.namespace}/${req.params.app}`;
    res.locals.app = id.length > 200 ? `${id.slice(0, 200)}…` : id;
    const app = await bridge.findApp(id);
    const credential = credentialOf(req.headers);
    // Only a signature needs the body to be checked; a token header is checked first.
    const signed = credential?.kind === 'github' ? await readBody(req, res) : undefined;
    const auth = credential && (await authorizeRequest(credential, signed, app ? bridge.webhookToken(app.id) : null));
    if (!app || !auth) {
      const address = req.socket.remoteAddress ?? 'unknown';
      if (limiter.fail(address)) {
        throw new KipError('TOO_MANY_REQUESTS', 'too many failed authorisations from this address; wait and check the token', {
          retryAfter: limiter.retryAfter(address),
        });
      }
      throw unauthorized(credential);
    }
    if (!isJsonContentType(req)) {
      throw new KipError('UNSUPPORTED_MEDIA_TYPE', 'send the body as JSON with Content-Type: application/json (GitHub: Content type "application/json")');
    }
    const body = signed ?? (await readBody(req, res));
    const started = Date.now();
    // Keyed by app too: a delivery id is no secret, and one app's caller must never be
    // answered with (or block) another app's deploy.
    const delivery = header(req, 'x-github-delivery');
    const signal = callerGone(res);
    const answer = await deliveries.once(delivery === undefined ? undefined : `${app.id} ${delivery}`, () => handle(app, req, body, signal));
    const result = answer.body as Record<string, unknown>;
    if (result.status === 'deployed' || result.status === 'building') bridge.metrics.deployDuration.observe((Date.now() - started) / 1000);
    log.info(`webhook ${String(result.status)}`, {
      app: app.id,
      via: auth,
      image: result.image,
      commit: result.commit,
      revision: result.revision,
      configCommit: result.configCommit,
      durationMs: Date.now() - started,
    });
    res.status(answer.status).json(answer.body);
  });

  router.all('/api/v1/webhook/:namespace/:app', (_req, res) => {
    res.setHeader('Allow', 'POST');
    throw new KipError('METHOD_NOT_ALLOWED', 'use POST with a JSON body');
  });

  async function handle(app: AppConfig, req: Request, body: Buffer, signal: AbortSignal): Promise<Answer> {
    const json = parseJsonBody(body);
    const action = providerAction(header(req, 'x-github-event'), header(req, 'x-gitlab-event'), json);
    const ignored = (reason: string): Answer => ({ status: 202, body: { status: 'ignored', app: app.id, reason } });
    const deploy = async (request: DeployRequest): Promise<Answer> => ({ status: 200, body: await bridge.deploy(app, request, 'webhook', signal) });
    if (action === null) return deploy(deployRequestFor(app, validateDeployBody(json)));
    switch (action.kind) {
      case 'ping':
        return { status: 200, body: { status: 'pong', app: app.id } };
      case 'ignored':
        return ignored(action.reason);
      case 'push': {
        if (app.source !== 'git') return ignored('push events deploy git-source apps; image apps deploy from CI or package events');
        if (action.ref !== `refs/heads/${app.branch}`) return ignored(`${action.ref} is not the app's branch (${app.branch})`);
        if (!isCommitSha(action.commit)) throw new KipError('INVALID_COMMIT', 'after: is not a commit SHA');
        return deploy({ kind: 'commit', commit: action.commit.toLowerCase() });
      }
      case 'package': {
        if (app.source === 'git') return ignored('package events deploy image apps');
        const image = parseImageReference(action.image);
        const current = (await bridge.revisions(app.id)).at(-1)?.image;
        if (current && repositoryOf(current.split(', ')[0]!) !== repositoryOf(image.raw)) {
          return ignored(`${image.repository} is not the repository ${app.id} runs`);
        }
        const commit = action.commit !== undefined && isCommitSha(action.commit) ? action.commit.toLowerCase() : undefined;
        return deploy(imageRequestFor(app, image, commit));
      }
    }
  }

  return router;
}
