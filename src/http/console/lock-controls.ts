import type { LockInfo } from '../../api-types.js';
import type { AppConfig } from '../../config/kipper-file.js';
import { html, type Html } from './html.js';
import { when } from './pages.js';

/** Which tab a lock form came from: its answer goes back there. */
export type AppTab = 'deploys' | 'webhook';

/** What the lock controls of an app panel show. */
export interface LockView {
  app: AppConfig;
  lock: LockInfo | null;
  csrf: string;
  tab: AppTab;
  now: number;
}

/**
 * The lock region of an app panel (issue #13), on both tabs. Locked: a banner saying who,
 * when and why, and **Unlock**. Unlocked: **Lock**, which opens the lock dialog; without
 * JavaScript (the button stays hidden) a plain form with its Reason field instead. console.js
 * redraws the region's content from `GET …/lock` after a lock, an unlock or an SSE `lock`.
 */
export function lockRegion(v: LockView): Html {
  // tabindex: where focus goes when the control it was on (Lock, Unlock) is redrawn away.
  return html`<div
    id="lock"
    class="lock-region"
    tabindex="-1"
    data-app="${v.app.id}"
    data-tab="${v.tab}"
    data-lock="${lockKey(v.lock)}"
  >
    ${lockControls(v)}
  </div>`;
}

/** What tells one lock from another (console.js redraws the region only when it changes). */
export function lockKey(lock: LockInfo | null): string {
  return lock ? JSON.stringify([lock.reason, lock.by, lock.at]) : '';
}

/** The region's content (what `GET …/lock` answers as `html`). */
export function lockControls(v: LockView): Html {
  const tab = html`<input type="hidden" name="_csrf" value="${v.csrf}" /><input
      type="hidden"
      name="_tab"
      value="${v.tab}"
    />`;
  if (v.lock) {
    const by = v.lock.by ? ` by ${v.lock.by}` : '';
    const at = v.lock.at && !Number.isNaN(Date.parse(v.lock.at)) ? html` ${when(v.lock.at, v.now)}` : '';
    return html`<div class="lock-banner">
      <p role="status" id="lock-text">
        <strong>Locked${by}</strong>${at}: <span class="lock-reason">${v.lock.reason}</span>
      </p>
      <p class="muted">Webhooks deploy nothing; Update image, Promote and Rollback still work.</p>
      <form method="post" action="/apps/${v.app.id}/unlock" data-lock-action="unlock">
        ${tab}
        <button type="submit" aria-describedby="lock-text">Unlock</button>
      </form>
    </div>`;
  }
  return html`<noscript>
      <form class="lock-plain" method="post" action="/apps/${v.app.id}/lock" aria-label="Lock ${v.app.id}">
        ${tab}
        <p class="muted">Lock ${v.app.id}: its webhook deploys nothing until it is unlocked.</p>
        <label for="lock-reason-plain">Reason</label>
        <input
          id="lock-reason-plain"
          name="reason"
          required
          maxlength="500"
          autocomplete="off"
          placeholder="Why webhooks must not deploy it"
        />
        <button type="submit">Lock</button>
      </form>
    </noscript>
    <button type="button" class="quiet" data-open-lock hidden title="Stop its webhook from deploying">Lock</button>`;
}

/**
 * The dialog behind **Lock**. JavaScript only: console.js sends its form (a form for
 * `required` and Enter) with fetch, so it needs no CSRF field of its own.
 */
export function lockDialog(v: Pick<LockView, 'app'>): Html {
  return html`<dialog id="lock-dialog" aria-labelledby="lock-title" aria-describedby="lock-explain">
    <form>
      <h2 id="lock-title">Lock ${v.app.id}</h2>
      <p id="lock-explain">
        Its webhook deploys nothing until it is unlocked; Update image, Promote and Rollback still work.
      </p>
      <label for="lock-reason">Reason</label>
      <input
        id="lock-reason"
        name="reason"
        required
        maxlength="500"
        autocomplete="off"
        placeholder="INC-42: bad image in prod"
      />
      <p class="alert" role="alert" data-field="error" hidden></p>
      <div class="buttons">
        <button type="submit">Lock</button>
        <button type="button" class="quiet" data-cancel>Cancel</button>
      </div>
    </form>
  </dialog>`;
}
