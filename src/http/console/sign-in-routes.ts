import express, { type Router } from 'express';
import { safeEqual } from '../../config/tokens.js';
import type { Bridge } from '../../deploys/open-bridge.js';
import { cookiesOf, safeNext, type ConsoleAuth } from './console-auth.js';
import type { ConsoleOptions } from './console-context.js';
import { IDLE_SECONDS, SESSION_COOKIE, SIGN_IN_COOKIE, type Session } from './session.js';
import { KipError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { sendPage } from './console-context.js';
import { landingPage } from './pages.js';
import { PENDING_COOKIE, PENDING_SECONDS } from './sso-session.js';

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
    if (!nonce || !sessions.checkCsrf({ nonce }, body._csrf))
      return signIn(req, res, { error: 'The sign-in form expired: try again.', status: 403, next });
    const token = typeof body.token === 'string' ? body.token.trim() : '';
    if (!safeEqual(token, bridge.adminToken)) {
      const address = req.ip ?? 'unknown';
      if (opts.limiter.fail(address)) {
        res.setHeader('Retry-After', String(opts.limiter.retryAfter(address)));
        return signIn(req, res, {
          error: 'Too many failed sign-ins from this address: wait a minute.',
          status: 429,
          next,
        });
      }
      return signIn(req, res, { error: 'That is not the admin token.', status: 401, next });
    }
    res.clearCookie(SIGN_IN_COOKIE, { path: '/' });
    res.cookie(SESSION_COOKIE, sessions.create().cookie, cookieOptions(req, IDLE_SECONDS));
    // A same-site navigation from our own form: the SameSite=Strict cookie goes with it.
    res.redirect(303, safeNext(next));
  });

  router.post('/sign-out', form, signedIn, async (req, res) => {
    const session = res.locals.session as Session;
    sessions.revoke(session);
    res.clearCookie(SESSION_COOKIE, { path: '/' });
    if (!auth.sso || !opts.sso || !session.person) return res.redirect(303, '/');
    // Everywhere: the provider revokes the session's tokens, so every replica's next check
    // of this cookie fails (sso-session.ts); then the provider's own session ends too, or
    // "Sign in with …" would sign the next person at this browser straight back in.
    const endSession = await auth.sso.client
      .signOut(auth.sso.tokensOf(session), `${opts.sso.publicUrl}/`)
      .catch(() => null);
    res.redirect(303, endSession?.href ?? '/');
  });

  ssoRoutes(router, opts, auth);
}

/**
 * Single sign-on (authorization code + PKCE): `GET /auth/login?next=` sends the browser to
 * the provider, `GET /auth/callback` signs it in; `GET /auth/oidc` tells `kip login` which
 * provider and client to use.
 */
function ssoRoutes(router: Router, opts: ConsoleOptions, auth: ConsoleAuth): void {
  const { sessions, cookieOptions } = auth;
  router.get('/auth/oidc', (_req, res) => {
    if (!opts.sso)
      throw new KipError(
        'NOT_FOUND',
        'single sign-on is not configured on this bridge (KIPPER_OIDC_ISSUER): use the admin token',
      );
    res.json({ issuer: opts.sso.client.sso.issuer, clientId: opts.sso.client.sso.clientId });
  });
  router.get('/auth/login', async (req, res) => {
    const sso = auth.sso;
    if (!sso) throw new KipError('NOT_FOUND', 'single sign-on is not configured on this bridge (KIPPER_OIDC_ISSUER)');
    let started;
    try {
      started = await sso.client.start(safeNext(req.query.next));
    } catch {
      return auth.signIn(req, res, {
        status: 503,
        error: `${sso.client.label} cannot be reached: try again, or use the admin token.`,
        next: safeNext(req.query.next),
      });
    }
    // Lax, not Strict: it must come back with the provider's redirect, a cross-site navigation.
    res.cookie(PENDING_COOKIE, sso.sealPending(started.pending), {
      ...cookieOptions(req, PENDING_SECONDS),
      sameSite: 'lax',
      path: '/auth/',
    });
    res.redirect(303, started.url.href);
  });
  router.get('/auth/callback', async (req, res) => {
    const sso = auth.sso;
    if (!sso || !opts.sso)
      throw new KipError('NOT_FOUND', 'single sign-on is not configured on this bridge (KIPPER_OIDC_ISSUER)');
    const pending = sso.openPending(cookiesOf(req)[PENDING_COOKIE]);
    res.clearCookie(PENDING_COOKIE, { path: '/auth/' });
    if (!pending)
      return auth.signIn(req, res, { status: 400, error: 'That sign-in expired or was started elsewhere: try again.' });
    let signedIn;
    try {
      // The URL the provider sent the browser to, on the callback URL it was registered with.
      const current = new URL(req.originalUrl, opts.sso.publicUrl);
      signedIn = await sso.client.finish(current, pending);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      (res.locals.log as Logger | undefined)?.warn('single sign-on failed', { reason: why });
      return auth.signIn(req, res, {
        status: 401,
        error: `Signing in with ${sso.client.label} failed: try again.`,
        next: pending.next,
      });
    }
    const { cookie } = sessions.create(Date.now(), { person: signedIn.person, op: sso.sealTokens(signedIn.tokens) });
    res.cookie(SESSION_COOKIE, cookie, cookieOptions(req, IDLE_SECONDS));
    // Not a redirect: this answer ends a cross-site chain (provider → here), in which the
    // browser withholds the new SameSite=Strict cookie. A page of ours that navigates on
    // is a same-site navigation, which sends it.
    sendPage(res, landingPage(pending.next));
  });
}
