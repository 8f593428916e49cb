import type { Router } from 'express';
import type { Bridge } from '../../deploys/open-bridge.js';
import { currentRevisionJson } from '../../history/history-json.js';
import { appHistory } from '../app-history.js';
import { appsPage, type AppListing } from './app-pages.js';
import type { ConsoleAuth } from './console-auth.js';
import { appOf, page, sendPage, type ConsoleOptions } from './console-context.js';
import { deployRows, PAGE_ROWS } from './deploys-tab.js';
import { lockControls, lockKey, type AppTab } from './lock-controls.js';
import { deploysView, mayChange, webhookView } from './tab-views.js';
import { maySee } from '../../identity/app-access.js';
import type { Principal } from '../../identity/principal.js';

/** The console's pages: Apps, an app's Deploys and Webhook tabs, and the fragments console.js fetches. */
export function appRoutes(router: Router, bridge: Bridge, opts: ConsoleOptions, auth: ConsoleAuth): void {
  const { signedIn } = auth;

  // Signed out, `/` is the sign-in page itself (200): it is where everyone starts.
  router.get(
    '/',
    (req, res, next) => (auth.sessionOf(req) ? next() : auth.signIn(req, res)),
    signedIn,
    async (req, res) => {
      const config = bridge.config.known();
      // Only what the signed-in person's `access:` rules let them see.
      const who = res.locals.principal as Principal;
      const apps: AppListing[] = await Promise.all(
        [...config.apps.values()]
          .filter((app) => maySee(bridge, who, app))
          .map(async (app) => ({
            app,
            current: currentRevisionJson(await bridge.history.revisions(app.id)),
            webhook: config.webhooks.has(app.id),
            lock: config.locks.get(app.id) ?? null,
          })),
      );
      sendPage(
        res,
        appsPage(apps, typeof req.query.q === 'string' ? req.query.q : '', {
          csrf: res.locals.csrf as string,
          now: Date.now(),
        }),
      );
    },
  );

  router.get(
    '/apps/:namespace/:app',
    signedIn,
    page(async (req, res) =>
      deploysView(bridge, opts, req, res, await appOf(bridge, req), { status: auth.takeFlash(req, res) }),
    ),
  );

  router.get(
    '/apps/:namespace/:app/webhook',
    signedIn,
    page(async (req, res) =>
      webhookView(bridge, opts, res, await appOf(bridge, req), undefined, { status: auth.takeFlash(req, res) }),
    ),
  );

  /** Rows for the live view and "Show older": the tbody's HTML and the next cursor. */
  router.get('/apps/:namespace/:app/rows', signedIn, async (req, res) => {
    const app = await appOf(bridge, req);
    const { revisions } = await appHistory(bridge, app);
    const before = Number(req.query.before);
    const rows = (
      Number.isInteger(before) && before > 0 ? revisions.filter((r) => r.revision < before) : revisions
    ).slice(0, PAGE_ROWS);
    const html = deployRows({
      app,
      rows,
      current: revisions[0],
      commitUrl: opts.commitUrl,
      now: Date.now(),
      readOnly: !mayChange(bridge, res, app),
    });
    const last = rows.at(-1);
    res.json({
      html: html.toString(),
      older: last && last.revision > 1 ? last.revision : null,
      current: revisions[0]?.revision ?? null,
    });
  });

  /** The lock region's content for console.js: after a lock or unlock, and on an SSE `lock`. */
  router.get('/apps/:namespace/:app/lock', signedIn, async (req, res) => {
    const app = await appOf(bridge, req);
    const lock = bridge.locks.of(app.id);
    const tab: AppTab = req.query.tab === 'webhook' ? 'webhook' : 'deploys';
    const content = mayChange(bridge, res, app)
      ? lockControls({ app, lock, csrf: res.locals.csrf as string, tab, now: Date.now() })
      : '';
    res.json({ locked: lock !== null, key: lockKey(lock), html: content.toString() });
  });
}
