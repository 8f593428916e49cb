import type { CookieOptions, Request, RequestHandler, Response } from 'express';
import { KipError } from '../../errors.js';
import { sendPage, wantsJson } from './console-context.js';
import { signInPage } from './pages.js';
import { ConsoleSessions, SESSION_COOKIE, SIGN_IN_COOKIE, IDLE_SECONDS, type Session } from './session.js';

/** Sessions and CSRF for the console's routes: who is signed in, and the sign-in page for who is not. */
export interface ConsoleAuth {
  sessions: ConsoleSessions;
  /** The request's session, if its cookie carries a live one. */
  sessionOf(req: Request): Session | null;
  /** The sign-in page, with a fresh nonce cookie for its CSRF token. */
  signIn(req: Request, res: Response, error?: string, status?: number): void;
  /** Pages and actions need a session; a POST also its CSRF token. Nothing is written without both. */
  signedIn: RequestHandler;
  cookieOptions(req: Request, maxAgeSeconds: number): CookieOptions;
}

/** The console's session and CSRF middleware, keyed by `sessionKey`. */
export function consoleAuth(sessionKey: Buffer): ConsoleAuth {
  const sessions = new ConsoleSessions(sessionKey);
  const cookieOptions = (req: Request, maxAgeSeconds: number): CookieOptions => ({
    httpOnly: true,
    sameSite: 'strict',
    secure: req.secure,
    path: '/',
    maxAge: maxAgeSeconds * 1000,
  });
  const sessionOf = (req: Request): Session | null => sessions.open(cookiesOf(req)[SESSION_COOKIE]);

  const signIn = (req: Request, res: Response, error?: string, status = 200) => {
    const nonce = sessions.nonce();
    res.cookie(SIGN_IN_COOKIE, nonce, cookieOptions(req, 3600));
    sendPage(res, signInPage(sessions.csrf({ nonce }), error, Date.now()), status);
  };

  const signedIn: RequestHandler = (req, res, next) => {
    const session = sessionOf(req);
    if (!session) {
      if (req.method === 'GET' && !wantsJson(req)) return signIn(req, res, undefined, 401);
      return next(new KipError('ADMIN_UNAUTHORIZED', 'sign in to the console first (your session ended or never began)'));
    }
    if (req.method === 'POST' && !sessions.checkCsrf(session, (req.body as Record<string, unknown> | undefined)?._csrf ?? req.headers['x-csrf-token'])) {
      return next(new KipError('CSRF_INVALID', 'the form is stale or came from elsewhere: reload the page and try again'));
    }
    const refreshed = sessions.refresh(session);
    if (refreshed) res.cookie(SESSION_COOKIE, refreshed, cookieOptions(req, IDLE_SECONDS));
    res.locals.session = session;
    res.locals.csrf = sessions.csrf(session);
    next();
  };

  return { sessions, sessionOf, signIn, signedIn, cookieOptions };
}

/** The request's cookies by name (no dependency for four lines of RFC 6265 parsing). */
export function cookiesOf(req: Request): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    try {
      out[part.slice(0, eq).trim()] = decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      // A cookie that is not ours and not well-formed: ignored, like an absent one.
    }
  }
  return out;
}
