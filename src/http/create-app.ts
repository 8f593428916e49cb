import express, { type Express } from 'express';
import type { Bridge } from '../deploys/bridge.js';
import { KipError } from '../errors.js';
import type { Logger } from '../log.js';
import { webhookRouter } from '../webhooks/webhook-route.js';
import { adminRouter } from './admin-routes.js';
import { errorMiddleware } from './error-middleware.js';
import { gitRoute } from './git-route.js';
import { requestId } from './request-id.js';

/** The bridge's HTTP app: webhook, admin API, health. */
export function createApp(bridge: Bridge, log: Logger, webhookUrl: (id: string) => string): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.use(requestId(log));
  app.get('/readyz', async (_req, res) => {
    // Ready means: the config repo answered lately (checked now when the last look is
    // older than a couple of seconds) and the write queue is moving.
    await bridge.refreshQuietly(2_000);
    const problem = bridge.unreadyReason();
    if (problem) {
      res.status(503).json({ status: 'unready', error: problem, code: 'REPO_UNAVAILABLE' });
      return;
    }
    res.json({ status: 'ready', head: bridge.queue.head });
  });
  app.get('/metrics', async (_req, res) => {
    res.setHeader('Content-Type', bridge.metrics.registry.contentType);
    res.send(await bridge.metrics.registry.metrics());
  });
  if (bridge.embedded) app.use('/git/config.git', gitRoute(bridge.settings.dataDir));
  app.use(webhookRouter(bridge, log));
  app.use(adminRouter(bridge, webhookUrl));
  app.use(() => {
    throw new KipError('NOT_FOUND', 'no such route; see the README for the API');
  });
  app.use(errorMiddleware(log));
  return app;
}
