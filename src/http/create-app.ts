import express, { type Express } from 'express';
import type { Bridge } from '../deploys/open-bridge.js';
import { KipError } from '../errors.js';
import type { Logger } from '../log.js';
import { adminRouter } from './admin-routes.js';
import { errorMiddleware } from './error-middleware.js';
import { gitRoute } from './git-route.js';
import { requestId } from './request-id.js';
import { webhookRouter } from './webhook-route.js';
import { consoleAssets } from './console/console-assets.js';
import { consoleRouter } from './console/console-routes.js';
import { acceptForwarded, forwardKeys, forwardWrites } from './forward-writes.js';
import { FailureLimiter } from '../webhooks/failure-limiter.js';
import { PersonTokens } from '../identity/person-tokens.js';
import { SsoClient } from '../identity/sso-client.js';

/** The bridge's HTTP app: webhook, admin API, console, health. */
export function createApp(bridge: Bridge, log: Logger, webhookUrl: (id: string) => string): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // X-Forwarded-For/-Proto only from proxies KIPPER_TRUST_PROXY names (req.ip, req.secure).
  app.set('trust proxy', bridge.settings.trustProxy);
  // One count of failed authorisations per address, for webhooks and console sign-ins.
  const limiter = new FailureLimiter();
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.use(requestId(log));
  // After SIGTERM the server takes no new connections, but a kept-alive one may still
  // send a request: it must not start a write that would race the exit.
  app.use('/api', (_req, res, next) => {
    if (!bridge.status.closing) return next();
    res.setHeader('Connection', 'close');
    next(
      new KipError('SHUTTING_DOWN', 'the bridge is shutting down; retry in a moment (another replica may answer)', {
        retryAfter: 2,
      }),
    );
  });
  app.get('/readyz', async (_req, res) => {
    // A probe must answer at once whatever the remote does: state, refreshed when older
    // than 2 s by a look at the remote that it waits for only briefly.
    await bridge.status.freshState(2_000, 50);
    const problem = bridge.status.unready();
    // A declined push is policy: reads and the other apps' state still work, so the bridge
    // stays ready, and says why its writes fail.
    const declined = bridge.status.declined();
    const detail = declined ? { pushDeclined: declined } : {};
    if (problem) {
      res.status(503).json({ status: 'unready', error: problem.reason, code: problem.code, ...detail });
      return;
    }
    res.json({
      status: 'ready',
      head: bridge.head(),
      ...(bridge.repos.length > 1 ? { heads: bridge.heads() } : {}),
      ...detail,
    });
  });
  app.get('/metrics', async (_req, res) => {
    res.setHeader('Content-Type', bridge.metrics.registry.contentType);
    res.send(await bridge.metrics.registry.metrics());
  });
  if (bridge.embedded) app.use('/git/config.git', gitRoute(bridge.settings.dataDir));
  if (bridge.settings.lease) {
    // Replicas: a follower hands writes to the Lease holder, which checks they come from a replica.
    // KIPPER_SECRET_KEY is required with KIPPER_LEASE (settings.ts): every replica derives the same keys.
    const keys = forwardKeys(bridge.settings.secretKey ?? '');
    app.use(acceptForwarded(keys, log));
    app.use(forwardWrites(bridge, keys, log));
  }
  app.use(webhookRouter(bridge, log, limiter));
  const sso = bridge.settings.sso;
  // The public base URL, as webhook URLs print it: SSO's callback and sign-out come back there.
  const publicUrl = webhookUrl('_/_').replace(/\/api\/v1\/webhook\/_\/_$/, '');
  app.use(adminRouter(bridge, webhookUrl, sso ? new PersonTokens(sso) : undefined));
  const assets = consoleAssets();
  app.use('/console/assets', assets);
  // Browsers ask for it on every page: an icon, not a 404 in every log (issue 18).
  app.get('/favicon.ico', assets);
  app.use(
    consoleRouter(bridge, {
      webhookUrl,
      limiter,
      sessionKey: bridge.sessionKey,
      commitUrl: bridge.settings.commitUrl,
      sso: sso ? { client: new SsoClient(sso, `${publicUrl}/auth/callback`), publicUrl } : undefined,
    }),
  );
  app.use(() => {
    throw new KipError('NOT_FOUND', 'no such route; see the README for the API');
  });
  app.use(errorMiddleware(log));
  return app;
}
