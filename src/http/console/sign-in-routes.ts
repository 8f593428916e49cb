import express, { type Router } from 'express';
import { safeEqual } from '../../config/tokens.js';
import type { Bridge } from '../../deploys/open-bridge.js';
import { cookiesOf, safeNext, type ConsoleAuth } from './console-auth.js';
import type { ConsoleOptions } from './console-context.js';
import { IDLE_SECONDS, SESSION_COOKIE, SIGN_IN_COOKIE, type Session } from './session.js';

/** `GET|POST /sign-in` (the admin token for a session cookie, then the page asked for) and `POST /sign-out`. */
export function signInRoutes(router: Router, bridge: Bridge, opts: ConsoleOptions, auth: ConsoleAuth): void {
  const form = express.urlencoded({ extended: false, limit: '16kb' });
  const { sessions, signIn, signedIn, cookieOptions } = auth;

  /** `?next=`: where to land (a link from a page whose session ended, e.g. in the rollback dialog). */
  router.get('/sign-in', (req, res) => {
    if (auth.sessionOf(req)) return res.redirect(303, safeNext(req.query.next));
    signIn(req, res, { next: typeof req.query.next === 'string' ? req.query.next : undefined });
  });

  router.post('/sign-in', form, (req, res) => {
    const body = req.body as Record<string, unknown>;
    const next = typeof body.next === 'string' ? body.next : undefined;
    const nonce = cookiesOf(req)[SIGN_IN_COOKIE];
    if (!nonce || !sessions.checkCsrf({ nonce }, body._csrf)) return signIn(req, res, { error: 'The sign-in form expired: try again.', status: 403, next });
    const token = typeof body.token === 'string' ? body.token.trim() : '';
    if (!safeEqual(token, bridge.adminToken)) {
      const address = req.ip ?? 'unknown';
      if (opts.limiter.fail(address)) {
        res.setHeader('Retry-After', String(opts.limiter.retryAfter(address)));
        return signIn(req, res, { error: 'Too many failed sign-ins from this address: wait a minute.', status: 429, next });
      }
      return signIn(req, res, { error: 'That is not the admin token.', status: 401, next });
    }
    res.clearCookie(SIGN_IN_COOKIE, { path: '/' });
    res.cookie(SESSION_COOKIE, sessions.create().cookie, cookieOptions(req, IDLE_SECONDS));
    // A same-site navigation from our own form: the SameSite=Strict cookie goes with it.
    res.redirect(303, safeNext(next));
  });

  router.post('/sign-out', form, signedIn, (req, res) => {
    sessions.revoke(res.locals.session as Session);
    res.clearCookie(SESSION_COOKIE, { path: '/' });
    res.redirect(303, '/');
  });
}
