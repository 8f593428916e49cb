import express, { type Router } from 'express';
import { safeEqual } from '../../config/tokens.js';
import type { Bridge } from '../../deploys/open-bridge.js';
import { cookiesOf, type ConsoleAuth } from './console-auth.js';
import type { ConsoleOptions } from './console-context.js';
import { IDLE_SECONDS, SESSION_COOKIE, SIGN_IN_COOKIE, type Session } from './session.js';

/** `POST /sign-in` (the admin token for a session cookie) and `POST /sign-out`. */
export function signInRoutes(router: Router, bridge: Bridge, opts: ConsoleOptions, auth: ConsoleAuth): void {
  const form = express.urlencoded({ extended: false, limit: '16kb' });
  const { sessions, signIn, signedIn, cookieOptions } = auth;

  router.post('/sign-in', form, (req, res) => {
    const body = req.body as Record<string, unknown>;
    const nonce = cookiesOf(req)[SIGN_IN_COOKIE];
    if (!nonce || !sessions.checkCsrf({ nonce }, body._csrf)) return signIn(req, res, 'The sign-in form expired: try again.', 403);
    const token = typeof body.token === 'string' ? body.token.trim() : '';
    if (!safeEqual(token, bridge.adminToken)) {
      const address = req.ip ?? 'unknown';
      if (opts.limiter.fail(address)) {
        res.setHeader('Retry-After', String(opts.limiter.retryAfter(address)));
        return signIn(req, res, 'Too many failed sign-ins from this address: wait a minute.', 429);
      }
      return signIn(req, res, 'That is not the admin token.', 401);
    }
    res.clearCookie(SIGN_IN_COOKIE, { path: '/' });
    res.cookie(SESSION_COOKIE, sessions.create().cookie, cookieOptions(req, IDLE_SECONDS));
    res.redirect(303, '/');
  });

  router.post('/sign-out', form, signedIn, (req, res) => {
    sessions.revoke(res.locals.session as Session);
    res.clearCookie(SESSION_COOKIE, { path: '/' });
    res.redirect(303, '/');
  });
}
