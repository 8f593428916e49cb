import express, { type Express } from 'express';
import type { Bridge } from '../deploys/bridge.js';
import { KipError } from '../errors.js';
import type { Logger } from '../log.js';
import { webhookRouter } from '../webhooks/webhook-route.js';
import { adminRouter } from './admin-routes.js';
import { errorMiddleware } from './error-middleware.js';

/** The bridge's HTTP app: webhook, admin API, health. */
export function createApp(bridge: Bridge, log: Logger, webhookUrl: (id: string) => string): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    const err = bridge.queue.lastError;
    if (!bridge.queue.hasHead || err) {
      res.status(503).json({ status: 'unready', error: err?.message ?? 'the config repo has not been fetched yet', code: 'REPO_UNAVAILABLE' });
      return;
    }
    res.json({ status: 'ready', head: bridge.queue.head });
  });
  app.use(webhookRouter(bridge, log));
  app.use(adminRouter(bridge, webhookUrl));
  app.use(() => {
    throw new KipError('NOT_FOUND', 'no such route; see the README for the API');
  });
  app.use(errorMiddleware(log));
  return app;
}
