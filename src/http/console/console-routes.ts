import { ADMIN_ACTOR } from '../request-actor.js';
import express, { type Request, type RequestHandler, type Response, type Router } from 'express';
import { reasonSchema, type AppConfig } from '../../config/kipper-file.js';
import { safeEqual } from '../../config/tokens.js';
import { deployRequestFor, validateDeployBody } from '../../deploys/deploy-request.js';
import { appNotFound } from '../../deploys/repo-config.js';
import type { Bridge } from '../../deploys/open-bridge.js';
import { isKipError, KipError } from '../../errors.js';
import { currentRevisionJson } from '../../history/history-json.js';
import { appHistory } from '../app-history.js';
import type { FailureLimiter } from '../../webhooks/failure-limiter.js';
import { ERROR_STATUS } from '../error-status.js';
import { appPanel, appsPage, projectOf, type AppListing } from './app-pages.js';
import { deployRows, deploysTab, PAGE_ROWS } from './deploys-tab.js';
import { html, type Html } from './html.js';
import { lockControls, lockKey, type AppTab } from './lock-controls.js';
import { sendCompressed } from './console-assets.js';
import { layout, signInPage } from './pages.js';
import { ConsoleSessions, IDLE_SECONDS, SESSION_COOKIE, SIGN_IN_COOKIE, type Session } from './session.js';
import { webhookTab } from './webhook-tab.js';

/** What the console needs besides the bridge's services. */
export interface ConsoleOptions {
  webhookUrl: (id: string) => string;
  /** Shared with the webhook: failed sign-ins count toward the same 429. */
  limiter: FailureLimiter;
  /** The key console sessions are signed with (derived from the secret key). */
  sessionKey: Buffer;
  /** `KIPPER_COMMIT_URL`, a template with `{sha}`. */
  commitUrl: string | undefined;
}

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

/** Messages of the status region after a form POST without JavaScript (`?done=`). */
const DONE: Record<string, (q: Request['query']) => string> = {
  'rolled-back': (q) => `Rolled back to revision #${String(q.to)}: now revision #${String(q.rev)}.`,
  'rolled-back-locked': (q) => `Rolled back to revision #${String(q.to)}: now revision #${String(q.rev)}, and the app is locked.`,
  deployed: (q) => `Deployed: revision #${String(q.rev)}.`,
  unchanged: () => 'Already running that: nothing to commit.',
  promoted: (q) => `Promoted to ${String(q.to)}: revision #${String(q.rev)} there.`,
  disabled: () => 'Webhook disabled.',
  locked: () => 'Locked: its webhook deploys nothing until it is unlocked.',
  unlocked: () => 'Unlocked: its webhook deploys again.',
};

/** Who a lock made in the console names (kipper.yaml `locks:`, the banner, `kip app history`). */
const CONSOLE_BY = 'console';

/** A form's `reason`: undefined when left empty, else one line of 1–500 characters (reasonSchema). */
function reasonOf(body: Record<string, unknown>): string | undefined {
  const raw = body.reason;
  if (raw === undefined || (typeof raw === 'string' && raw.trim() === '')) return undefined;
  const parsed = reasonSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const message = `Reason: ${parsed.error.issues[0]?.message ?? 'invalid'}`;
  throw new KipError('INVALID_BODY', message, { fields: { reason: message } });
}

/** A checkbox of a form (or `true` from console.js). */
function checked(value: unknown): boolean {
  return value === 'yes' || value === 'on' || value === 'true' || value === true;
}

/** The tab a form came from (a hidden `_tab`): where its answer goes. */
function tabOf(body: Record<string, unknown>): AppTab {
  return body._tab === 'webhook' ? 'webhook' : 'deploys';
}

/** The web console (docs/design.md "Console"): HTML rendered here, one CSS file, one small ES module. */
export function consoleRouter(bridge: Bridge, opts: ConsoleOptions): Router {
  const router = express.Router();
  const sessions = new ConsoleSessions(opts.sessionKey);
  const form = express.urlencoded({ extended: false, limit: '16kb' });

  router.use((req, res, next) => {
    if (isConsolePath(req.path)) res.set(SECURITY_HEADERS);
    next();
  });

  const cookieOptions = (req: Request, maxAgeSeconds: number) => ({
    httpOnly: true,
    sameSite: 'strict' as const,
    secure: req.secure,
    path: '/',
    maxAge: maxAgeSeconds * 1000,
  });
  const sessionOf = (req: Request): Session | null => sessions.open(cookiesOf(req)[SESSION_COOKIE]);
  const wantsJson = (req: Request) => (req.headers.accept ?? '').includes('application/json');
  const send = (res: Response, page: Html, status = 200) => sendCompressed(res.status(status), compact(page.toString()), 'html');

  /** The sign-in page, with a fresh nonce cookie for its CSRF token. */
  const signIn = (req: Request, res: Response, error?: string, status = 200) => {
    const nonce = sessions.nonce();
    res.cookie(SIGN_IN_COOKIE, nonce, cookieOptions(req, 3600));
    send(res, signInPage(sessions.csrf({ nonce }), error, Date.now()), status);
  };

  /** Pages and actions need a session; a POST also its CSRF token. Nothing is written without both. */
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

  router.get('/', (req, res, next) => {
    if (!sessionOf(req)) return signIn(req, res);
    next();
  });

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

  router.get('/', signedIn, async (req, res) => {
    const config = bridge.config.known();
    const apps: AppListing[] = await Promise.all(
      [...config.apps.values()].map(async (app) => ({
        app,
        current: currentRevisionJson(await bridge.history.revisions(app.id)),
        webhook: config.webhooks.has(app.id),
        lock: config.locks.get(app.id) ?? null,
      })),
    );
    send(res, appsPage(apps, typeof req.query.q === 'string' ? req.query.q : '', { csrf: res.locals.csrf as string, now: Date.now() }));
  });

  const appOf = async (req: Request): Promise<AppConfig> => {
    const id = `${String(req.params.namespace)}/${String(req.params.app)}`;
    const app = await bridge.config.findApp(id);
    if (!app) throw appNotFound(id);
    return app;
  };

  /** The Deploys tab, with a status message or an error. */
  const deploysPage = async (req: Request, res: Response, app: AppConfig, extra: { status?: string; error?: string } = {}) => {
    const { revisions, drift, lock } = await appHistory(bridge, app);
    const before = Number(req.query.before);
    const page = Number.isInteger(before) && before > 0 ? revisions.filter((r) => r.revision < before) : revisions;
    const rows = page.slice(0, PAGE_ROWS);
    const last = rows.at(-1);
    const promoteTo = [...bridge.config.known().apps.values()]
      .filter((a) => a.name === app.name && a.id !== app.id && a.source === 'image' && projectOf(a.namespace).project === projectOf(app.namespace).project)
      .map((a) => a.namespace);
    const csrf = res.locals.csrf as string;
    const view = {
      app,
      rows,
      current: revisions[0],
      older: last && last.revision > 1 ? last.revision : null,
      promoteTo,
      commitUrl: opts.commitUrl,
      csrf,
      now: Date.now(),
      drift,
    };
    return appPanel(app, 'deploys', deploysTab(view), { csrf, now: view.now, lock, ...extra });
  };

  /** A GET page: an error it meets (an unknown app) is a page too. */
  const page =
    (render: (req: Request, res: Response) => Promise<Html>): RequestHandler =>
    async (req, res) => {
      try {
        send(res, await render(req, res));
      } catch (err) {
        if (!isKipError(err)) throw err;
        send(
          res,
          layout('Error', { csrf: res.locals.csrf as string, error: err.message, now: Date.now() }, html`<p><a href="/">Back to the apps</a></p>`),
          ERROR_STATUS[err.code],
        );
      }
    };

  router.get(
    '/apps/:namespace/:app',
    signedIn,
    page(async (req, res) => {
      const done = typeof req.query.done === 'string' ? DONE[req.query.done] : undefined;
      return deploysPage(req, res, await appOf(req), { status: done?.(req.query) });
    }),
  );

  /** Rows for the live view and "Show older": the tbody's HTML and the next cursor. */
  router.get('/apps/:namespace/:app/rows', signedIn, async (req, res) => {
    const app = await appOf(req);
    const { revisions } = await appHistory(bridge, app);
    const before = Number(req.query.before);
    const page = (Number.isInteger(before) && before > 0 ? revisions.filter((r) => r.revision < before) : revisions).slice(0, PAGE_ROWS);
    const rows = deployRows({ app, rows: page, commitUrl: opts.commitUrl, now: Date.now() });
    const last = page.at(-1);
    res.json({ html: rows.toString(), older: last && last.revision > 1 ? last.revision : null, current: revisions[0]?.revision ?? null });
  });

  /** The lock region's content for console.js: after a lock or unlock, and on an SSE `lock`. */
  router.get('/apps/:namespace/:app/lock', signedIn, async (req, res) => {
    const app = await appOf(req);
    const lock = bridge.locks.of(app.id);
    const tab: AppTab = req.query.tab === 'webhook' ? 'webhook' : 'deploys';
    const content = lockControls({ app, lock, csrf: res.locals.csrf as string, tab, now: Date.now() });
    res.json({ locked: lock !== null, key: lockKey(lock), html: content.toString() });
  });

  /**
   * Server-sent events: `revision` whenever the app's newest revision changes (a deploy,
   * another replica's, a fetched push); `lock` when its lock does (a commit to kipper.yaml
   * moves the head too, and the config is read before the history hears of it).
   */
  router.get('/apps/:namespace/:app/events', signedIn, async (req, res) => {
    const app = await appOf(req);
    const newest = () => bridge.history.index.revisions(app.id).length;
    const lockNow = () => lockKey(bridge.locks.of(app.id));
    let sent = newest();
    let sentLock = lockNow();
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    res.write(`retry: 3000\nevent: revision\ndata: ${JSON.stringify({ revision: sent })}\n\n`);
    // The lock as it is now: the page may be older than the stream (a reconnect).
    res.write(`event: lock\ndata: ${JSON.stringify({ key: sentLock })}\n\n`);
    const unsubscribe = bridge.history.onChange(() => {
      if (lockNow() !== sentLock) {
        sentLock = lockNow();
        res.write(`event: lock\ndata: ${JSON.stringify({ key: sentLock })}\n\n`);
      }
      if (newest() === sent) return;
      sent = newest();
      res.write(`event: revision\ndata: ${JSON.stringify({ revision: sent })}\n\n`);
    });
    // The syncer's view changes too (a rollout coming up): the rows show it.
    const unwatch = bridge.rollouts.view(app, () => res.write(`event: rollout\ndata: ${JSON.stringify({ revision: sent })}\n\n`));
    const heartbeat = setInterval(() => res.write(': ping\n\n'), 20_000);
    bridge.status.watch(1);
    // Shutdown ends the stream (the browser reconnects to whoever serves next).
    const end = () => res.end();
    bridge.closing.addEventListener('abort', end);
    res.on('close', () => {
      bridge.closing.removeEventListener('abort', end);
      unsubscribe();
      unwatch();
      clearInterval(heartbeat);
      bridge.status.watch(-1);
    });
  });

  /**
   * An action of the console: JSON for console.js (errors through the error middleware),
   * else a redirect to the tab the form was on (`_tab`, the Deploys tab by default) with a
   * message, or that page again with the error.
   */
  const action = (run: (app: AppConfig, body: Record<string, unknown>, req: Request) => Promise<{ json: unknown; done: string }>): RequestHandler[] => [
    form,
    signedIn,
    async (req, res) => {
      const app = await appOf(req);
      const body = (req.body ?? {}) as Record<string, unknown>;
      const tab = tabOf(body);
      try {
        const { json, done } = await run(app, body, req);
        if (wantsJson(req)) res.json(json);
        else res.redirect(303, `/apps/${app.id}${tab === 'webhook' ? '/webhook' : ''}?${done}`);
      } catch (err) {
        if (wantsJson(req) || !isKipError(err)) throw err;
        const again = tab === 'webhook' ? webhookPage(app, res, undefined, undefined, err.message) : await deploysPage(req, res, app, { error: err.message });
        send(res, again, ERROR_STATUS[err.code]);
      }
    },
  ];

  router.post(
    '/apps/:namespace/:app/rollback',
    ...action(async (app, body) => {
      const revision = Number(body.revision);
      if (!Number.isInteger(revision) || revision < 1) throw new KipError('INVALID_BODY', 'revision: must be a revision number');
      const answer = await bridge.deploys.rollback(app, revision, {
        actor: ADMIN_ACTOR,
        reason: reasonOf(body),
        ...(checked(body.lock) ? { lockBy: CONSOLE_BY } : {}),
      });
      return { json: answer, done: `done=rolled-back${answer.lock ? '-locked' : ''}&to=${answer.rolledBackTo}&rev=${answer.revision ?? ''}` };
    }),
  );

  router.post(
    '/apps/:namespace/:app/deploy',
    ...action(async (app, body) => {
      const fields = Object.fromEntries(
        ['image', 'commit'].filter((k) => typeof body[k] === 'string' && body[k] !== '').map((k) => [k, String(body[k]).trim()]),
      );
      const reason = reasonOf(body);
      const request = deployRequestFor(app, validateDeployBody(fields));
      const answer = await bridge.deploys.deploy(app, request, 'manual', { actor: ADMIN_ACTOR, extras: reason ? { trailers: { reason } } : {} });
      return { json: answer, done: answer.status === 'unchanged' ? 'done=unchanged' : `done=deployed&rev=${answer.revision ?? ''}` };
    }),
  );

  router.post(
    '/apps/:namespace/:app/promote',
    ...action(async (app, body) => {
      const answer = await bridge.deploys.promote(app, String(body.to ?? ''), ADMIN_ACTOR, reasonOf(body));
      return { json: answer, done: answer.status === 'unchanged' ? 'done=unchanged' : `done=promoted&to=${String(body.to)}&rev=${answer.revision ?? ''}` };
    }),
  );

  router.post(
    '/apps/:namespace/:app/lock',
    ...action(async (app, body) => {
      const reason = reasonOf(body);
      if (!reason) throw new KipError('INVALID_BODY', 'Reason: say why the app is locked (e.g. INC-42: bad image)', { fields: { reason: 'required' } });
      const answer = await bridge.locks.lock(app.id, reason, CONSOLE_BY, ADMIN_ACTOR);
      return { json: answer, done: 'done=locked' };
    }),
  );

  router.post(
    '/apps/:namespace/:app/unlock',
    ...action(async (app, body) => {
      const answer = await bridge.locks.unlock(app.id, reasonOf(body), CONSOLE_BY, ADMIN_ACTOR);
      return { json: answer, done: 'done=unlocked' };
    }),
  );

  router.get(
    '/apps/:namespace/:app/webhook',
    signedIn,
    page(async (req, res) => {
      const done = typeof req.query.done === 'string' ? DONE[req.query.done] : undefined;
      return webhookPage(await appOf(req), res, undefined, done?.(req.query));
    }),
  );

  /** Enable or regenerate: the new token is shown in this answer, once (never in a URL). */
  router.post('/apps/:namespace/:app/webhook', form, signedIn, async (req, res) => {
    const app = await appOf(req);
    const token = await bridge.webhooks.set(app.id, true, ADMIN_ACTOR);
    if (wantsJson(req)) return res.json({ enabled: true, url: opts.webhookUrl(app.id), token });
    send(res, webhookPage(app, res, token ?? undefined, 'A new token was made: the old one no longer works.'));
  });

  router.post('/apps/:namespace/:app/webhook/disable', form, signedIn, async (req, res) => {
    const app = await appOf(req);
    await bridge.webhooks.set(app.id, false, ADMIN_ACTOR);
    if (wantsJson(req)) return res.json({ enabled: false });
    send(res, webhookPage(app, res, undefined, 'Webhook disabled.'));
  });

  const webhookPage = (app: AppConfig, res: Response, newToken: string | undefined, status?: string, error?: string) => {
    const csrf = res.locals.csrf as string;
    const enabled = bridge.webhooks.token(app.id) !== null;
    const body = webhookTab({ app, enabled, url: opts.webhookUrl(app.id), newToken, csrf });
    return appPanel(app, 'webhook', body, { csrf, status, error, now: Date.now(), lock: bridge.locks.of(app.id) });
  };

  return router;
}

/** HTML without the indentation of its templates (a third of a page), `<pre>` blocks as they are. */
function compact(page: string): string {
  return page
    .split(/(<pre[\s\S]*?<\/pre>)/)
    .map((part, i) => (i % 2 === 1 ? part : part.replace(/\n\s+/g, '\n')))
    .join('');
}

/** The console's own paths (the API, /git and the probes keep their headers). */
function isConsolePath(path: string): boolean {
  return path === '/' || path === '/sign-in' || path === '/sign-out' || path.startsWith('/apps/') || path.startsWith('/console/');
}

/** The request's cookies by name (no dependency for four lines of RFC 6265 parsing). */
function cookiesOf(req: Request): Record<string, string> {
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
