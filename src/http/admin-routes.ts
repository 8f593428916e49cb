import express, { type Router } from 'express';
import { appNotFound, type Bridge } from '../deploys/bridge.js';
import type { AppConfig } from '../config/kipper-file.js';
import { KipError } from '../errors.js';
import type { Revision } from '../history/revision-index.js';
import { undoneRevisions } from '../history/undone.js';
import { deployRequestFor, validateDeployBody } from '../deploys/deploy-request.js';
import { z } from 'zod';
import { adminAuth } from './admin-auth.js';

const rollbackBody = z.object({ revision: z.number().int().positive().optional() }).strict();
const promoteBody = z
  .object({ to: z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, 'must be the target namespace, e.g. yourr-name-prod') })
  .strict();

/** Validate an admin request body with `schema`, reporting every field as `path: message`. */
function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body ?? {});
  if (parsed.success) return parsed.data;
  const fields = Object.fromEntries(parsed.error.issues.map((i) => [i.path.join('.') || 'body', i.message]));
  const message = Object.entries(fields)
    .map(([k, v]) => `${k}: ${v}`)
    .join('; ');
  throw new KipError('INVALID_BODY', message, { fields });
}

/** History as the API shows it: newest first, the newest marked current, undone ones marked. */
export function historyJson(revisions: Revision[]) {
  const undone = undoneRevisions(revisions);
  return revisions
    .map((r, i) => ({
      revision: r.revision,
      image: r.image,
      commit: r.commit,
      trigger: r.trigger,
      author: r.author,
      timestamp: r.timestamp,
      configCommit: r.configCommit,
      current: i === revisions.length - 1,
      undone: undone.has(r.revision),
    }))
    .reverse();
}

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
  router.get('/api/v1/apps/:namespace/:app/history', async (req, res) => {
    const app = await appOf(req.params.namespace, req.params.app);
    // A human's push a moment ago belongs in the answer.
    await bridge.refreshQuietly();
    const revisions = await bridge.revisions(app.id);
    res.json({ app: app.id, revisions: historyJson(revisions) });
  });

  router.post('/api/v1/apps/:namespace/:app/rollback', async (req, res) => {
    const app = await appOf(req.params.namespace, req.params.app);
    const body = parseBody(rollbackBody, req.body);
    res.json(await bridge.rollback(app, body.revision));
  });

  router.post('/api/v1/apps/:namespace/:app/deploy', async (req, res) => {
    const app = await appOf(req.params.namespace, req.params.app);
    const request = deployRequestFor(app, validateDeployBody(req.body ?? {}));
    res.json(await bridge.deploy(app, request, 'manual'));
  });

  router.post('/api/v1/apps/:namespace/:app/promote', async (req, res) => {
    const app = await appOf(req.params.namespace, req.params.app);
    const body = parseBody(promoteBody, req.body);
    res.json(await bridge.promote(app, body.to));
  });

  router.all('/api/v1/apps/:namespace/:app/webhook', () => {
    throw new KipError('METHOD_NOT_ALLOWED', 'use GET, POST or DELETE');
  });
  return router;
}
