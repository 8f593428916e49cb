import express, { type Router } from 'express';
import type { Bridge } from '../../deploys/open-bridge.js';
import { actionRoutes } from './action-routes.js';
import { appEvents } from './app-events.js';
import { appRoutes } from './app-routes.js';
import { consoleAuth } from './console-auth.js';
import type { ConsoleOptions } from './console-context.js';
import { signInRoutes } from './sign-in-routes.js';
import { webhookRoutes } from './webhook-routes.js';

export type { ConsoleOptions } from './console-context.js';

/**
 * Served on every console response: scripts and styles only from the bridge itself, no
 * inline script, never framed, no referrer to other sites.
 */
const SECURITY_HEADERS = {
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'Referrer-Policy': 'same-origin',
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Cache-Control': 'no-store',
};

/**
 * The web console (docs/design.md "Console"): HTML rendered here, one CSS file, one small
 * ES module. One file per concern: sessions and CSRF (console-auth), sign-in, pages,
 * live events, actions, the Webhook tab's actions.
 */
export function consoleRouter(bridge: Bridge, opts: ConsoleOptions): Router {
  const router = express.Router();
  // Chromium applies form-action to a form's redirects too: signing in and out with SSO
  // (forms whose answer redirects to the provider) need the provider's origin there.
  const issuer = opts.sso ? new URL(opts.sso.client.sso.issuer).origin : undefined;
  const headers = issuer
    ? {
        ...SECURITY_HEADERS,
        'Content-Security-Policy': SECURITY_HEADERS['Content-Security-Policy'].replace(
          "form-action 'self'",
          `form-action 'self' ${issuer}`,
        ),
      }
    : SECURITY_HEADERS;
  router.use((req, res, next) => {
    if (isConsolePath(req.path)) res.set(headers);
    next();
  });
  const auth = consoleAuth(opts.sessionKey, opts.sso?.client);
  signInRoutes(router, bridge, opts, auth);
  appRoutes(router, bridge, opts, auth);
  appEvents(router, bridge, auth);
  actionRoutes(router, bridge, opts, auth);
  webhookRoutes(router, bridge, opts, auth);
  return router;
}

/** The console's own paths (the API, /git and the probes keep their headers). */
function isConsolePath(path: string): boolean {
  return (
    path === '/' ||
    path === '/sign-in' ||
    path === '/sign-out' ||
    path.startsWith('/apps/') ||
    path.startsWith('/console/') ||
    path.startsWith('/auth/')
  );
}
