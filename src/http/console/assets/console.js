// Kipper console: what JavaScript adds to pages that work without it — the rollback and
// lock dialogs, live updates (server-sent events, polling as the fallback), "Show older" in
// place, the apps filter as you type, confirmations, copying a new token.

const csrf = document.querySelector('meta[name="csrf-token"]')?.getAttribute('content') ?? '';
const statusRegion = document.getElementById('status');

/** Says `text` in the aria-live status region. */
function announce(text) {
  if (!statusRegion) return;
  statusRegion.textContent = '';
  // A change the screen reader notices even when the text repeats.
  requestAnimationFrame(() => (statusRegion.textContent = text));
}

/** A console action as fetch: form fields and the CSRF token in, JSON out; throws the bridge's `{error}`. */
async function post(path, fields) {
  const body = new URLSearchParams({ ...fields, _csrf: csrf });
  const res = await fetch(path, {
    method: 'POST',
    body,
    headers: { Accept: 'application/json', 'X-CSRF-Token': csrf },
  });
  const json = await res.json().catch(() => ({ error: `the bridge answered ${res.status}` }));
  if (!res.ok)
    throw Object.assign(new Error(json.error ?? `the bridge answered ${res.status}`), {
      status: res.status,
      code: json.code,
    });
  return json;
}

/** Signing in again from a page whose session ended lands back on this page. */
function signInAgainLink() {
  const a = document.createElement('a');
  a.href = `/sign-in?next=${encodeURIComponent(window.location.pathname + window.location.search)}`;
  a.textContent = 'Sign in again';
  return a;
}

// --- Apps: filter as you type -------------------------------------------------------
const filter = document.querySelector('input[data-filter]');
if (filter) {
  const root = document.querySelector(filter.dataset.filter);
  const noMatch = document.getElementById('no-match');
  const apply = () => {
    const wanted = filter.value.trim().toLowerCase();
    const matches = (el) => wanted === '' || el.dataset.filterText.toLowerCase().includes(wanted);
    let shown = 0;
    for (const row of root.querySelectorAll('tr[data-filter-text]')) {
      row.hidden = !matches(row);
      if (!row.hidden) shown++;
      // In a row that matches, the environments that do not are dimmed.
      for (const cell of row.querySelectorAll('td[data-filter-text]')) cell.classList.toggle('dim', !matches(cell));
    }
    if (noMatch) {
      noMatch.textContent = shown === 0 && wanted !== '' ? `No apps match “${filter.value.trim()}”.` : '';
      noMatch.hidden = noMatch.textContent === '';
    }
    const table = root.querySelector('table');
    if (table) table.hidden = shown === 0;
  };
  filter.addEventListener('input', apply);
  filter.form?.addEventListener('submit', (e) => {
    e.preventDefault();
    apply();
  });
}

// --- Tabs: arrow keys move between them -------------------------------------------
const tabs = [...document.querySelectorAll('[role="tab"]')];
for (const [i, tab] of tabs.entries()) {
  tab.addEventListener('keydown', (e) => {
    const step = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
    if (step === 0) return;
    e.preventDefault();
    tabs[(i + step + tabs.length) % tabs.length].focus();
  });
}

// --- Lock: the banner or the Lock button (both tabs) -----------------------------------
const lockRegion = document.getElementById('lock');
const lockDialog = document.getElementById('lock-dialog');

/** Shows the Lock button that opens the dialog (hidden for pages without JavaScript). */
const revealLock = () => lockRegion?.querySelectorAll('[data-open-lock]').forEach((b) => (b.hidden = false));
revealLock();

/** Redraws the lock region as the bridge has it, only when the lock changed (a poll must not move the focus). */
async function refreshLock() {
  if (!lockRegion) return;
  const { app, tab } = lockRegion.dataset;
  const res = await fetch(`/apps/${app}/lock?tab=${tab}`, { headers: { Accept: 'application/json' } }).catch(
    () => null,
  );
  const state = res?.ok ? await res.json() : null;
  if (!state || state.key === lockRegion.dataset.lock) return;
  const hadFocus = lockRegion.contains(document.activeElement);
  lockRegion.innerHTML = state.html;
  lockRegion.dataset.lock = state.key;
  revealLock();
  if (hadFocus) lockRegion.focus();
}

if (lockRegion) {
  const app = lockRegion.dataset.app;
  const lockForm = lockDialog?.querySelector('form');
  const lockError = lockDialog?.querySelector('[data-field="error"]');
  let lockOpener = null;

  lockRegion.addEventListener('click', (e) => {
    const opener = e.target.closest('[data-open-lock]');
    if (!opener || !lockDialog) return;
    lockOpener = opener;
    lockForm.reset();
    lockError.hidden = true;
    lockError.textContent = '';
    lockDialog.showModal();
    lockForm.elements.reason.focus();
  });
  lockDialog?.querySelector('[data-cancel]').addEventListener('click', () => lockDialog.close());
  lockDialog?.addEventListener('close', () => {
    if (lockOpener?.isConnected) lockOpener.focus();
    else lockRegion.focus();
  });
  // The browser checks `required` before this runs; the bridge checks the rest.
  lockForm?.addEventListener('submit', async (e) => {
    e.preventDefault();
    const submit = lockForm.querySelector('button[type="submit"]');
    submit.disabled = true;
    try {
      await post(`/apps/${app}/lock`, { reason: lockForm.elements.reason.value });
      lockDialog.close();
      await refreshLock();
      announce(`Locked ${app}: its webhook deploys nothing until it is unlocked.`);
    } catch (err) {
      lockError.textContent = err.message;
      lockError.hidden = false;
    } finally {
      submit.disabled = false;
    }
  });

  lockRegion.addEventListener('submit', async (e) => {
    const form = e.target.closest('form[data-lock-action="unlock"]');
    if (!form) return;
    e.preventDefault();
    const button = form.querySelector('button');
    button.disabled = true;
    try {
      await post(`/apps/${app}/unlock`, {});
      await refreshLock();
      announce(`Unlocked ${app}: its webhook deploys again.`);
    } catch (err) {
      button.disabled = false;
      announce(`Could not unlock: ${err.message}`);
    }
  });
}

// --- Deploys: rows, rollback dialog, show older ---------------------------------------
const table = document.querySelector('table.deploys');
/** What the live updates call on the Deploys tab (set below when there is one). */
let rowsLive = null;
if (table) {
  const app = table.dataset.app;
  const tbody = table.querySelector('tbody');
  const dialog = document.getElementById('rollback-dialog');
  let shownNewest = Number(tbody.querySelector('tr')?.dataset.revision ?? 0);
  /** The newest revision this page made itself: its own message says so, the live update does not. */
  let ownNewest = 0;
  let opener = null;
  let target = 0;

  /** The first page of rows again, as the server renders them. */
  async function reloadRows() {
    const res = await fetch(`/apps/${app}/rows`, { headers: { Accept: 'application/json' } });
    if (!res.ok) return;
    const page = await res.json();
    tbody.innerHTML = page.html;
    shownNewest = page.current ?? 0;
    const older = document.getElementById('older');
    older.textContent = '';
    if (page.older !== null) older.append(olderLink(page.older));
  }

  function olderLink(before) {
    const a = document.createElement('a');
    a.href = `/apps/${app}?before=${before}`;
    a.dataset.older = String(before);
    a.textContent = 'Show older';
    return a;
  }

  const field = (name) => dialog.querySelectorAll(`[data-field="${name}"]`);
  const setField = (name, text) => field(name).forEach((el) => (el.textContent = text));
  const dialogForm = document.getElementById('rollback-dialog-form');
  const reasonInput = document.getElementById('rollback-reason');
  const lockBox = document.getElementById('rollback-lock');
  const showError = (text, ...extra) => {
    const error = field('error')[0];
    error.textContent = text;
    error.append(...extra);
    error.hidden = text === '';
  };

  /** What a row deployed: its image(s), or a git-source app's commit. */
  const valueOf = (row) => {
    const cells = row?.querySelectorAll('td') ?? [];
    if (table.dataset.source === 'git') return cells[2]?.querySelector('code')?.title ?? '–';
    return cells[1]?.textContent.trim() || '–';
  };

  table.addEventListener('click', (e) => {
    const button = e.target.closest('button[form="rollback-form"]');
    if (!button || !dialog) return;
    e.preventDefault();
    opener = button;
    target = Number(button.value);
    const row = button.closest('tr');
    dialog.querySelector('h2').textContent = `Roll back ${app} to revision ${target}?`;
    setField('target', valueOf(row));
    setField('commit', row.querySelectorAll('td')[2]?.querySelector('code')?.title ?? '–');
    setField('current', valueOf(tbody.querySelector('tr.current')));
    reasonInput.value = '';
    lockBox.checked = false;
    showError('');
    dialog.showModal();
    dialog.querySelector('[data-cancel]').focus();
  });

  dialog?.querySelector('[data-cancel]').addEventListener('click', () => dialog.close());
  dialog?.addEventListener('close', () => {
    // Focus goes back where it came from, or to the table when that row was redrawn.
    if (opener?.isConnected) opener.focus();
    else table.focus();
  });
  // A submit: the Roll back button, or Enter in the Reason field.
  dialogForm?.addEventListener('submit', async (e) => {
    e.preventDefault();
    const reason = reasonInput.value.trim();
    if (lockBox.checked && reason === '') {
      showError('Reason: say why, to lock the app after rolling back (e.g. INC-42: bad image).');
      reasonInput.focus();
      return;
    }
    const confirm = dialog.querySelector('[data-confirm]');
    if (confirm.disabled) return;
    confirm.disabled = true;
    try {
      const fields = {
        revision: String(target),
        ...(reason ? { reason } : {}),
        ...(lockBox.checked ? { lock: 'yes' } : {}),
      };
      const answer = await post(`/apps/${app}/rollback`, fields);
      // Ours: the live update of the same revision has nothing to add.
      shownNewest = Math.max(shownNewest, answer.revision ?? 0);
      ownNewest = Math.max(ownNewest, answer.revision ?? 0);
      dialog.close();
      await reloadRows();
      if (answer.lock) await refreshLock();
      // The row focus was on is gone: the new current row takes it.
      tbody.querySelector('tr.current')?.focus();
      announce(
        `Rolled back ${app} to revision #${answer.rolledBackTo}: now revision #${answer.revision} (current)${answer.lock ? ', and locked' : ''}.`,
      );
    } catch (err) {
      // A session that ended while the dialog was open: a way back, to this page.
      if (err.status === 401)
        showError('Your session has ended: nothing was rolled back. ', signInAgainLink(), ' (then back to this page).');
      else showError(err.message);
    } finally {
      confirm.disabled = false;
    }
  });

  document.getElementById('older')?.addEventListener('click', async (e) => {
    const link = e.target.closest('a[data-older]');
    if (!link) return;
    e.preventDefault();
    const res = await fetch(`/apps/${app}/rows?before=${link.dataset.older}`, {
      headers: { Accept: 'application/json' },
    });
    if (!res.ok) return;
    const page = await res.json();
    const shown = tbody.rows.length;
    tbody.insertAdjacentHTML('beforeend', page.html);
    link.replaceWith(...(page.older === null ? [] : [olderLink(page.older)]));
    // The link focus was on is gone: the first of the rows it brought takes it.
    tbody.rows[shown]?.focus();
  });

  /** A newer revision than the one shown: redraw the rows and say so. */
  async function caughtUp(newest) {
    if (newest <= shownNewest) return;
    await reloadRows();
    // The event may have come before our own action's answer: that answer speaks for it.
    if (newest <= ownNewest) return;
    announce(`New revision #${newest} of ${app}.`);
  }

  rowsLive = {
    revision: caughtUp,
    rollout: reloadRows,
    poll: async () => {
      const res = await fetch(`/apps/${app}/rows`, { headers: { Accept: 'application/json' } }).catch(() => null);
      if (res?.ok) await caughtUp((await res.json()).current ?? 0);
    },
  };
}

// --- Live updates: new revisions, rollouts, a lock made elsewhere ----------------------
const panelApp = document.getElementById('panel')?.dataset.app;
if (panelApp && (rowsLive || lockRegion)) {
  let polling = null;
  const poll = () => {
    polling ??= setInterval(async () => {
      await rowsLive?.poll();
      await refreshLock();
    }, 5000);
  };
  if ('EventSource' in window) {
    const events = new EventSource(`/apps/${panelApp}/events`);
    events.addEventListener('revision', (e) => void rowsLive?.revision(JSON.parse(e.data).revision));
    // A rollout moved on (Argo CD or Flux): the rows show its state.
    events.addEventListener('rollout', () => void rowsLive?.rollout());
    // A lock or unlock (here, in another tab, from kip, by hand in kipper.yaml).
    events.addEventListener('lock', (e) => {
      if (JSON.parse(e.data).key !== lockRegion?.dataset.lock) void refreshLock();
    });
    // The stream reconnects by itself; while it is down, poll.
    events.addEventListener('error', poll);
    events.addEventListener('open', () => {
      clearInterval(polling);
      polling = null;
    });
  } else {
    poll();
  }
}

// --- Confirmations (promote, regenerate, disable) --------------------------------------
const confirmDialog = document.getElementById('confirm-dialog');
for (const button of document.querySelectorAll('button[data-confirm-text]')) {
  button.addEventListener('click', (e) => {
    if (!confirmDialog || button.dataset.confirmed) return;
    e.preventDefault();
    // `{to}`: the value of the form's select (the promotion target).
    const to = button.form?.querySelector('select')?.value ?? '';
    confirmDialog.querySelector('#confirm-text').textContent = button.dataset.confirmText.replace('{to}', to);
    const ok = confirmDialog.querySelector('[data-confirm]');
    const cancel = confirmDialog.querySelector('[data-cancel]');
    const done = () => {
      ok.removeEventListener('click', go);
      cancel.removeEventListener('click', stop);
    };
    const go = () => {
      done();
      button.dataset.confirmed = 'yes';
      confirmDialog.close();
      button.click();
    };
    const stop = () => {
      done();
      confirmDialog.close();
      button.focus();
    };
    ok.addEventListener('click', go);
    cancel.addEventListener('click', stop);
    confirmDialog.showModal();
    cancel.focus();
  });
}

// --- Copy a new token ------------------------------------------------------------------------
for (const button of document.querySelectorAll('button[data-copy]')) {
  button.addEventListener('click', async () => {
    const text = document.querySelector(button.dataset.copy)?.textContent ?? '';
    try {
      await navigator.clipboard.writeText(text);
      announce('Token copied.');
    } catch {
      announce('Copying failed: select the token and copy it by hand.');
    }
  });
}
