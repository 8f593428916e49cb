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
  return dash <= 0 ? { project: namespace, environment: '' } : { project: namespace.slice(0, dash), environment: namespace.slice(dash + 1) };
}

/** Apps: every app of kipper.yaml, grouped by project and environment, with a filter box. */
export function appsPage(apps: AppListing[], filter: string, ctx: PageContext): Html {
  const wanted = filter.trim().toLowerCase();
  const shown = apps.filter((a) => wanted === '' || a.app.id.includes(wanted));
  const projects = new Map<string, Map<string, AppListing[]>>();
  for (const a of shown) {
    const { project, environment } = projectOf(a.app.namespace);
    const envs = projects.get(project) ?? new Map<string, AppListing[]>();
    envs.set(environment, [...(envs.get(environment) ?? []), a]);
    projects.set(project, envs);
  }
  const groups = [...projects].sort(([a], [b]) => a.localeCompare(b));
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
        ${groups.length === 0 ? html`<p>${apps.length === 0 ? 'No apps in kipper.yaml yet.' : 'No app matches the filter.'}</p>` : ''}
        ${groups.map(
          ([project, envs]) =>
            html`<section class="project" data-group>
              <h2>${project}</h2>
              ${[...envs].sort(([a], [b]) => a.localeCompare(b)).map(([environment, list]) => appTable(project, environment, list, ctx.now))}
            </section>`,
        )}
      </div>`,
  );
}

function appTable(project: string, environment: string, list: AppListing[], now: number): Html {
  const label = environment ? `${project}-${environment}` : project;
  return html`<div class="env" data-group>
    <h3>${environment || project}</h3>
    <div class="scroll">
      <table>
        <caption class="visually-hidden">
          Apps of ${label}
        </caption>
        <thead>
          <tr>
            <th scope="col">App</th>
            <th scope="col">Source</th>
            <th scope="col">Running</th>
            <th scope="col">Revision</th>
            <th scope="col">When</th>
            <th scope="col">Who</th>
            <th scope="col">Webhook</th>
          </tr>
        </thead>
        <tbody>
          ${list.map(
            (a) =>
              html`<tr data-filter-text="${a.app.id}">
                <th scope="row"><a href="/apps/${a.app.id}">${a.app.id}</a>${a.lock ? html` ${lockedBadge(a.lock)}` : ''}</th>
                <td>${a.app.source}</td>
                <td>${a.current ? valueCell(a.current, a.app.source) : html`<span class="muted">–</span>`}</td>
                <td>${a.current ? `#${a.current.revision}` : '–'}</td>
                <td>${when(a.current?.timestamp ?? null, now)}</td>
                <td>${a.current ? authorName(a.current.author) : '–'}</td>
                <td>${a.webhook ? html`<span class="badge on">on</span>` : html`<span class="badge">off</span>`}</td>
              </tr>`,
          )}
        </tbody>
      </table>
    </div>
  </div>`;
}

/**
 * A locked app on the Apps page: the badge, with who and why on hover, and the reason as
 * hidden text for screen readers (a plain span's title is not reliably read out).
 */
function lockedBadge(lock: LockInfo): Html {
  const why = `Locked${lock.by ? ` by ${lock.by}` : ''}: ${lock.reason}`;
  return html`<span class="badge locked" title="${why}">Locked<span class="visually-hidden">: ${lock.reason}</span></span>`;
}

/** `Jane Doe <jane@example.com>` → `Jane Doe`, the address on hover. */
export function authorName(author: string): Html {
  const m = /^(.*?)\s*<([^>]*)>$/.exec(author);
  return m ? html`<span title="${m[2]}">${m[1] || m[2]}</span>` : html`${author}`;
}

/** The app panel's shell: heading, the lock banner or button, the two tabs, the selected tab's panel. */
export function appPanel(app: AppConfig, tab: AppTab, body: Html, ctx: PageContext & { csrf: string; lock: LockInfo | null }): Html {
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
    html`<nav class="crumbs" aria-label="Breadcrumb"><a href="/">Apps</a> <span aria-hidden="true">/</span> ${app.id}</nav>
      <h1>${app.id}</h1>
      <p class="meta">${app.source === 'git' ? 'git-source app' : 'image app'} · ${app.files.join(', ')}</p>
      ${lockRegion({ app, lock: ctx.lock, csrf: ctx.csrf, tab, now: ctx.now })} ${lockDialog({ app })}
      <div class="tabs" role="tablist" aria-label="${app.id}">
        ${tabLink('deploys', 'Deploys', `/apps/${app.id}`)} ${tabLink('webhook', 'Webhook', `/apps/${app.id}/webhook`)}
      </div>
      <section id="panel" role="tabpanel" aria-labelledby="tab-${tab}" data-app="${app.id}">${body}</section>`,
  );
}
