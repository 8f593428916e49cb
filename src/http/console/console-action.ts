import express, { type Request, type RequestHandler } from 'express';
import { reasonSchema, type AppConfig } from '../../config/kipper-file.js';
import type { Bridge } from '../../deploys/open-bridge.js';
import { isKipError, KipError } from '../../errors.js';
import { ERROR_STATUS } from '../error-status.js';
import type { ConsoleAuth } from './console-auth.js';
import { actorOf, authorOf, type Principal } from '../../identity/principal.js';
import { appOf, sendPage, wantsJson, type ConsoleOptions } from './console-context.js';
import type { AppTab } from './lock-controls.js';
import { deploysView, webhookView } from './tab-views.js';

/** What an action did: its JSON answer (console.js) and the message of the page a form lands on. */
export interface ActionResult {
  json: unknown;
  message: string;
}

/** What an action runs: the app, the form's fields. */
export type ActionRun = (app: AppConfig, body: Record<string, unknown>, req: Request) => Promise<ActionResult>;

/** A form's `reason`: undefined when left empty, else one line of 1–500 characters (reasonSchema). */
export function reasonOf(body: Record<string, unknown>): string | undefined {
  const raw = body.reason;
  if (raw === undefined || (typeof raw === 'string' && raw.trim() === '')) return undefined;
  const parsed = reasonSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const message = `Reason: ${parsed.error.issues[0]?.message ?? 'invalid'}`;
  throw new KipError('INVALID_BODY', message, { fields: { reason: message } });
}

/** Who does a console action: its `Kipper-Actor`, and a signed-in person as the commit's author. */
export function whoOf(req: Request): { actor: string; author: { name: string; email: string } | undefined } {
  const who = req.res!.locals.principal as Principal;
  return { actor: actorOf(who), author: authorOf(who) };
}

/** A checkbox of a form (or `true` from console.js). */
export function checked(value: unknown): boolean {
  return value === 'yes' || value === 'on' || value === 'true' || value === true;
}

/** The tab a form came from (a hidden `_tab`): where its answer goes. */
function tabOf(body: Record<string, unknown>): AppTab {
  return body._tab === 'webhook' ? 'webhook' : 'deploys';
}

/**
 * A console action: JSON for console.js (errors through the error middleware), else a
 * redirect to the tab the form was on (`_tab`, the Deploys tab by default) with a
 * one-time message (a flash cookie), or that page again with the error.
 */
export function consoleAction(
  bridge: Bridge,
  opts: ConsoleOptions,
  auth: ConsoleAuth,
): (run: ActionRun) => RequestHandler[] {
  const form = express.urlencoded({ extended: false, limit: '16kb' });
  return (run) => [
    form,
    auth.signedIn,
    async (req, res) => {
      const app = await appOf(bridge, req, 'write');
      const body = (req.body ?? {}) as Record<string, unknown>;
      const tab = tabOf(body);
      try {
        const { json, message } = await run(app, body, req);
        if (wantsJson(req)) return res.json(json);
        // The message travels in a signed one-time cookie, never in the URL (issue 18: a
        // link could make the status line say anything).
        auth.setFlash(req, res, message);
        res.redirect(303, `/apps/${app.id}${tab === 'webhook' ? '/webhook' : ''}`);
      } catch (err) {
        if (wantsJson(req) || !isKipError(err)) throw err;
        const again =
          tab === 'webhook'
            ? webhookView(bridge, opts, res, app, undefined, { error: err.message })
            : await deploysView(bridge, opts, req, res, app, { error: err.message });
        sendPage(res, again, ERROR_STATUS[err.code]);
      }
    },
  ];
}
