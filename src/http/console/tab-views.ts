import type { Request, Response } from 'express';
import type { AppConfig } from '../../config/kipper-file.js';
import type { Bridge } from '../../deploys/open-bridge.js';
import { appHistory } from '../app-history.js';
import { appPanel, projectOf } from './app-pages.js';
import type { ConsoleOptions } from './console-context.js';
import { deploysTab, PAGE_ROWS } from './deploys-tab.js';
import { html, type Html } from './html.js';
import { allows } from '../../identity/access.js';
import { roleOn } from '../../identity/app-access.js';
import type { Principal } from '../../identity/principal.js';
import { webhookTab } from './webhook-tab.js';

/** A message for the page's status region, or an error at its top. */
export interface PageNotes {
  status?: string | undefined;
  error?: string | undefined;
}

/** The Deploys tab of `app` (`?before=` pages back), with a status message or an error. */
export async function deploysView(
  bridge: Bridge,
  opts: ConsoleOptions,
  req: Request,
  res: Response,
  app: AppConfig,
  notes: PageNotes = {},
): Promise<Html> {
  const { revisions, drift, lock } = await appHistory(bridge, app);
  const before = Number(req.query.before);
  const page = Number.isInteger(before) && before > 0 ? revisions.filter((r) => r.revision < before) : revisions;
  const rows = page.slice(0, PAGE_ROWS);
  const last = rows.at(-1);
  const promoteTo = [...bridge.config.known().apps.values()]
    .filter(
      (a) =>
        a.name === app.name &&
        a.id !== app.id &&
        a.source === 'image' &&
        projectOf(a.namespace).project === projectOf(app.namespace).project,
    )
    .map((a) => a.namespace);
  const csrf = res.locals.csrf as string;
  const readOnly = !mayChange(bridge, res, app);
  // Pull-request mode: the open proposal, shown above the revisions; the page still loads when the host does not answer.
  const open = app.write === 'pull-request' ? await bridge.proposals.open(app).catch(() => null) : null;
  const view = {
    readOnly,
    app,
    proposal: open
      ? { number: open.proposal.number, url: open.proposal.url, image: open.image, commit: open.commit }
      : undefined,
    rows,
    current: revisions[0],
    older: last && last.revision > 1 ? last.revision : null,
    promoteTo,
    commitUrl: opts.commitUrl,
    csrf,
    now: Date.now(),
    drift,
  };
  return appPanel(app, 'deploys', deploysTab(view), {
    csrf,
    now: view.now,
    lock,
    readOnly,
    ...repoOf(bridge, app),
    ...notes,
  });
}

/** The Webhook tab of `app`; `newToken`: a token just made, shown this once. */
export function webhookView(
  bridge: Bridge,
  opts: ConsoleOptions,
  res: Response,
  app: AppConfig,
  newToken: string | undefined,
  notes: PageNotes = {},
): Html {
  const csrf = res.locals.csrf as string;
  const readOnly = !mayChange(bridge, res, app);
  const enabled = bridge.webhooks.token(app.id) !== null;
  // The token deploys: a viewer sees neither it nor its controls.
  const body = readOnly
    ? html`<p>
        The webhook is ${enabled ? 'enabled' : 'disabled'}. Managing it takes a deployer role (kipper.yaml
        <code>access:</code>).
      </p>`
    : webhookTab({ app, enabled, url: opts.webhookUrl(app.id), newToken, csrf });
  return appPanel(app, 'webhook', body, {
    csrf,
    now: Date.now(),
    lock: bridge.locks.of(app.id),
    readOnly,
    ...repoOf(bridge, app),
    ...notes,
  });
}

/** Whether the signed-in principal may change `app` (kipper.yaml `access:`; the admin token always). */
export function mayChange(bridge: Bridge, res: Response, app: AppConfig): boolean {
  return allows(roleOn(bridge, res.locals.principal as Principal, app), 'write');
}

/** The app's config repo, shown when the bridge serves several (KIPPER_REPOS_FILE). */
function repoOf(bridge: Bridge, app: AppConfig): { repo?: string } {
  return bridge.repos.length > 1 ? { repo: bridge.repoOf(app.id).name } : {};
}
