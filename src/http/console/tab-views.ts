import type { Request, Response } from 'express';
import type { AppConfig } from '../../config/kipper-file.js';
import type { Bridge } from '../../deploys/open-bridge.js';
import { appHistory } from '../app-history.js';
import { appPanel, projectOf } from './app-pages.js';
import type { ConsoleOptions } from './console-context.js';
import { deploysTab, PAGE_ROWS } from './deploys-tab.js';
import type { Html } from './html.js';
import { webhookTab } from './webhook-tab.js';

/** A message for the page's status region, or an error at its top. */
export interface PageNotes {
  status?: string | undefined;
  error?: string | undefined;
}

/** The Deploys tab of `app` (`?before=` pages back), with a status message or an error. */
export async function deploysView(bridge: Bridge, opts: ConsoleOptions, req: Request, res: Response, app: AppConfig, notes: PageNotes = {}): Promise<Html> {
  const { revisions, drift, lock } = await appHistory(bridge, app);
  const before = Number(req.query.before);
  const page = Number.isInteger(before) && before > 0 ? revisions.filter((r) => r.revision < before) : revisions;
  const rows = page.slice(0, PAGE_ROWS);
  const last = rows.at(-1);
  const promoteTo = [...bridge.config.known().apps.values()]
    .filter((a) => a.name === app.name && a.id !== app.id && a.source === 'image' && projectOf(a.namespace).project === projectOf(app.namespace).project)
    .map((a) => a.namespace);
  const csrf = res.locals.csrf as string;
  // Pull-request mode: the open proposal, shown above the revisions; the page still loads when the host does not answer.
  const open = app.write === 'pull-request' ? await bridge.proposals.open(app).catch(() => null) : null;
  const view = {
    app,
    proposal: open ? { number: open.proposal.number, url: open.proposal.url, image: open.image, commit: open.commit } : undefined,
    rows,
    current: revisions[0],
    older: last && last.revision > 1 ? last.revision : null,
    promoteTo,
    commitUrl: opts.commitUrl,
    csrf,
    now: Date.now(),
    drift,
  };
  return appPanel(app, 'deploys', deploysTab(view), { csrf, now: view.now, lock, ...repoOf(bridge, app), ...notes });
}

/** The Webhook tab of `app`; `newToken`: a token just made, shown this once. */
export function webhookView(bridge: Bridge, opts: ConsoleOptions, res: Response, app: AppConfig, newToken: string | undefined, notes: PageNotes = {}): Html {
  const csrf = res.locals.csrf as string;
  const enabled = bridge.webhooks.token(app.id) !== null;
  const body = webhookTab({ app, enabled, url: opts.webhookUrl(app.id), newToken, csrf });
  return appPanel(app, 'webhook', body, { csrf, now: Date.now(), lock: bridge.locks.of(app.id), ...repoOf(bridge, app), ...notes });
}

/** The app's config repo, shown when the bridge serves several (KIPPER_REPOS_FILE). */
function repoOf(bridge: Bridge, app: AppConfig): { repo?: string } {
  return bridge.repos.length > 1 ? { repo: bridge.repoOf(app.id).name } : {};
}
