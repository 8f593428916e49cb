import type { Request, RequestHandler, Response } from 'express';
import type { AppConfig } from '../../config/kipper-file.js';
import { appNotFound } from '../../deploys/repo-config.js';
import type { Bridge } from '../../deploys/open-bridge.js';
import { isKipError } from '../../errors.js';
import type { SsoClient } from '../../identity/sso-client.js';
import type { Need } from '../../identity/access.js';
import { requireAccess } from '../../identity/app-access.js';
import type { Principal } from '../../identity/principal.js';
import type { FailureLimiter } from '../../webhooks/failure-limiter.js';
import { ERROR_STATUS } from '../error-status.js';
import { sendCompressed } from './console-assets.js';
import { html, type Html } from './html.js';
import { layout } from './pages.js';

/** What the console needs besides the bridge's services. */
export interface ConsoleOptions {
  webhookUrl: (id: string) => string;
  /** Shared with the webhook: failed sign-ins count toward the same 429. */
  limiter: FailureLimiter;
  /** The key console sessions are signed with (derived from the secret key). */
  sessionKey: Buffer;
  /** `KIPPER_COMMIT_URL`, a template with `{sha}`. */
  commitUrl: string | undefined;
  /** Single sign-on (KIPPER_OIDC_ISSUER), and the bridge's public base URL its callback and sign-out come back to. */
  sso?: { client: SsoClient; publicUrl: string } | undefined;
}

/** True when the request asks for JSON (console.js), not a page. */
export const wantsJson = (req: Request): boolean => (req.headers.accept ?? '').includes('application/json');

/** Sends a page, compacted and (when it pays) gzipped. */
export const sendPage = (res: Response, page: Html, status = 200): void =>
  sendCompressed(res.status(status), compact(page.toString()), 'html');

/**
 * The app of a `/apps/:namespace/:app…` route, when the signed-in principal may do what is
 * `need`ed with it (kipper.yaml `access:`): NOT_FOUND for an app one may not see, FORBIDDEN
 * for an action one's role does not allow.
 */
export async function appOf(bridge: Bridge, req: Request, need: Need = 'read'): Promise<AppConfig> {
  const id = `${String(req.params.namespace)}/${String(req.params.app)}`;
  const app = await bridge.config.findApp(id);
  if (!app) throw appNotFound(id);
  requireAccess(bridge, req.res!.locals.principal as Principal, app, need);
  return app;
}

/** A GET page: an error it meets (an unknown app) is a page too. */
export const page =
  (render: (req: Request, res: Response) => Promise<Html>): RequestHandler =>
  async (req, res) => {
    try {
      sendPage(res, await render(req, res));
    } catch (err) {
      if (!isKipError(err)) throw err;
      sendPage(
        res,
        layout(
          'Error',
          { csrf: res.locals.csrf as string, error: err.message, now: Date.now() },
          html`<p><a href="/">Back to the apps</a></p>`,
        ),
        ERROR_STATUS[err.code],
      );
    }
  };

/** HTML without the indentation of its templates (a third of a page), `<pre>` blocks as they are. */
function compact(text: string): string {
  return text
    .split(/(<pre[\s\S]*?<\/pre>)/)
    .map((part, i) => (i % 2 === 1 ? part : part.replace(/\n\s+/g, '\n')))
    .join('');
}
