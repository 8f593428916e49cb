import express, { type Request, type Router } from 'express';
import type { Bridge } from '../deploys/bridge.js';
import { KipError } from '../errors.js';
import type { Logger } from '../log.js';
import { parseWebhookBody } from './parse-body.js';

/** Bodies over this are refused with 413, also after gzip inflation. */
export const WEBHOOK_BODY_LIMIT = 64 * 1024;

const unauthorized = () =>
  new KipError('UNAUTHORIZED', 'missing or invalid webhook token for this app (send X-Kipper-Token; see `kip app webhook status`)');

/** The token a request presents, from any of the headers Kipper and GitLab use. */
function presentedToken(req: Request): string | undefined {
  for (const h of ['x-kipper-token', 'x-skipper-token', 'x-gitlab-token']) {
    const v = req.headers[h];
    if (typeof v === 'string') return v;
  }
  return undefined;
}

function isJsonContentType(req: Request): boolean {
  const ct = req.headers['content-type'];
  if (ct === undefined) return true; // `curl -d` without -H still means JSON to a CI author
  const type = ct.split(';')[0]!.trim().toLowerCase();
  return type === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(type);
}

/** `POST /api/v1/webhook/{namespace}/{app}`: the CI entry point (DESIGN.md "Webhook"). */
export function webhookRouter(bridge: Bridge, log: Logger): Router {
  const router = express.Router();
  const raw = express.raw({ type: () => true, limit: WEBHOOK_BODY_LIMIT });

  router.post('/api/v1/webhook/:namespace/:app', raw, async (req, res) => {
    const id = `${req.params.namespace}/${req.params.app}`;
    // Authorise before looking at the body: an unauthorised caller learns nothing, not
    // even whether its JSON was valid, and one message covers every failure.
    const token = presentedToken(req);
    const app = token === undefined ? null : await bridge.findApp(id);
    if (!app || token === undefined || !bridge.checkWebhookToken(app.id, token)) {
      log.info('webhook refused', { app: id.length > 200 ? `${id.slice(0, 200)}…` : id, reason: 'unauthorized' });
      throw unauthorized();
    }
    if (!isJsonContentType(req)) {
      throw new KipError('UNSUPPORTED_MEDIA_TYPE', 'send the body as JSON with Content-Type: application/json');
    }
    const body = parseWebhookBody(Buffer.isBuffer(req.body) ? req.body : undefined);
    if (app.source === 'git') {
      if (body.image) {
        throw new KipError('GIT_APP_IMAGE', `${app.id} is a git-source app: post {"commit": "<sha>"} without an image`, { app: app.id });
      }
      throw new KipError('INVALID_BODY', `git-source apps are not supported by this version yet`, { app: app.id });
    }
    if (!body.image) {
      throw new KipError('INVALID_IMAGE', 'image: is required for an image app, e.g. {"image": "registry.example.com/api:abc123f"}', {
        fields: { image: 'is required' },
      });
    }
    const started = Date.now();
    const result = await bridge.deployImage(app, body.image, body.commit, 'webhook');
    log.info(result.status === 'deployed' ? 'deployed' : 'deploy unchanged', {
      app: app.id,
      image: result.image,
      revision: result.revision,
      configCommit: result.configCommit,
      durationMs: Date.now() - started,
    });
    res.status(200).json(result);
  });

  router.all('/api/v1/webhook/:namespace/:app', () => {
    throw new KipError('METHOD_NOT_ALLOWED', 'use POST with a JSON body');
  });
  return router;
}
