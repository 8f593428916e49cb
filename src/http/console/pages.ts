import type { HistoryRevision } from '../../api-types.js';
import { relativeTime } from '../../history/relative-time.js';
import { attrs, html, type Html } from './html.js';

/** What every signed-in page knows about its request. */
export interface PageContext {
  /** The session's CSRF token (null on the sign-in page, which has its own). */
  csrf: string | null;
  /** A message for the `aria-live` status region (after a form POST without JavaScript). */
  status?: string | undefined;
  /** An error to show at the top of the page. */
  error?: string | undefined;
  now: number;
}

/**
 * The page shell: one CSS file, one ES module, a status region for live messages. The
 * region is in the flow at the top of the page, not a toast over the table (issue 18).
 */
export function layout(title: string, ctx: PageContext, main: Html): Html {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        ${ctx.csrf ? html`<meta name="csrf-token" content="${ctx.csrf}" />` : ''}
        <title>${title} · Kipper</title>
        <link rel="icon" href="/favicon.ico" />
        <link rel="stylesheet" href="/console/assets/console.css" />
        <script type="module" src="/console/assets/console.js"></script>
      </head>
      <body>
        <header class="top">
          <a class="brand" href="/">Kipper</a>
          ${
            ctx.csrf
              ? html`<nav aria-label="Main"><a href="/">Apps</a></nav>
                  <form class="sign-out" method="post" action="/sign-out">
                    <input type="hidden" name="_csrf" value="${ctx.csrf}" />
                    <button type="submit" class="quiet">Sign out</button>
                  </form>`
              : ''
          }
        </header>
        <main id="main">
          <div id="status" class="status" role="status" aria-live="polite">${ctx.status ?? ''}</div>
          ${ctx.error ? html`<p class="alert" role="alert">${ctx.error}</p>` : ''} ${main}
        </main>
      </body>
    </html> `;
}

/**
 * The sign-in page: one password field labelled "Admin token" and a "Sign in" button;
 * `next`: where it lands. With single sign-on (`sso`: the provider's name), a "Sign in
 * with <provider>" button first, and the admin token below it as break-glass.
 */
export function signInPage(v: {
  csrf: string;
  error: string | undefined;
  next: string;
  now: number;
  sso?: string | undefined;
}): Html {
  const { csrf, error, next, now, sso } = v;
  return layout(
    'Sign in',
    { csrf: null, error, now },
    html`<section class="sign-in" aria-labelledby="sign-in-title">
      <h1 id="sign-in-title">Kipper console</h1>
      ${
        sso
          ? html`<form method="get" action="/auth/login">
                ${next === '/' ? '' : html`<input type="hidden" name="next" value="${next}" />`}
                <button type="submit">Sign in with ${sso}</button>
              </form>
              <h2>Break-glass: admin token</h2>
              <p>
                For emergencies only (the provider is down, nobody has a role): the shared admin token acts as
                <code>admin</code> on every app.
              </p>`
          : ''
      }
      <p>
        Sign in with the bridge's admin token (<code>KIPPER_ADMIN_TOKEN</code>, or <code>admin-token</code> in its data
        dir).
      </p>
      <form method="post" action="/sign-in">
        <input type="hidden" name="_csrf" value="${csrf}" />
        ${next === '/' ? '' : html`<input type="hidden" name="next" value="${next}" />`}
        <label for="token">Admin token</label>
        <input id="token" name="token" type="password" autocomplete="current-password" required />
        <button type="submit">Sign in</button>
      </form>
    </section>`,
  );
}

/** When a revision was written: relative, with the exact time on hover and in `datetime`. */
export function when(iso: string | null, now: number): Html {
  if (iso === null) return html`<span class="muted">–</span>`;
  return html`<time ${attrs({ datetime: iso, title: new Date(iso).toUTCString() })}>${relativeTime(iso, now)}</time>`;
}

/** What a revision or app runs, for a table cell. */
export function valueCell(r: Pick<HistoryRevision, 'image' | 'images' | 'commit'>, source: 'image' | 'git'): Html {
  if (source === 'git')
    return r.commit ? html`<code>${r.commit.slice(0, 12)}</code>` : html`<span class="muted">–</span>`;
  if (r.images && r.images.length > 1) return html`${r.images.map((i) => html`<code>${i}</code> `)}`;
  return r.image ? html`<code>${r.image}</code>` : html`<span class="muted">–</span>`;
}

/** Where single sign-on lands: a same-site step to `next` (a meta refresh, and a link without it), so the session cookie goes along. */
export function landingPage(next: string): Html {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta http-equiv="refresh" content="0;url=${next}" />
        <title>Signed in · Kipper</title>
        <link rel="stylesheet" href="/console/assets/console.css" />
      </head>
      <body>
        <main id="main">
          <p role="status">Signed in. <a href="${next}">Continue</a></p>
        </main>
      </body>
    </html>`;
}
