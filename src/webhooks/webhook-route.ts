import express, { type Request, type Router } from 'express';
import type { AppConfig } from '../config/kipper-file.js';
import type { Bridge } from '../deploys/bridge.js';
import { KipError } from '../errors.js';
import type { Logger } from '../log.js';
import { parseImageReference } from '../manifests/image-reference.js';
import { repositoryOf } from '../history/app-value.js';
import { requestLog } from '../http/request-id.js';
import { authorizeRequest } from './authorize-request.js';
import { DeliveryCache } from './delivery-cache.js';
import { FailureLimiter } from './failure-limiter.js';
import { parseJsonBody, validateDeployBody } from './parse-body.js';
import { providerAction } from './provider-event.js';

/** Bodies over this are refused with 413, also after gzip inflation. */
export const WEBHOOK_BODY_LIMIT = 64 * 1024;

const unauthorized = () =>
  new KipError('UNAUTHORIZED', 'missing or invalid webhook token for this app (send X-Kipper-Token; see `kip app webhook status`)');

const COMMIT = /^[0-9a-f]{7,64}$/i;

interface Answer {
  status: number;
  body: unknown;
}

function isJsonContentType(req: Request): boolean {
  const ct = req.headers['content-type'];
  if (ct === undefined) return true; // `curl -d` without -H still means JSON to a CI author
  const type = ct.split(';')[0]!.trim().toLowerCase();
  return type === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(type);
}

function header(req: Request, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
}

/** `POST /api/v1/webhook/{namespace}/{app}`: the CI and git-provider entry point (DESIGN.md "Webhook"). */
export function webhookRouter(bridge: Bridge, baseLog: Logger): Router {
  const router = express.Router();
  const raw = express.raw({ type: () => true, limit: WEBHOOK_BODY_LIMIT });
  const limiter = new FailureLimiter();
  const deliveries = new DeliveryCache();

  // Counted for every answer, including body-parser's 413 and authorisation failures.
  router.use('/api/v1/webhook', (_req, res, next) => {
    res.on('finish', () => bridge.metrics.webhookRequests.inc({ status: String(res.statusCode) }));
    next();
  });

  router.post('/api/v1/webhook/:namespace/:app', raw, async (req, res) => {
    const log = requestLog(res, baseLog);
    const id = `${req.params.namespace}/${req.params.app}`;
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const app = await bridge.findApp(id);
    // Authorise before looking at the body: an unauthorised caller learns nothing, not
    // even whether its JSON was valid, and one message covers every failure.
    const auth = await authorizeRequest(req, body, app ? bridge.webhookToken(app.id) : null);
    if (!app || !auth) {
      const address = req.socket.remoteAddress ?? 'unknown';
      log.info('webhook refused', { app: id.length > 200 ? `${id.slice(0, 200)}…` : id, address });
      if (limiter.fail(address)) {
        throw new KipError('TOO_MANY_REQUESTS', 'too many failed authorisations from this address; wait and check the token', {
          retryAfter: limiter.retryAfter(address),
        });
      }
      throw unauthorized();
    }
    const started = Date.now();
    // Keyed by app too: a delivery id is no secret, and one app's caller must never be
    // answered with (or block) another app's deploy.
    const delivery = header(req, 'x-github-delivery');
    const answer = await deliveries.once(delivery === undefined ? undefined : `${app.id} ${delivery}`, () => handle(app, req, body));
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

  async function handle(app: AppConfig, req: Request, body: Buffer): Promise<Answer> {
    if (!isJsonContentType(req)) {
      throw new KipError('UNSUPPORTED_MEDIA_TYPE', 'send the body as JSON with Content-Type: application/json (GitHub: Content type "application/json")');
    }
    const json = parseJsonBody(body);
    const action = providerAction(header(req, 'x-github-event'), header(req, 'x-gitlab-event'), json);
    const ignored = (reason: string): Answer => ({ status: 202, body: { status: 'ignored', app: app.id, reason } });
    if (action === null) {
      const fields = validateDeployBody(json);
      if (app.source === 'git') {
        if (fields.image) {
          throw new KipError('GIT_APP_IMAGE', `${app.id} is a git-source app: post {"commit": "<sha>"} without an image`, { app: app.id });
        }
        if (!fields.commit) {
          throw new KipError('INVALID_COMMIT', 'commit: is required for a git-source app, e.g. {"commit": "abc123f"}', { fields: { commit: 'is required' } });
        }
        return { status: 200, body: await bridge.deployCommit(app, fields.commit, 'webhook') };
      }
      if (!fields.image) {
        throw new KipError('INVALID_IMAGE', 'image: is required for an image app, e.g. {"image": "registry.example.com/api:abc123f"}', {
          fields: { image: 'is required' },
        });
      }
      return { status: 200, body: await bridge.deployImage(app, fields.image, fields.commit, 'webhook') };
    }
    switch (action.kind) {
      case 'ping':
        return { status: 200, body: { status: 'pong', app: app.id } };
      case 'ignored':
        return ignored(action.reason);
      case 'push': {
        if (app.source !== 'git') return ignored('push events deploy git-source apps; image apps deploy from CI or package events');
        if (action.ref !== `refs/heads/${app.branch}`) return ignored(`${action.ref} is not the app's branch (${app.branch})`);
        if (!COMMIT.test(action.commit)) throw new KipError('INVALID_COMMIT', 'after: is not a commit SHA');
        return { status: 200, body: await bridge.deployCommit(app, action.commit.toLowerCase(), 'webhook') };
      }
      case 'package': {
        if (app.source === 'git') return ignored('package events deploy image apps');
        const image = parseImageReference(action.image);
        const current = (await bridge.revisions(app.id)).at(-1)?.image;
        if (current && repositoryOf(current.split(', ')[0]!) !== repositoryOf(image.raw)) {
          return ignored(`${image.repository} is not the repository ${app.id} runs`);
        }
        return { status: 200, body: await bridge.deployImage(app, image, undefined, 'webhook') };
      }
    }
  }

  return router;
}
