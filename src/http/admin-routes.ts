import express, { type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import type { AppsAnswer, AppSummary, ProposalsAnswer, RevisionAnswer, WebhookState } from '../api-types.js';
import { reasonSchema, type AppConfig } from '../config/kipper-file.js';
import { deployRequestFor, validateDeployBody } from '../deploys/deploy-request.js';
import type { Bridge } from '../deploys/open-bridge.js';
import { appNotFound } from '../deploys/repo-config.js';
import { KipError } from '../errors.js';
import { firstImage } from '../history/app-value.js';
import { maySee, requireAccess } from '../identity/app-access.js';
import type { Need } from '../identity/access.js';
import type { PersonTokens } from '../identity/person-tokens.js';
import { actorOf, authorOf } from '../identity/principal.js';
import { adminAuth, principalOf } from './admin-auth.js';
import { appHistory } from './app-history.js';

/** Who did it, as the caller says (`kip` sends the git user): shown with a lock. */
const bySchema = z
  .string()
  .trim()
  .min(1)
  .max(200)
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  .refine((v) => !/[\u0000-\u001f\u007f]/.test(v), { message: 'must be one line' });
const rollbackBody = z
  .object({
    revision: z.number().int().positive().optional(),
    reason: reasonSchema.optional(),
    lock: z.boolean().optional(),
    by: bySchema.optional(),
    direct: z.boolean().optional(),
  })
  .strict();
const promoteBody = z
  .object({
    to: z
      .string()
      .regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, 'must be the target namespace, e.g. yourr-name-prod'),
    reason: reasonSchema.optional(),
    direct: z.boolean().optional(),
  })
  .strict();
const lockBody = z.object({ reason: reasonSchema, by: bySchema.optional() }).strict();
const unlockBody = z.object({ reason: reasonSchema.optional(), by: bySchema.optional() }).strict();
/** Who a lock names when the caller does not say. */
const ADMIN_API = 'admin API';

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

/** 202 for a proposal (pull-request mode: accepted, not yet in the branch), else 200. */
function statusOf(answer: { status: string }): number {
  return answer.status === 'proposed' ? 202 : 200;
}

/** The admin API under `/api/v1/apps` (docs/design.md "Admin API and CLI"). */
export function adminRouter(bridge: Bridge, webhookUrl: (id: string) => string, personTokens?: PersonTokens): Router {
  const router = express.Router();
  router.use('/api/v1/apps', adminAuth(bridge.adminToken, personTokens), express.json({ limit: '64kb' }));

  /** The app of a route, when the caller may do what is `need`ed with it (404 unseen, 403 FORBIDDEN for a role too weak). */
  const appFor = async (req: Request, res: Response, need: Need): Promise<AppConfig> => {
    const id = `${req.params.namespace}/${req.params.app}`;
    const app = await bridge.config.findApp(id);
    if (!app) throw appNotFound(id);
    requireAccess(bridge, principalOf(res), app, need);
    return app;
  };
  /** Who did it: the `Kipper-Actor`, and a verified person as the commit's author. */
  const whoOf = (res: Response) => {
    const who = principalOf(res);
    return { actor: actorOf(who), author: authorOf(who) };
  };

  router.get('/api/v1/apps', async (_req, res) => {
    const apps: AppSummary[] = [];
    const who = principalOf(res);
    for (const repo of bridge.repos) {
      const config = bridge.repos.length === 1 ? repo.config.get() : repo.config.known();
      for (const a of config.apps.values()) {
        if (!maySee(bridge, who, a)) continue;
        const current = (await repo.history.revisions(a.id)).at(-1);
        const images = current && 'images' in current.value ? current.value.images : [];
        apps.push({
          app: a.id,
          repo: repo.name,
          namespace: a.namespace,
          name: a.name,
          source: a.source,
          files: a.files,
          image: current ? firstImage(current.value) : null,
          ...(images.length > 1 ? { images } : {}),
          revision: current?.revision ?? null,
          webhook: config.webhooks.has(a.id),
          lock: config.locks.get(a.id) ?? null,
        });
      }
    }
    res.json({ apps } satisfies AppsAnswer);
  });

  const webhookState = (id: string): WebhookState => {
    const token = bridge.webhooks.token(id);
    return token === null ? { enabled: false } : { enabled: true, url: webhookUrl(id), token };
  };

  router.get('/api/v1/apps/:namespace/:app/webhook', async (req, res) => {
    // The token deploys: reading it is a deployer's.
    const app = await appFor(req, res, 'write');
    res.json(webhookState(app.id));
  });
  router.post('/api/v1/apps/:namespace/:app/webhook', async (req, res) => {
    const app = await appFor(req, res, 'write');
    await bridge.webhooks.set(app.id, true, whoOf(res).actor);
    res.json(webhookState(app.id));
  });
  router.delete('/api/v1/apps/:namespace/:app/webhook', async (req, res) => {
    const app = await appFor(req, res, 'write');
    await bridge.webhooks.set(app.id, false, whoOf(res).actor);
    res.json({ enabled: false } satisfies WebhookState);
  });
  router.get('/api/v1/apps/:namespace/:app/history', async (req, res) => {
    const app = await appFor(req, res, 'read');
    // A human's push a moment ago belongs in the answer (a look at this app's repo only).
    await bridge.repoOf(app.id).status.refreshQuietly();
    res.json(await appHistory(bridge, app));
  });

  router.get('/api/v1/apps/:namespace/:app/revisions/:revision', async (req, res) => {
    const app = await appFor(req, res, 'read');
    // `kip app wait` asks every 2 s, as may hundreds of CI jobs: one look a second serves them all.
    await bridge.repoOf(app.id).status.freshState(1_000, 3_000);
    const history = await appHistory(bridge, app);
    const n = Number(req.params.revision);
    const revision = history.revisions.find((r) => r.revision === n);
    if (!revision) {
      throw new KipError(
        'REVISION_NOT_FOUND',
        `${app.id} has no revision #${req.params.revision}; see \`kip app history\``,
        { app: app.id },
      );
    }
    res.json({ app: app.id, ...revision, ...(history.drift ? { drift: history.drift } : {}) } satisfies RevisionAnswer);
  });

  router.post('/api/v1/apps/:namespace/:app/rollback', async (req, res) => {
    const app = await appFor(req, res, 'write');
    const body = parseBody(rollbackBody, req.body);
    const answer = await bridge.deploys.rollback(app, body.revision, {
      ...whoOf(res),
      reason: body.reason,
      direct: body.direct,
      ...(body.lock ? { lockBy: body.by ?? ADMIN_API } : {}),
    });
    res.status(statusOf(answer)).json(answer);
  });

  router.post('/api/v1/apps/:namespace/:app/deploy', async (req, res) => {
    const app = await appFor(req, res, 'write');
    // The webhook's body and rules (deploy-request.ts), plus a reason.
    const { reason: rawReason, direct: rawDirect, ...deployBody } = (req.body ?? {}) as Record<string, unknown>;
    const { reason, direct } = parseBody(
      z.object({ reason: reasonSchema.optional(), direct: z.boolean().optional() }),
      {
        reason: rawReason,
        direct: rawDirect,
      },
    );
    const request = deployRequestFor(app, validateDeployBody(deployBody));
    const answer = await bridge.deploys.deploy(app, request, 'manual', {
      ...whoOf(res),
      direct,
      extras: reason ? { trailers: { reason } } : {},
    });
    res.status(statusOf(answer)).json(answer);
  });

  router.post('/api/v1/apps/:namespace/:app/promote', async (req, res) => {
    const app = await appFor(req, res, 'read');
    const body = parseBody(promoteBody, req.body);
    // A promotion writes to the target: that is where the role must allow it.
    requireAccess(bridge, principalOf(res), { id: `${body.to}/${app.name}`, namespace: body.to }, 'write');
    const { actor, author } = whoOf(res);
    const answer = await bridge.deploys.promote(app, body.to, actor, body.reason, author, body.direct);
    res.status(statusOf(answer)).json(answer);
  });

  // Pull-request mode: the app's open proposal, at most one (docs/protected-branches.md).
  router.get('/api/v1/apps/:namespace/:app/proposals', async (req, res) => {
    const app = await appFor(req, res, 'read');
    const open = app.write === 'pull-request' ? await bridge.proposals.open(app) : null;
    const proposals: ProposalsAnswer['proposals'] = open
      ? [
          {
            number: open.proposal.number,
            url: open.proposal.url,
            image: open.image,
            commit: open.commit,
            state: 'open',
          },
        ]
      : [];
    res.json({ proposals } satisfies ProposalsAnswer);
  });

  router.post('/api/v1/apps/:namespace/:app/lock', async (req, res) => {
    const app = await appFor(req, res, 'write');
    const body = parseBody(lockBody, req.body);
    res.json(await bridge.locks.lock(app.id, body.reason, body.by ?? ADMIN_API, whoOf(res).actor));
  });
  router.delete('/api/v1/apps/:namespace/:app/lock', async (req, res) => {
    const app = await appFor(req, res, 'write');
    const body = parseBody(unlockBody, req.body);
    res.json(await bridge.locks.unlock(app.id, body.reason, body.by ?? ADMIN_API, whoOf(res).actor));
  });
  router.all('/api/v1/apps/:namespace/:app/lock', () => {
    throw new KipError('METHOD_NOT_ALLOWED', 'use POST (lock) or DELETE (unlock)');
  });

  router.all('/api/v1/apps/:namespace/:app/webhook', () => {
    throw new KipError('METHOD_NOT_ALLOWED', 'use GET, POST or DELETE');
  });
  return router;
}
