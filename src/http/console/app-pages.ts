import type { HistoryRevision, LockInfo } from '../../api-types.js';
import type { AppConfig } from '../../config/kipper-file.js';
import { attrs, html, type Html } from './html.js';
import { lockDialog, lockRegion, type AppTab } from './lock-controls.js';
import { layout, valueCell, when, type PageContext } from './pages.js';

/** One app on the Apps page. */
export interface AppListing {
  app: AppConfig;
  current: HistoryRevision | undefined;
  webhook: boolean;
  /** Its lock (kipper.yaml `locks:`), or null. */
  lock: LockInfo | null;
}

/** `yourr-name-test` is project `yourr-name`, environment `test` (a namespace without `-` is a project of its own). */
export function projectOf(namespace: string): { project: string; environment: string } {
  const dash = namespace.lastIndexOf('-');
  return dash <= 0
    ? { project: namespace, environment: '' }
    : { project: namespace.slice(0, dash), environment: namespace.slice(dash + 1) };
}

/** Environments in pipeline order where the name says it; others after them, by name. */
const ENV_ORDER = [
  'dev',
  'development',
  'int',
  'test',
  'qa',
  'uat',
  'stage',
  'staging',
  'preprod',
  'prod',
  'production',
];

function envRank(environment: string): number {
  const i = ENV_ORDER.indexOf(environment);
  return i === -1 ? ENV_ORDER.length : i;
}

/** One row of the Apps matrix: an app name of a project, with what runs in each environment. */
interface MatrixRow {
  project: string;
  name: string;
  cells: Map<string, AppListing>;
}

/**
 * Apps: one table, an app per row and an environment per column (what runs where, like
 * Kargo's stage view), with a filter box. One table whatever the count: 200 apps in two
 * environments were 202 tables and 24,000 px, with columns at different places in each.
 */
export function appsPage(apps: AppListing[], filter: string, ctx: PageContext): Html {
  const wanted = filter.trim().toLowerCase();
  const rows = new Map<string, MatrixRow>();
  const environments = new Set<string>();
  for (const a of apps) {
    const { project, environment } = projectOf(a.app.namespace);
    environments.add(environment);
    const key = `${project}\u0000${a.app.name}`;
    const row = rows.get(key) ?? { project, name: a.app.name, cells: new Map<string, AppListing>() };
    row.cells.set(environment, a);
    rows.set(key, row);
  }
  const columns = [...environments].sort((a, b) => envRank(a) - envRank(b) || a.localeCompare(b));
  const sorted = [...rows.values()].sort((a, b) => a.project.localeCompare(b.project) || a.name.localeCompare(b.name));
  const matches = (text: string) => wanted === '' || text.toLowerCase().includes(wanted);
  const shown = sorted.filter((r) => [...r.cells.values()].some((a) => matches(a.app.id)));
  const empty =
    apps.length === 0 ? 'No apps in kipper.yaml yet.' : shown.length === 0 ? `No apps match “${filter.trim()}”.` : '';
  return layout(
    'Apps',
    ctx,
    html`<h1>Apps</h1>
      <form class="filter" role="search" method="get" action="/">
        <label for="filter">Filter apps</label>
        <input id="filter" name="q" type="search" value="${filter}" autocomplete="off" data-filter="#apps" />
        <noscript><button type="submit">Filter</button></noscript>
      </form>
      <div id="apps">
        <p id="no-match" aria-live="polite" ${attrs({ hidden: empty === '' })}>${empty}</p>
        ${
          apps.length === 0
            ? ''
            : html`<table class="matrix stack" ${attrs({ hidden: shown.length === 0 })}>
                <caption class="visually-hidden">
                  Apps by environment: what runs where
                </caption>
                <thead>
                  <tr>
                    <th scope="col">App</th>
                    ${columns.map((env) => html`<th scope="col">${envLabel(env)}</th>`)}
                  </tr>
                </thead>
                <tbody>
                  ${sorted.map((r) => matrixRow(r, columns, matches, ctx.now))}
                </tbody>
              </table>`
        }
      </div>`,
  );
}

function envLabel(environment: string): string {
  return environment || 'no environment';
}

function matrixRow(r: MatrixRow, columns: string[], matches: (text: string) => boolean, now: number): Html {
  const ids = [...r.cells.values()].map((a) => a.app.id);
  return html`<tr data-filter-text="${ids.join(' ')}" ${attrs({ hidden: !ids.some(matches) })}>
    <th scope="row">${r.name} <span class="muted project">${r.project}</span></th>
    ${columns.map((env) => {
      const a = r.cells.get(env);
      if (!a) return html`<td data-label="${envLabel(env)}"><span class="muted">–</span></td>`;
      const cur = a.current;
      return html`<td
        data-label="${envLabel(env)}"
        data-filter-text="${a.app.id}"
        ${attrs({ class: matches(a.app.id) ? null : 'dim' })}
      >
        <div><a href="/apps/${a.app.id}">${a.app.id}</a>${a.lock ? html` ${lockedBadge(a.lock)}` : ''}</div>
        <div>${cur ? valueCell(cur, a.app.source) : html`<span class="muted">nothing deployed yet</span>`}</div>
        <div class="muted small">
          ${cur ? html`#${cur.revision} · ${when(cur.timestamp, now)} · ${authorName(cur.author)} · ` : ''}${a.app.source === 'git' ? 'git · ' : ''}webhook
          ${a.webhook ? html`<span class="badge on">on</span>` : html`<span class="badge">off</span>`}
        </div>
      </td>`;
    })}
  </tr>`;
}

/**
 * A locked app on the Apps page: the badge, with who and why on hover, and the reason as
 * hidden text for screen readers (a plain span's title is not reliably read out).
 */
function lockedBadge(lock: LockInfo): Html {
  const why = `Locked${lock.by ? ` by ${lock.by}` : ''}: ${lock.reason}`;
  return html`<span class="badge locked" title="${why}"
    >Locked<span class="visually-hidden">: ${lock.reason}</span></span
  >`;
}

/** `Jane Doe <jane@example.com>` → `Jane Doe`, the address on hover. */
export function authorName(author: string): Html {
  const m = /^(.*?)\s*<([^>]*)>$/.exec(author);
  return m ? html`<span title="${m[2]}">${m[1] || m[2]}</span>` : html`${author}`;
}

/** The app panel's shell: heading, the lock banner or button, the two tabs, the selected tab's panel. */
export function appPanel(
  app: AppConfig,
  tab: AppTab,
  body: Html,
  ctx: PageContext & { csrf: string; lock: LockInfo | null; repo?: string; readOnly?: boolean },
): Html {
  const tabLink = (name: AppTab, label: string, href: string) =>
    html`<a
      ${attrs({
        role: 'tab',
        id: `tab-${name}`,
        href,
        'aria-selected': String(tab === name),
        'aria-controls': tab === name ? 'panel' : null,
        tabindex: tab === name ? 0 : -1,
      })}
      >${label}</a
    >`;
  return layout(
    `${app.id}`,
    ctx,
    html`<nav class="crumbs" aria-label="Breadcrumb">
        <a href="/">Apps</a> <span aria-hidden="true">/</span> ${app.id}
      </nav>
      <h1>${app.id}</h1>
      <p class="meta">
        ${app.source === 'git' ? 'git-source app' : 'image app'} ·
        ${ctx.repo ? html`repo ${ctx.repo} · ` : ''}${app.files.join(', ')}
      </p>
      ${ctx.readOnly ? '' : html`${lockRegion({ app, lock: ctx.lock, csrf: ctx.csrf, tab, now: ctx.now })} ${lockDialog({ app })}`}
      <div class="tabs" role="tablist" aria-label="${app.id}">
        ${tabLink('deploys', 'Deploys', `/apps/${app.id}`)} ${tabLink('webhook', 'Webhook', `/apps/${app.id}/webhook`)}
      </div>
      <section id="panel" role="tabpanel" aria-labelledby="tab-${tab}" data-app="${app.id}">${body}</section>`,
  );
}
