import express, { type Router } from 'express';
import type { Bridge } from '../../deploys/open-bridge.js';
import type { ConsoleAuth } from './console-auth.js';
import { appOf, sendPage, wantsJson, type ConsoleOptions } from './console-context.js';
import { webhookView } from './tab-views.js';
import { whoOf } from './console-action.js';

/** The Webhook tab's actions: enable or regenerate (the new token shown in this answer, once, never in a URL), disable. */
export function webhookRoutes(router: Router, bridge: Bridge, opts: ConsoleOptions, auth: ConsoleAuth): void {
  const form = express.urlencoded({ extended: false, limit: '16kb' });

  router.post('/apps/:namespace/:app/webhook', form, auth.signedIn, async (req, res) => {
    const app = await appOf(bridge, req, 'write');
    const token = await bridge.webhooks.set(app.id, true, whoOf(req).actor);
    if (wantsJson(req)) return res.json({ enabled: true, url: opts.webhookUrl(app.id), token });
    sendPage(
      res,
      webhookView(bridge, opts, res, app, token ?? undefined, {
        status: 'A new token was made: the old one no longer works.',
      }),
    );
  });

  router.post('/apps/:namespace/:app/webhook/disable', form, auth.signedIn, async (req, res) => {
    const app = await appOf(bridge, req, 'write');
    await bridge.webhooks.set(app.id, false, whoOf(req).actor);
    if (wantsJson(req)) return res.json({ enabled: false });
    sendPage(res, webhookView(bridge, opts, res, app, undefined, { status: 'Webhook disabled.' }));
  });
}
