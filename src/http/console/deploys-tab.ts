import type { DriftAnswer, HistoryRevision } from '../../api-types.js';
import type { AppConfig } from '../../config/kipper-file.js';
import { authorName } from './app-pages.js';
import { attrs, html, type Html } from './html.js';
import { valueCell, when } from './pages.js';

/** Rows shown at once; older ones come with "Show older". */
export const PAGE_ROWS = 50;

/** What the Deploys tab shows. */
export interface DeploysView {
  app: AppConfig;
  /** This page of revisions, newest first. */
  rows: HistoryRevision[];
  /** The newest revision (whether or not this page shows it). */
  current: HistoryRevision | undefined;
  /** The revision number older rows start below, when there are older ones. */
  older: number | null;
  /** Other namespaces of the project with an app of this name (promotion targets). */
  promoteTo: string[];
  /** `KIPPER_COMMIT_URL`: a template with `{sha}` for config commit links. */
  commitUrl: string | undefined;
  csrf: string;
  now: number;
  /** The cluster runs an older revision and its syncer will not catch up by itself. */
  drift?: DriftAnswer | undefined;
  /** A viewer's page (kipper.yaml `access:`): no actions, no Rollback buttons. */
  readOnly?: boolean | undefined;
  /** Pull-request mode: the app's open proposal, not merged yet. */
  proposal?: { number: number; url: string; image: string | null; commit: string | null } | undefined;
}

/** The Deploys tab: actions, then the history table (the same rows as `kip app history`). */
export function deploysTab(v: DeploysView): Html {
  const git = v.app.source === 'git';
  if (v.readOnly) return readOnlyTab(v);
  return html`<h2 class="visually-hidden">Deploys</h2>
    <div class="actions">
      <form class="action" method="post" action="/apps/${v.app.id}/deploy" data-action="deploy">
        <h3>${git ? 'Deploy a commit' : 'Update image'}</h3>
        <input type="hidden" name="_csrf" value="${v.csrf}" />
        ${
          git
            ? html`<label for="deploy-commit">Commit</label>
                <input id="deploy-commit" name="commit" required pattern="[0-9a-fA-F]{7,64}" autocomplete="off" />`
            : html`<label for="deploy-image">Image</label>
                <input
                  id="deploy-image"
                  name="image"
                  required
                  placeholder="registry.example.com/api:abc123f"
                  autocomplete="off"
                />
                <label for="deploy-commit">Source commit <span class="muted">(optional)</span></label>
                <input id="deploy-commit" name="commit" pattern="[0-9a-fA-F]{7,64}" autocomplete="off" />`
        }
        ${reasonField('deploy')}
        <button type="submit">${git ? 'Deploy commit' : 'Update image'}</button>
      </form>
      ${
        git || v.promoteTo.length === 0
          ? ''
          : html`<form class="action" method="post" action="/apps/${v.app.id}/promote" data-action="promote">
              <h3>Promote</h3>
              <input type="hidden" name="_csrf" value="${v.csrf}" />
              <label for="promote-to">To environment</label>
              <select id="promote-to" name="to">
                ${v.promoteTo.map((ns) => html`<option value="${ns}">${ns}</option>`)}
              </select>
              ${reasonField('promote')}
              <button
                type="submit"
                ${attrs({ 'data-confirm-text': `Promote ${v.current?.image ?? 'the current image'} of ${v.app.id} to {to}?` })}
              >
                Promote
              </button>
            </form>`
      }
    </div>
    ${
      v.drift
        ? html`<p class="alert" role="alert">
            Drift: ${v.drift.reason}. Make git agree with the cluster with a rollback to revision #${v.drift.cluster},
            or re-enable the syncer.
          </p>`
        : ''
    }
    ${
      v.proposal
        ? html`<p class="proposal" data-proposal="${String(v.proposal.number)}">
            Proposed, not merged yet: ${v.proposal.image ?? v.proposal.commit ?? 'a change'} in
            ${/^https?:\/\//.test(v.proposal.url) ? html`<a href="${v.proposal.url}" rel="noopener noreferrer">pull request #${String(v.proposal.number)}</a>` : `pull request #${v.proposal.number}`}
          </p>`
        : ''
    }
    ${deploysTable(v)}
    <form id="rollback-form" method="post" action="/apps/${v.app.id}/rollback">
      <input type="hidden" name="_csrf" value="${v.csrf}" />
    </form>
    ${rollbackOptions()} ${v.rows.length === 0 ? html`<p>No revisions yet: the first deploy will be one.</p>` : ''}
    <p id="older">
      ${v.older === null ? '' : html`<a href="/apps/${v.app.id}?before=${v.older}" data-older="${v.older}">Show older</a>`}
    </p>
    ${rollbackDialog()} ${confirmDialog()}`;
}

/** The revisions' table, the same for a deployer's tab and a viewer's. */
function deploysTable(v: RowsView): Html {
  return html`<div class="scroll">
    <table class="deploys stack" tabindex="-1" data-app="${v.app.id}" data-source="${v.app.source}">
      <caption>
        Deploys of ${v.app.id}, newest first
      </caption>
      <thead>
        <tr>
          <th scope="col">#</th>
          <th scope="col">Image</th>
          <th scope="col">Commit</th>
          <th scope="col">Trigger</th>
          <th scope="col">When</th>
          <th scope="col">Author</th>
          <th scope="col">Who</th>
        </tr>
      </thead>
      <tbody id="deploys">
        ${deployRows(v)}
      </tbody>
    </table>
  </div>`;
}

/** A viewer's Deploys tab: the history alone. */
function readOnlyTab(v: DeploysView): Html {
  return html`<h2 class="visually-hidden">Deploys</h2>
    <p class="muted">
      You can view this app; deploying and rolling back take a deployer role (kipper.yaml <code>access:</code>).
    </p>
    ${deploysTable(v)} ${v.rows.length === 0 ? html`<p>No revisions yet: the first deploy will be one.</p>` : ''}
    <p id="older">
      ${v.older === null ? '' : html`<a href="/apps/${v.app.id}?before=${v.older}" data-older="${v.older}">Show older</a>`}
    </p>`;
}

/** What the rows of a page need to know. */
export type RowsView = Pick<DeploysView, 'app' | 'rows' | 'current' | 'commitUrl' | 'now' | 'readOnly'>;

/** The rows of one page (also what the live update and "Show older" fetch). */
export function deployRows(v: RowsView): Html {
  const running = v.current ? valueOf(v.current, v.app.source) : null;
  return html`${v.rows.map((r) => deployRow(r, v, running !== null && !r.current && valueOf(r, v.app.source) === running))}`;
}

/** What a revision deploys, as a rollback compares it with what runs now: its image(s), or a git app's commit. */
function valueOf(r: HistoryRevision, source: 'image' | 'git'): string | null {
  if (source === 'git') return r.commit;
  return r.images && r.images.length > 0 ? [...r.images].sort().join(' ') : r.image;
}

/**
 * One row. Its Rollback button submits the one rollback form of the page (`form=`) with
 * its revision as the button's value: no form and no CSRF token per row, which keeps a
 * page of 50 rows small. A row running what runs now (`sameAsCurrent`) has no button, and
 * says why: the bridge would refuse it as already current (issue 18).
 * Every cell carries its column's name (`data-label`): the stacked layout of narrow
 * screens shows it beside the value.
 */
function deployRow(
  r: HistoryRevision,
  v: Pick<DeploysView, 'app' | 'commitUrl' | 'now' | 'readOnly'>,
  sameAsCurrent: boolean,
): Html {
  const title = `config commit ${r.configCommit}`;
  const number = v.commitUrl
    ? html`<a href="${v.commitUrl.replace('{sha}', r.configCommit)}" title="${title}">${r.revision}</a>`
    : html`<span title="${title}">${r.revision}</span>`;
  const what = v.app.source === 'git' ? 'commit' : 'image';
  const rollback =
    r.current || v.readOnly
      ? ''
      : sameAsCurrent
        ? html` <small class="same muted">same ${what} as current</small>`
        : html` <button
            type="submit"
            form="rollback-form"
            name="revision"
            value="${r.revision}"
            class="small"
            aria-label="Rollback to revision ${r.revision}"
          >
            Rollback
          </button>`;
  const commit = r.commit
    ? html`<code title="${r.commit}">${r.commit.slice(0, 7)}</code>`
    : html`<span class="muted">–</span>`;
  const marks = `${r.current ? ' (current)' : ''}${r.undone ? ' (undone)' : ''}`;
  const rollout =
    r.rollout && r.rollout.state !== 'unknown'
      ? html` <span class="badge rollout-${r.rollout.state}" title="${r.rollout.message ?? r.rollout.health ?? ''}"
          >${r.rollout.state}</span
        >`
      : '';
  const image = v.app.source === 'git' ? html`<span class="muted">–</span>` : valueCell(r, 'image');
  // tabindex: where focus goes when the rows are redrawn under it (after a rollback, "Show older").
  return html`<tr
    ${attrs({ 'data-revision': r.revision, class: r.current ? 'current' : r.undone ? 'undone' : null, tabindex: -1 })}
  >
    <td class="num" data-label="#">${number}${rollback}</td>
    <td data-label="Image">${image}</td>
    <td data-label="Commit">${commit}</td>
    <td data-label="Trigger">${triggerBadge(r)}${r.reason ? html`<small class="reason">${r.reason}</small>` : ''}</td>
    <td data-label="When">${when(r.timestamp, v.now)}${marks}${rollout}</td>
    <td data-label="Author">${authorName(r.author)}</td>
    <td data-label="Who">${r.actor ?? authorName(r.author)}</td>
  </tr> `;
}

/** webhook, manual, promotion (with its source), rollback (with its target), git, revert. */
function triggerBadge(r: HistoryRevision): Html {
  const detail =
    r.trigger === 'promotion' && r.promotedFrom
      ? ` from ${r.promotedFrom}`
      : r.trigger === 'rollback' && r.rolledBackTo
        ? ` to #${r.rolledBackTo}`
        : '';
  return html`<span class="badge trigger-${r.trigger}">${r.trigger}${detail}</span>`;
}

/** The optional Reason of a manual deploy or promotion: the commit's body and `Kipper-Reason` trailer, shown under the trigger. */
function reasonField(id: string): Html {
  return html`<label for="${id}-reason">Reason</label>
    <input id="${id}-reason" name="reason" maxlength="500" autocomplete="off" placeholder="Optional: why (INC-42…)" />`;
}

/**
 * Without JavaScript a row's Rollback button sends the page's one rollback form at once: these
 * fields (tied to it by `form=`) are its reason and lock. With JavaScript the dialog asks instead.
 */
function rollbackOptions(): Html {
  return html`<noscript>
    <fieldset class="rollback-options">
      <legend>Rollback options</legend>
      <label for="rollback-reason-plain">Reason</label>
      <input id="rollback-reason-plain" name="reason" form="rollback-form" maxlength="500" autocomplete="off" />
      <label class="check"
        ><input type="checkbox" name="lock" value="yes" form="rollback-form" /> Lock the app after rolling back</label
      >
    </fieldset>
  </noscript>`;
}

/** A yes/no question before a form is sent (console.js fills in the text). */
export function confirmDialog(): Html {
  return html`<dialog id="confirm-dialog" aria-labelledby="confirm-text">
    <p id="confirm-text"></p>
    <div class="buttons">
      <button type="button" data-confirm>Confirm</button>
      <button type="button" class="quiet" data-cancel>Cancel</button>
    </div>
  </dialog>`;
}

/** The confirmation of a rollback (filled in by console.js from the row's button). */
function rollbackDialog(): Html {
  // A form, so Enter in Reason rolls back (console.js sends it with fetch: no action, no CSRF field).
  return html`<dialog id="rollback-dialog" aria-labelledby="rollback-title" aria-describedby="rollback-change">
    <form id="rollback-dialog-form">
      <h2 id="rollback-title">Roll back</h2>
      <dl>
        <dt>Image</dt>
        <dd><code data-field="target"></code></dd>
        <dt>Commit</dt>
        <dd><code data-field="commit"></code></dd>
      </dl>
      <p id="rollback-change">Changes <code data-field="current"></code> → <code data-field="target"></code></p>
      <label for="rollback-reason">Reason</label>
      <input
        id="rollback-reason"
        name="reason"
        maxlength="500"
        autocomplete="off"
        placeholder="Optional; needed to lock"
      />
      <label class="check"
        ><input type="checkbox" id="rollback-lock" name="lock" value="yes" /> Lock the app after rolling back</label
      >
      <div class="alert" role="alert" data-field="error" hidden></div>
      <div class="buttons">
        <button type="submit" data-confirm>Roll back</button>
        <button type="button" class="quiet" data-cancel>Cancel</button>
      </div>
    </form>
  </dialog>`;
}
