import express, { type Router } from 'express';
import { appNotFound, type Bridge } from '../deploys/bridge.js';
import type { AppConfig } from '../config/kipper-file.js';
import { KipError } from '../errors.js';
import { adminAuth } from './admin-auth.js';

/** The admin API under `/api/v1/apps` (DESIGN.md "Admin API and CLI"). */
export function adminRouter(bridge: Bridge, webhookUrl: (id: string) => string): Router {
  const router = express.Router();
  router.use('/api/v1/apps', adminAuth(bridge.adminToken), express.json({ limit: '64kb' }));

  const appOf = async (ns: string, name: string): Promise<AppConfig> => {
    const id = `${ns}/${name}`;
    const app = await bridge.findApp(id);
    if (!app) throw appNotFound(id);
    return app;
  };

  router.get('/api/v1/apps', async (_req, res) => {
    const config = bridge.currentConfig();
    const apps = await Promise.all(
      [...config.apps.values()].map(async (a) => {
        const revisions = await bridge.revisions(a.id);
        const current = revisions.at(-1);
        return {
          app: a.id,
          namespace: a.namespace,
          name: a.name,
          source: a.source,
          files: a.files,
          image: current?.image ?? null,
          revision: current?.revision ?? null,
          webhook: config.webhooks.has(a.id),
        };
      }),
    );
    res.json({ apps });
  });

  const webhookState = (id: string) => {
    const token = bridge.webhookToken(id);
    return token === null ? { enabled: false } : { enabled: true, url: webhookUrl(id), token };
  };

  router.get('/api/v1/apps/:namespace/:app/webhook', async (req, res) => {
    const app = await appOf(req.params.namespace, req.params.app);
    res.json(webhookState(app.id));
  });
  router.post('/api/v1/apps/:namespace/:app/webhook', async (req, res) => {
    const app = await appOf(req.params.namespace, req.params.app);
    await bridge.setWebhook(app.id, true);
    res.json(webhookState(app.id));
  });
  router.delete('/api/v1/apps/:namespace/:app/webhook', async (req, res) => {
    const app = await appOf(req.params.namespace, req.params.app);
    await bridge.setWebhook(app.id, false);
    res.json({ enabled: false });
  });
  router.all('/api/v1/apps/:namespace/:app/webhook', () => {
    throw new KipError('METHOD_NOT_ALLOWED', 'use GET, POST or DELETE');
  });
  return router;
}
