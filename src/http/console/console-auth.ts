import { parse } from 'cookie';
import type { CookieOptions, Request, RequestHandler, Response } from 'express';
import { KipError } from '../../errors.js';
import { sendPage, wantsJson } from './console-context.js';
import { signInPage } from './pages.js';
import {
  ABSOLUTE_SECONDS,
  ConsoleSessions,
  FLASH_COOKIE,
  FLASH_SECONDS,
  IDLE_SECONDS,
  SESSION_COOKIE,
  SIGN_IN_COOKIE,
  type Session,
} from './session.js';
import type { SsoClient } from '../../identity/sso-client.js';
import type { Principal } from '../../identity/principal.js';
import { ADMIN_ACTOR } from '../request-actor.js';
import { SsoSessions } from './sso-session.js';

/** Sessions and CSRF for the console's routes: who is signed in, and the sign-in page for who is not. */
export interface ConsoleAuth {
  sessions: ConsoleSessions;
  /** Single sign-on, when KIPPER_OIDC_ISSUER is set. */
  sso: SsoSessions | undefined;
  /** The request's session, if its cookie carries a live one. */
  sessionOf(req: Request): Session | null;
  /** The sign-in page, with a fresh nonce cookie for its CSRF token; `next`: where signing in lands. */
  signIn(req: Request, res: Response, opts?: { error?: string; status?: number; next?: string }): void;
  /** Pages and actions need a session; a POST also its CSRF token. Nothing is written without both. */
  signedIn: RequestHandler;
  cookieOptions(req: Request, maxAgeSeconds: number): CookieOptions;
  /** Sets a one-time message for the next page of this session (after a form POST, before its redirect). */
  setFlash(req: Request, res: Response, text: string): void;
  /** The one-time message set for this page, if any; it is cleared as it is read. */
  takeFlash(req: Request, res: Response): string | undefined;
}

/** Who a session is: the person signed in through the provider, or the admin token's `admin`. */
export function principalOfSession(session: Session): Principal {
  return session.person ?? { kind: 'admin', actor: ADMIN_ACTOR };
}

/** The console's session and CSRF middleware, keyed by `sessionKey`; `ssoClient`: single sign-on, when configured. */
export function consoleAuth(sessionKey: Buffer, ssoClient?: SsoClient): ConsoleAuth {
  const sessions = new ConsoleSessions(sessionKey);
  const sso = ssoClient ? new SsoSessions(ssoClient, sessions, sessionKey) : undefined;
  const cookieOptions = (req: Request, maxAgeSeconds: number): CookieOptions => ({
    httpOnly: true,
    sameSite: 'strict',
    secure: req.secure,
    path: '/',
    maxAge: maxAgeSeconds * 1000,
  });
  const sessionOf = (req: Request): Session | null => sessions.open(cookiesOf(req)[SESSION_COOKIE]);

  const signIn: ConsoleAuth['signIn'] = (req, res, { error, status = 200, next } = {}) => {
    const nonce = sessions.nonce();
    res.cookie(SIGN_IN_COOKIE, nonce, cookieOptions(req, 3600));
    sendPage(
      res,
      signInPage({
        csrf: sessions.csrf({ nonce }),
        error,
        next: safeNext(next),
        now: Date.now(),
        sso: sso?.client.label,
      }),
      status,
    );
  };

  const signedIn: RequestHandler = (req, res, next) => {
    const session = sessionOf(req);
    const signedOut = () => {
      // The page asked for is where signing in lands (issue 18).
      if (req.method === 'GET' && !wantsJson(req)) return signIn(req, res, { status: 401, next: req.originalUrl });
      return next(
        new KipError('ADMIN_UNAUTHORIZED', 'sign in to the console first (your session ended or never began)'),
      );
    };
    if (!session || (session.person !== undefined && !sso)) return signedOut();
    if (
      req.method === 'POST' &&
      !sessions.checkCsrf(
        session,
        (req.body as Record<string, unknown> | undefined)?._csrf ?? req.headers['x-csrf-token'],
      )
    ) {
      return next(
        new KipError('CSRF_INVALID', 'the form is stale or came from elsewhere: reload the page and try again'),
      );
    }
    // The cookie lives no longer than the session may (idle or absolute, whichever ends first).
    const cookieFor = (s: Session) =>
      cookieOptions(
        req,
        Math.max(Math.min(IDLE_SECONDS, s.born + ABSOLUTE_SECONDS - Math.floor(Date.now() / 1000)), 0),
      );
    const proceed = (s: Session) => {
      res.locals.session = s;
      res.locals.csrf = sessions.csrf(s);
      res.locals.principal = principalOfSession(s);
      next();
    };
    if (sso?.due(session)) {
      // The provider's word is old: ask again (a sign-out on another replica revoked it there).
      sso.recheck(session).then(
        (checked) => {
          if (!checked) {
            res.clearCookie(SESSION_COOKIE, { path: '/' });
            return signedOut();
          }
          res.cookie(SESSION_COOKIE, checked.cookie, cookieFor(checked.session));
          proceed(checked.session);
        },
        (err: unknown) => next(err),
      );
      return;
    }
    const refreshed = sessions.refresh(session);
    if (refreshed) res.cookie(SESSION_COOKIE, refreshed, cookieFor(session));
    proceed(session);
  };

  const setFlash: ConsoleAuth['setFlash'] = (req, res, text) => {
    res.cookie(FLASH_COOKIE, sessions.flash(res.locals.session as Session, text), cookieOptions(req, FLASH_SECONDS));
  };
  const takeFlash: ConsoleAuth['takeFlash'] = (req, res) => {
    const cookie = cookiesOf(req)[FLASH_COOKIE];
    if (cookie === undefined) return undefined;
    res.clearCookie(FLASH_COOKIE, { path: '/' });
    return sessions.readFlash(res.locals.session as Session, cookie);
  };

  return { sessions, sso, sessionOf, signIn, signedIn, cookieOptions, setFlash, takeFlash };
}

/**
 * The request's cookies by name, parsed by the `cookie` package. A name sent twice with
 * different values is left out: which one the browser lists first depends on paths and
 * creation times, so neither can be trusted (a cookie planted for a narrower path or a
 * parent domain must not win over ours, nor ours over it).
 */
export function cookiesOf(req: Request): Record<string, string> {
  const values = new Map<string, Set<string>>();
  // One pair at a time: `parse` of the whole header would silently keep only one of two.
  for (const pair of (req.headers.cookie ?? '').split(';')) {
    for (const [name, value] of Object.entries(parse(pair))) {
      if (value !== undefined) values.set(name, (values.get(name) ?? new Set<string>()).add(value));
    }
  }
  const out: Record<string, string> = {};
  for (const [name, set] of values) if (set.size === 1) out[name] = [...set][0]!;
  return out;
}

/**
 * Where signing in may land: a path of this console (`/apps/ns/app?tab=…`), never another
 * origin (`//evil.example`, `/\evil.example`, `https://…`): anything else is `/`.
 */
export function safeNext(raw: unknown): string {
  if (typeof raw !== 'string' || raw.length > 2048 || !raw.startsWith('/') || raw.startsWith('//')) return '/';
  // eslint-disable-next-line no-control-regex
  if (/[\\\u0000-\u001f\u007f]/.test(raw)) return '/';
  const base = 'http://console.invalid';
  const url = new URL(raw, base);
  if (url.origin !== base || url.pathname.startsWith('/sign-')) return '/';
  return `${url.pathname}${url.search}`;
}
