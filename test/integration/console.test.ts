import { AxeBuilder } from '@axe-core/playwright';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HistoryAnswer } from '../../src/api-types.js';
import { parseKipperFile } from '../../src/config/kipper-file.js';
import { postWebhook, runKip } from '../helpers/bridge-process.js';
import { launchBrowser } from '../helpers/browser.js';
import { cloneRepo, git, headOf, logOf, showFile } from '../helpers/git-cli.js';
import { startRemoteBridge, type RemoteBridge } from '../helpers/remote-bridge.js';
import { TEST_ADMIN_TOKEN, TEST_SECRET_KEY, tokenFor } from '../helpers/tokens.js';

const FIXTURE = fileURLToPath(new URL('../../fixtures/repos/two-envs/', import.meta.url));
/** Screenshots land here (test artifacts; two of them are copied into docs/ for the README). */
export const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/console/', import.meta.url));
const API = 'yourr-name-test/api';
const FILE = 'apps/yourr-name-test/api/deployment.yaml';
const image = (tag: string) => `registry.example.com/api:${tag}`;

// Issue #11: the console in a real Chromium, against a bridge process on a real remote.
/** An axe-core scan of what `page` shows: no serious or critical violation. */
async function axeScan(page: Page, name: string): Promise<void> {
  const result = await new AxeBuilder({ page }).analyze();
  const serious = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(
    serious.map((v) => `${name}: ${v.id} ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`),
    name,
  ).toEqual([]);
}

describe('the web console', () => {
  let rb: RemoteBridge;
  let browser: Browser;
  let context: BrowserContext;
  const url = (path = '/') => `${rb.bridge.url}${path}`;
  const deploy = async (tag: string) => {
    const res = await postWebhook(
      rb.bridge.url,
      API,
      { image: image(tag), commit: 'abc1234' },
      { 'X-Kipper-Token': tokenFor(TEST_SECRET_KEY, API, 1) },
    );
    expect(res.json.status).toBe('deployed');
    return res.json.configCommit as string;
  };
  const history = async (): Promise<HistoryAnswer> => {
    const res = await runKip(['app', 'history', API, '--json'], {
      KIPPER_URL: rb.bridge.url,
      KIPPER_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    });
    expect(res.code, res.stderr).toBe(0);
    return JSON.parse(res.stdout) as HistoryAnswer;
  };

  /** Signs in on `page` (a context that is signed in already goes straight to the Apps). */
  async function signIn(page: Page): Promise<void> {
    await page.goto(url('/'));
    if ((await page.getByLabel('Admin token').count()) === 0) return;
    await page.getByLabel('Admin token').fill(TEST_ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Apps', level: 1 }).waitFor();
  }

  /** The Deploys table as [revision, trigger badge] pairs, newest first (a reason under the badge is apart). */
  async function rowsOf(page: Page): Promise<Array<[number, string]>> {
    const rows = page.locator('table.deploys tbody tr');
    const out: Array<[number, string]> = [];
    for (const row of await rows.all()) {
      out.push([
        Number(await row.getAttribute('data-revision')),
        ((await row.locator('td').nth(3).locator('.badge').textContent()) ?? '').trim(),
      ]);
    }
    return out;
  }

  /** The lock of API in the remote's kipper.yaml, as git has it (not as the bridge says). */
  const remoteLock = async () => parseKipperFile(await showFile(rb.bare, 'main', 'kipper.yaml')).locks.get(API) ?? null;
  /** A webhook deploy of API, whatever it answers. */
  const webhook = (tag: string) =>
    postWebhook(rb.bridge.url, API, { image: image(tag) }, { 'X-Kipper-Token': tokenFor(TEST_SECRET_KEY, API, 1) });
  /** The admin API on API's lock (`kip app lock|unlock`), as another client would. */
  const adminLock = async (method: 'POST' | 'DELETE', body: Record<string, unknown> = {}) => {
    const res = await fetch(url(`/api/v1/apps/${API}/lock`), {
      method,
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(200);
  };
  /** The lock banner of an app page (the page's own status region is another `status`). */
  const banner = (page: Page) => page.locator('#lock').getByRole('status');

  beforeAll(async () => {
    rb = await startRemoteBridge(FIXTURE, { KIPPER_COMMIT_URL: 'https://git.example.com/acme/config/-/commit/{sha}' });
    // 2, 3: webhook deploys; 4: a human's edit; 5: their `git revert` of it.
    await deploy('abc123f');
    await deploy('def456a');
    const clone = await cloneRepo(rb.server.url('config.git'));
    await writeFile(
      join(clone, FILE),
      (await showFile(rb.bare, 'main', FILE)).replace(image('def456a'), image('human01')),
    );
    await git(['-C', clone, 'commit', '-qam', 'hotfix by hand'], {
      env: { GIT_AUTHOR_NAME: 'Jane Doe', GIT_AUTHOR_EMAIL: 'jane@example.com' },
    });
    await git(['-C', clone, 'revert', '--no-edit', 'HEAD']);
    await git(['-C', clone, 'push', '-q', 'origin', 'HEAD:main']);
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  });
  afterAll(async () => {
    await browser?.close();
    await rb?.bridge.stop();
    await rb?.server.close();
  });

  it('refuses a wrong token, then signs in with a session cookie and lists every app', async () => {
    const page = await context.newPage();
    await page.goto(url('/'));
    await page.getByLabel('Admin token').fill('not-the-admin-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('button', { name: 'Sign in' }).count()).toBe(1);

    await signIn(page);
    for (const id of [
      'yourr-name-test/api',
      'yourr-name-prod/api',
      'yourr-name-test/worker',
      'yourr-name-prod/worker',
      'yourr-name-test/docs',
      'yourr-name-prod/docs',
    ]) {
      expect(await page.getByRole('link', { name: id, exact: true }).count(), id).toBe(1);
    }
    const cookie = (await context.cookies()).find((c) => c.name === 'kipper_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    // The token is in no URL and no storage.
    expect(page.url()).not.toContain(TEST_ADMIN_TOKEN);
    expect(
      await page.evaluate<string>('JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage })'),
    ).not.toContain(TEST_ADMIN_TOKEN);
    expect(rb.bridge.output()).not.toContain(TEST_ADMIN_TOKEN);

    // The filter box narrows the list as you type.
    await page.getByLabel('Filter apps').fill('worker');
    expect(await page.getByRole('link', { name: 'yourr-name-test/worker' }).isVisible()).toBe(true);
    expect(await page.getByRole('link', { name: 'yourr-name-test/api' }).isVisible()).toBe(false);
    await page.close();
  });

  it('shows the same revisions as kip app history, triggers included, with the current one marked', async () => {
    const page = await context.newPage();
    await signIn(page);
    await page.getByRole('link', { name: API, exact: true }).click();
    await page.getByRole('heading', { name: API, level: 1 }).waitFor();
    expect(new URL(page.url()).pathname).toBe(`/apps/${API}`);
    expect(await page.getByRole('tab', { name: 'Deploys' }).getAttribute('aria-selected')).toBe('true');
    expect(await page.getByRole('tab', { name: 'Webhook' }).getAttribute('aria-selected')).toBe('false');
    const kip = await history();
    const headers = await page.locator('table.deploys thead th').allTextContents();
    // Who: who did it (docs/design.md "Who did it"), after DESIGN.md's contract columns.
    expect(headers.map((h) => h.trim())).toEqual(['#', 'Image', 'Commit', 'Trigger', 'When', 'Author', 'Who']);
    const who = await page.locator('table.deploys tbody tr td[data-label="Who"]').allTextContents();
    expect(who.map((w) => w.trim())).toEqual(kip.revisions.map((r) => r.actor));

    expect(await rowsOf(page)).toEqual(kip.revisions.map((r) => [r.revision, r.trigger]));
    const current = page.locator('table.deploys tbody tr').first();
    expect(await current.textContent()).toContain('(current)');
    expect(await current.getByRole('button').count()).toBe(0);
    // Every other row has its Rollback button, but one running the current image (issue 18:
    // the bridge would refuse it) says so instead; the human's reverted edit reads as undone.
    const sameImage = kip.revisions.slice(1).filter((r) => r.image === kip.revisions[0]!.image);
    expect(sameImage.map((r) => r.revision)).toEqual([3]);
    for (const r of kip.revisions.slice(1)) {
      expect(await page.getByRole('button', { name: `Rollback to revision ${r.revision}` }).count()).toBe(
        r.image === kip.revisions[0]!.image ? 0 : 1,
      );
    }
    expect(await page.locator('tr[data-revision="3"]').textContent()).toContain('same image as current');
    expect(await page.locator('tr[data-revision="4"]').textContent()).toContain('(undone)');
    // The config commit links to the git host.
    expect(await page.locator('tr[data-revision="3"] td').first().getByRole('link').getAttribute('href')).toBe(
      `https://git.example.com/acme/config/-/commit/${kip.revisions.find((r) => r.revision === 3)!.configCommit}`,
    );
    await page.close();
  });

  it('rolls back through the dialog: Cancel writes nothing, Roll back writes the rollback commit', async () => {
    const page = await context.newPage();
    await signIn(page);
    await page.goto(url(`/apps/${API}`));
    const target = (await history()).revisions.find((r) => r.revision === 2)!;
    const before = await headOf(rb.bare);

    await page.getByRole('button', { name: 'Rollback to revision 2' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain('revision 2');
    expect(await dialog.textContent()).toContain(image('abc123f'));
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect(await headOf(rb.bare)).toBe(before);

    await page.getByRole('button', { name: 'Rollback to revision 2' }).click();
    await dialog.getByRole('button', { name: 'Roll back' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await page.locator('tr[data-revision="6"].current').waitFor();
    const [top] = await logOf(rb.bare);
    expect(top!.message).toContain(`Kipper-Rollback-To: ${target.configCommit}\n`);
    expect(await page.locator('tr[data-revision="6"]').textContent()).toContain('(current)');
    // announce() writes the status one animation frame after the row appears: wait for it.
    await page.getByRole('status').filter({ hasText: 'revision #2' }).waitFor({ timeout: 5_000 });
    await page.close();
  });

  it('offers no Rollback on a row that runs the current image, says why, and the bridge still refuses it', async () => {
    const page = await context.newPage();
    await signIn(page);
    await page.goto(url(`/apps/${API}`));
    const before = await headOf(rb.bare);
    // Revision 2 runs what is current now (revision 6 went back to it): a rollback to it
    // could only end in a 409 inside the dialog (issue 18), so the row offers none.
    const row = page.locator('tr[data-revision="2"]');
    expect(await row.getByRole('button').count()).toBe(0);
    expect(await row.locator('td').first().textContent()).toContain('same image as current');
    expect(await page.getByRole('button', { name: 'Rollback to revision 1' }).count()).toBe(1);
    // Sent anyway (an older page, a script): a clear error, and nothing written.
    const csrf = (await page.locator('meta[name="csrf-token"]').getAttribute('content'))!;
    const res = await page.request.post(url(`/apps/${API}/rollback`), {
      form: { _csrf: csrf, revision: '2' },
      headers: { accept: 'application/json' },
    });
    expect(res.status()).toBe(409);
    expect(((await res.json()) as { error: string }).error).toContain('already current');
    expect(await headOf(rb.bare)).toBe(before);
    await page.close();
  });

  it('rolls back with the keyboard alone', async () => {
    const page = await context.newPage();
    await signIn(page);
    await page.goto(url(`/apps/${API}`));
    const target = (await history()).revisions.find((r) => r.revision === 3)!;
    const focusedName = () =>
      page.evaluate<string>(
        "document.activeElement?.getAttribute('aria-label') ?? document.activeElement?.textContent?.trim() ?? ''",
      );
    for (let i = 0; i < 60 && (await focusedName()) !== 'Rollback to revision 3'; i++) await page.keyboard.press('Tab');
    expect(await focusedName()).toBe('Rollback to revision 3');
    await page.keyboard.press('Enter');
    await page.getByRole('dialog').waitFor();
    // Focus is in the dialog (on Cancel), and stays there: Roll back is one Shift+Tab away.
    expect(await focusedName()).toBe('Cancel');
    await page.keyboard.press('Shift+Tab');
    expect(await focusedName()).toBe('Roll back');
    await page.keyboard.press('Enter');
    await page.locator('tr[data-revision="7"].current').waitFor();
    expect((await logOf(rb.bare))[0]!.message).toContain(`Kipper-Rollback-To: ${target.configCommit}\n`);
    await page.close();
  });

  it('rolls back without JavaScript: a form POST, then the Deploys tab again', async () => {
    const plain = await browser.newContext({ javaScriptEnabled: false });
    const page = await plain.newPage();
    await signIn(page);
    await page.goto(url(`/apps/${API}`));
    const target = (await history()).revisions.find((r) => r.revision === 2)!;
    await page.getByRole('button', { name: 'Rollback to revision 2' }).click();
    await page.locator('tr[data-revision="8"].current').waitFor();
    expect(new URL(page.url()).pathname).toBe(`/apps/${API}`);
    expect(await page.getByRole('status').textContent()).toContain('revision #2');
    expect((await logOf(rb.bare))[0]!.message).toContain(`Kipper-Rollback-To: ${target.configCommit}\n`);
    await plain.close();
  });

  it('shows a webhook deploy made while the page is open, without a reload', async () => {
    const page = await context.newPage();
    await signIn(page);
    await page.goto(url(`/apps/${API}`));
    let reloads = 0;
    page.on('load', () => reloads++);
    await deploy('live001');
    await page.locator('table.deploys tbody tr').first().getByText(image('live001')).waitFor({ timeout: 5_000 });
    expect(await page.locator('table.deploys tbody tr').first().textContent()).toContain('(current)');
    expect(reloads).toBe(0);
    await page.close();
  });

  it('refuses a POST without the CSRF token, a signed-out POST and a wrong sign-in, writing nothing', async () => {
    const page = await context.newPage();
    await signIn(page);
    const before = await headOf(rb.bare);
    const cookie = (await context.cookies()).find((c) => c.name === 'kipper_session')!;
    const post = (path: string, body: string, headers: Record<string, string> = {}) =>
      fetch(url(path), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...headers },
        body,
        redirect: 'manual',
      });
    expect(
      (await post(`/apps/${API}/rollback`, 'revision=1', { cookie: `kipper_session=${cookie.value}` })).status,
    ).toBe(403);
    expect(
      (await post(`/apps/${API}/rollback`, 'revision=1&_csrf=forged', { cookie: `kipper_session=${cookie.value}` }))
        .status,
    ).toBe(403);
    expect((await post(`/apps/${API}/rollback`, 'revision=1')).status).toBe(401);
    expect((await post(`/apps/${API}/webhook/disable`, '')).status).toBe(401);
    // Issue #13's lock and unlock are console actions like the others.
    expect((await post(`/apps/${API}/lock`, 'reason=INC-1', { cookie: `kipper_session=${cookie.value}` })).status).toBe(
      403,
    );
    expect((await post(`/apps/${API}/lock`, 'reason=INC-1')).status).toBe(401);
    expect((await post(`/apps/${API}/unlock`, '', { cookie: `kipper_session=${cookie.value}` })).status).toBe(403);
    expect((await post(`/apps/${API}/unlock`, '')).status).toBe(401);
    expect((await post('/sign-in', `token=${TEST_ADMIN_TOKEN}`)).status).toBe(403);
    expect(await headOf(rb.bare)).toBe(before);
    await page.close();
  });

  it('makes, shows once and disables a webhook token from the Webhook tab', async () => {
    const page = await context.newPage();
    await signIn(page);
    const app = 'yourr-name-prod/api';
    await page.goto(url(`/apps/${app}/webhook`));
    expect(await page.getByRole('tab', { name: 'Webhook' }).getAttribute('aria-selected')).toBe('true');
    expect(await page.locator('#webhook-state').textContent()).toBe('disabled');
    expect(await page.locator('pre').first().textContent()).toContain(`${rb.bridge.url}/api/v1/webhook/${app}`);
    await page.getByRole('button', { name: 'Enable' }).click();
    const token = (await page.locator('#new-token').textContent())!.trim();
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect(await page.getByRole('button', { name: 'Copy token' }).count()).toBe(1);
    const deployed = await postWebhook(rb.bridge.url, app, { image: image('prod01') }, { 'X-Kipper-Token': token });
    expect(deployed.json.status).toBe('deployed');
    // Shown once: the tab read again does not show it.
    await page.goto(url(`/apps/${app}/webhook`));
    expect(await page.locator('#new-token').count()).toBe(0);
    expect(await page.content()).not.toContain(token);
    // Regenerate asks first, saying the old token stops working.
    await page.getByRole('button', { name: 'Regenerate token' }).click();
    expect(await page.getByRole('dialog').textContent()).toContain('old token stops working');
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    const regenerated = (await page.locator('#new-token').textContent())!.trim();
    expect(regenerated).not.toBe(token);
    expect(
      (await postWebhook(rb.bridge.url, app, { image: image('prod02') }, { 'X-Kipper-Token': token })).status,
    ).toBe(401);
    await page.getByRole('button', { name: 'Disable' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    await page.locator('#webhook-state', { hasText: 'disabled' }).waitFor();
    expect(
      (await postWebhook(rb.bridge.url, app, { image: image('prod03') }, { 'X-Kipper-Token': regenerated })).status,
    ).toBe(401);
    await page.close();
  });

  it('updates an image and promotes it to another environment', async () => {
    const page = await context.newPage();
    await signIn(page);
    await page.goto(url(`/apps/${API}`));
    await page.getByLabel('Image', { exact: true }).fill(image('manual01'));
    await page.getByRole('button', { name: 'Update image' }).click();
    await page.getByRole('status').getByText('Deployed').waitFor();
    expect((await logOf(rb.bare))[0]!.message).toContain('Kipper-Trigger: manual\n');
    await page.getByRole('button', { name: 'Promote' }).click();
    expect(await page.getByRole('dialog').textContent()).toContain('yourr-name-prod');
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    await page.getByRole('status').getByText('Promoted').waitFor();
    expect(await showFile(rb.bare, 'main', 'apps/yourr-name-prod/api/deployment.yaml')).toContain(image('manual01'));
    await page.close();
  });

  it('passes an accessibility scan on every page, and serves a strict CSP', async () => {
    const page = await context.newPage();
    const scan = (name: string) => axeScan(page, name);
    const signedOut = await browser.newContext();
    const outPage = await signedOut.newPage();
    const res = await outPage.goto(url('/'));
    expect(res!.headers()['content-security-policy']).toMatch(/default-src 'self'.*frame-ancestors 'none'/);
    expect(res!.headers()['content-security-policy']).not.toContain('unsafe-inline');
    expect(res!.headers()['referrer-policy']).toBe('same-origin');
    await new AxeBuilder({ page: outPage }).analyze().then((r) => {
      expect(r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id)).toEqual(
        [],
      );
    });
    await signedOut.close();
    await signIn(page);
    await scan('apps');
    await page.goto(url(`/apps/${API}`));
    await scan('deploys');
    await page.getByRole('button', { name: 'Rollback to revision 2' }).click();
    await page.getByRole('dialog').waitFor();
    await scan('rollback dialog');
    await page.goto(url(`/apps/${API}/webhook`));
    await scan('webhook');
    await page.close();
  });

  it('keeps the Deploys tab under 20 KB on the wire (80 KB unpacked), shows 50 rows, then older ones on request', async () => {
    for (let i = 0; i < 50; i++) await deploy(`many${String(i).padStart(2, '0')}`);
    const page = await context.newPage();
    await signIn(page);
    const counted: Array<Promise<{ wire: number; unpacked: number }>> = [];
    page.on('requestfinished', (request) => {
      counted.push(
        Promise.all([request.sizes(), request.response().then((r) => r?.body())]).then(([sizes, body]) => ({
          wire: sizes.responseBodySize,
          unpacked: body?.length ?? 0,
        })),
      );
    });
    await page.goto(url(`/apps/${API}`), { waitUntil: 'networkidle' });
    const sizes = await Promise.all(counted);
    const wire = sizes.reduce((n, s) => n + s.wire, 0);
    const unpacked = sizes.reduce((n, s) => n + s.unpacked, 0);
    expect(wire).toBeGreaterThan(0);
    // gzip: the page, its script and its stylesheet.
    expect(wire).toBeLessThan(20 * 1024);
    expect(unpacked).toBeGreaterThan(2 * wire);
    expect(unpacked).toBeLessThan(80 * 1024);
    expect(await page.locator('table.deploys tbody tr').count()).toBe(50);
    const total = (await history()).revisions.length;
    await page.getByRole('link', { name: 'Show older' }).click();
    await page.locator(`tr[data-revision="1"]`).waitFor();
    expect(await page.locator('table.deploys tbody tr').count()).toBe(total);
    await page.close();
  });

  it('writes screenshots of the sign-in, Apps and Deploys pages at 1440 and 375 px', async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    for (const width of [1440, 375]) {
      const shots = await browser.newContext({ viewport: { width, height: width > 500 ? 900 : 800 } });
      const page = await shots.newPage();
      await page.goto(url('/'));
      await page.screenshot({ path: join(ARTIFACTS, `sign-in-${width}.png`), fullPage: true });
      await signIn(page);
      await page.screenshot({ path: join(ARTIFACTS, `apps-${width}.png`), fullPage: true });
      await page.goto(url(`/apps/${API}`));
      await page.screenshot({ path: join(ARTIFACTS, `deploys-${width}.png`), fullPage: false });
      // Usable at this width: nothing runs off the side of the page itself.
      expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(width);
      await shots.close();
    }
  });

  // Issue #13: locks and reasons in the console.
  it('locks an app by mouse with a reason: banner, lock in kipper.yaml, webhook 423; Unlock lets it deploy again', async () => {
    const page = await context.newPage();
    await signIn(page);
    await page.goto(url(`/apps/${API}`));
    let reloads = 0;
    page.on('load', () => reloads++);
    expect(await banner(page).count()).toBe(0);
    const before = await headOf(rb.bare);

    // Cancel writes nothing; neither does Lock with an empty reason (the field is required).
    await page.getByRole('button', { name: 'Lock', exact: true }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    expect(await dialog.getByRole('heading').textContent()).toContain(API);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await page.getByRole('button', { name: 'Lock', exact: true }).click();
    await dialog.getByRole('button', { name: 'Lock', exact: true }).click();
    expect(
      await dialog
        .getByLabel('Reason')
        .evaluate((el) => (el as unknown as { validity: { valueMissing: boolean } }).validity.valueMissing),
    ).toBe(true);
    expect(await dialog.isVisible()).toBe(true);
    expect(await headOf(rb.bare)).toBe(before);

    await dialog.getByLabel('Reason').fill('INC-7: bad image in test');
    await dialog.getByRole('button', { name: 'Lock', exact: true }).click();
    await dialog.waitFor({ state: 'hidden' });
    await banner(page).waitFor();
    expect((await banner(page).textContent())!.trim()).toMatch(
      /^Locked by console \d+ sec ago: INC-7: bad image in test$/,
    );
    expect(await page.getByRole('button', { name: 'Unlock' }).count()).toBe(1);
    expect(await page.getByRole('button', { name: 'Lock', exact: true }).count()).toBe(0);
    expect(reloads).toBe(0);
    // One commit, to kipper.yaml, in the remote.
    const log = await logOf(rb.bare);
    expect(log[1]!.oid).toBe(before);
    expect(await remoteLock()).toMatchObject({ reason: 'INC-7: bad image in test', by: 'console' });
    const refused = await webhook('locked01');
    expect(refused.status).toBe(423);
    expect(refused.json.code).toBe('APP_LOCKED');

    // The Webhook tab shows the banner too, and the Apps list marks the app.
    await page.goto(url(`/apps/${API}/webhook`));
    expect(await banner(page).textContent()).toContain('INC-7: bad image in test');
    expect(await page.getByRole('button', { name: 'Unlock' }).count()).toBe(1);
    await page.goto(url('/'));
    // The Apps matrix: one cell per app (its environment's column).
    const cell = page.getByRole('cell').filter({ has: page.getByRole('link', { name: API, exact: true }) });
    const badge = cell.locator('.badge.locked');
    expect(await badge.textContent()).toContain('Locked');
    expect(await badge.getAttribute('title')).toBe('Locked by console: INC-7: bad image in test');
    expect(
      await page
        .getByRole('cell')
        .filter({ has: page.getByRole('link', { name: 'yourr-name-prod/api', exact: true }) })
        .locator('.badge.locked')
        .count(),
    ).toBe(0);

    // Unlock: the banner goes without a reload, and the webhook deploys again.
    await page.goto(url(`/apps/${API}`));
    reloads = 0;
    await page.getByRole('button', { name: 'Unlock' }).click();
    await banner(page).waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Lock', exact: true }).waitFor();
    expect(reloads).toBe(0);
    expect(await remoteLock()).toBeNull();
    expect((await webhook('unlocked01')).json.status).toBe('deployed');
    await page.close();
  });

  it('rolls back with a reason and "Lock the app after rolling back": one commit, the reason in the row, the banner', async () => {
    const page = await context.newPage();
    await signIn(page);
    await page.goto(url(`/apps/${API}`));
    const kip = await history();
    const current = kip.revisions[0]!;
    const target = kip.revisions.slice(1).find((r) => r.image !== current.image)!;
    const before = await headOf(rb.bare);

    await page.getByRole('button', { name: `Rollback to revision ${target.revision}` }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    // Locking needs a reason: a clear error, and nothing written.
    await dialog.getByRole('checkbox', { name: 'Lock the app after rolling back' }).check();
    await dialog.getByRole('button', { name: 'Roll back' }).click();
    expect(await dialog.getByRole('alert').textContent()).toContain('Reason');
    expect(await headOf(rb.bare)).toBe(before);

    // User text with markup in it: shown as text in the row and the banner, never run or parsed.
    const reason = 'INC-8 <script>window.pwned = 1</script><b>bold</b> & "quoted"';
    await dialog.getByLabel('Reason').fill(reason);
    await dialog.getByRole('button', { name: 'Roll back' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const newRow = page.locator(`tr[data-revision="${current.revision + 1}"].current`);
    await newRow.waitFor();
    await banner(page).waitFor();

    // One commit: the rollback and the lock together.
    const log = await logOf(rb.bare);
    expect(log[1]!.oid).toBe(before);
    expect(log[0]!.message).toContain(`Kipper-Rollback-To: ${target.configCommit}\n`);
    expect(await git(['--git-dir', rb.bare, 'diff', '--name-only', before, log[0]!.oid])).toContain('kipper.yaml');
    expect(await remoteLock()).toMatchObject({ reason, by: 'console' });
    expect((await history()).revisions[0]!.reason).toBe(reason);

    const trigger = newRow.locator('td').nth(3);
    expect(await trigger.locator('.badge').textContent()).toBe(`rollback to #${target.revision}`);
    expect(await trigger.locator('.reason').textContent()).toBe(reason);
    expect((await banner(page).textContent())!.trim()).toMatch(/^Locked by console \d+ sec ago: /);
    expect(await banner(page).locator('.lock-reason').textContent()).toBe(reason);
    expect(await page.locator('#deploys script, #deploys b, #lock script, #lock b').count()).toBe(0);
    expect(await page.evaluate<unknown>('window.pwned')).toBeUndefined();
    expect(await page.getByRole('status').filter({ hasText: 'Rolled back' }).textContent()).toContain('locked');
    // As the server renders it too (not only as console.js inserted it).
    await page.reload();
    expect(await page.locator('#lock .lock-reason').textContent()).toBe(reason);
    expect(await page.locator(`tr[data-revision="${current.revision + 1}"] .reason`).textContent()).toBe(reason);
    expect(await page.locator('#deploys script, #lock script').count()).toBe(0);
    expect((await webhook('locked02')).status).toBe(423);
    await page.close();
  });

  it('unlocks, locks and rolls back with a reason without JavaScript: plain forms, answers on the same tab', async () => {
    const plain = await browser.newContext({ javaScriptEnabled: false });
    const page = await plain.newPage();
    await signIn(page);
    await adminLock('POST', { reason: 'INC-9: set elsewhere' });

    // Unlock from the Webhook tab: back on the Webhook tab, unlocked.
    await page.goto(url(`/apps/${API}/webhook`));
    expect(await banner(page).textContent()).toContain('INC-9: set elsewhere');
    await page.getByRole('button', { name: 'Unlock' }).click();
    await page.locator('#status', { hasText: 'Unlocked' }).waitFor();
    expect(new URL(page.url()).pathname).toBe(`/apps/${API}/webhook`);
    expect(await banner(page).count()).toBe(0);
    expect(await remoteLock()).toBeNull();

    // Lock from the Deploys tab: the form with its Reason field is on the page itself.
    await page.goto(url(`/apps/${API}`));
    const lockForm = page.getByRole('form', { name: `Lock ${API}` });
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'lock-without-js-1440.png') });
    await lockForm.getByLabel('Reason').fill('INC-10: <script>no JS here</script>');
    await lockForm.getByRole('button', { name: 'Lock' }).click();
    await page.locator('#status', { hasText: 'Locked' }).waitFor();
    expect(new URL(page.url()).pathname).toBe(`/apps/${API}`);
    expect(await banner(page).locator('.lock-reason').textContent()).toBe('INC-10: <script>no JS here</script>');
    expect(await remoteLock()).toMatchObject({ reason: 'INC-10: <script>no JS here</script>', by: 'console' });

    // A POST without a reason is refused, writing nothing.
    const before = await headOf(rb.bare);
    const csrf = (await page.locator('meta[name="csrf-token"]').getAttribute('content'))!;
    const empty = await plain.request.post(url(`/apps/${API}/lock`), {
      form: { _csrf: csrf, reason: ' ' },
      maxRedirects: 0,
    });
    expect(empty.status()).toBe(400);
    expect(await empty.text()).toContain('Reason');

    // Rollback with its options: the lock box without a reason is refused with the page and an alert.
    const kip = await history();
    const target = kip.revisions.slice(1).find((r) => r.image !== kip.revisions[0]!.image)!;
    const options = page.getByRole('group', { name: 'Rollback options' });
    await options.getByRole('checkbox', { name: 'Lock the app after rolling back' }).check();
    await page.getByRole('button', { name: `Rollback to revision ${target.revision}` }).click();
    // The deploy service's refusal, as every client of the bridge gets it.
    expect(await page.getByRole('alert').textContent()).toContain('a rollback that locks needs a reason: say why');
    expect(await headOf(rb.bare)).toBe(before);
    await page.goto(url(`/apps/${API}`));
    await options.getByLabel('Reason').fill('INC-11: back to the last good one');
    await page.getByRole('button', { name: `Rollback to revision ${target.revision}` }).click();
    await page.locator(`tr[data-revision="${kip.revisions[0]!.revision + 1}"].current`).waitFor();
    expect(await page.locator('#status').textContent()).toContain(`revision #${target.revision}`);
    expect(await page.locator('tr.current .reason').textContent()).toBe('INC-11: back to the last good one');
    // Unchecked: the lock of INC-10 stays as it was.
    expect(await remoteLock()).toMatchObject({ reason: 'INC-10: <script>no JS here</script>' });
    await adminLock('DELETE');
    await plain.close();
  });

  it('shows a lock made elsewhere (kip, another replica) without a reload', async () => {
    const page = await context.newPage();
    await signIn(page);
    await page.goto(url(`/apps/${API}`));
    let reloads = 0;
    page.on('load', () => reloads++);
    expect(await banner(page).count()).toBe(0);
    await adminLock('POST', { reason: 'INC-12: from the CLI', by: 'ana' });
    await banner(page).getByText('INC-12: from the CLI').waitFor({ timeout: 5_000 });
    expect((await banner(page).textContent())!.trim()).toMatch(/^Locked by ana \d+ sec ago: INC-12: from the CLI$/);
    await adminLock('DELETE');
    await banner(page).waitFor({ state: 'detached', timeout: 5_000 });
    await page.getByRole('button', { name: 'Lock', exact: true }).waitFor();
    expect(reloads).toBe(0);
    await page.close();
  });

  it('updates an image and promotes with a reason, shown under the trigger', async () => {
    const page = await context.newPage();
    await signIn(page);
    await page.goto(url(`/apps/${API}`));
    const deployForm = page.locator('form[data-action="deploy"]');
    await deployForm.getByLabel('Image', { exact: true }).fill(image('reason01'));
    await deployForm.getByLabel('Reason').fill('hotfix for INC-13');
    await deployForm.getByRole('button', { name: 'Update image' }).click();
    await page.locator('#status', { hasText: 'Deployed' }).waitFor();
    expect((await logOf(rb.bare))[0]!.message).toContain('Kipper-Reason: hotfix for INC-13\n');
    expect(await page.locator('tr.current .reason').textContent()).toBe('hotfix for INC-13');
    // Every row shows the reason its revision has in `kip app history`, and a row without one shows none.
    const shown: Array<[number, string[]]> = [];
    for (const row of await page.locator('table.deploys tbody tr').all()) {
      shown.push([Number(await row.getAttribute('data-revision')), await row.locator('.reason').allTextContents()]);
    }
    const kip = await history();
    expect(shown).toEqual(
      kip.revisions.slice(0, shown.length).map((r) => [r.revision, r.reason === null ? [] : [r.reason]]),
    );
    expect(shown.filter(([, reasons]) => reasons.length === 0).length, 'rows without a reason').toBeGreaterThan(0);
    expect(shown.filter(([, reasons]) => reasons.length === 1).length, 'rows with a reason').toBeGreaterThan(1);

    const promoteForm = page.locator('form[data-action="promote"]');
    await promoteForm.getByLabel('Reason').fill('INC-13 fixed in test');
    await promoteForm.getByRole('button', { name: 'Promote' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    await page.locator('#status', { hasText: 'Promoted' }).waitFor();
    const top = (await logOf(rb.bare))[0]!.message;
    expect(top).toContain('Kipper-Promoted-From: yourr-name-test\n');
    expect(top).toContain('Kipper-Reason: INC-13 fixed in test\n');
    await page.close();
  });

  it('passes an accessibility scan locked and unlocked, and fits 375 px with the banner', async () => {
    const page = await context.newPage();
    const scan = (name: string) => axeScan(page, name);
    await signIn(page);
    await page.goto(url(`/apps/${API}`));
    await page.getByRole('button', { name: 'Lock', exact: true }).click();
    await page.getByRole('dialog').waitFor();
    await scan('lock dialog');
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'lock-dialog-1440.png') });
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
    await page.locator('table.deploys tbody tr:not(.current)').first().getByRole('button').click();
    await page.getByRole('dialog').waitFor();
    await scan('rollback dialog with reason and lock');
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();

    await adminLock('POST', { reason: 'INC-14: <b>frozen</b> for the release', by: 'console' });
    await page.goto(url(`/apps/${API}`));
    await banner(page).waitFor();
    await scan('deploys, locked');
    await page.goto(url(`/apps/${API}/webhook`));
    await scan('webhook, locked');
    await page.goto(url('/'));
    await scan('apps, one locked');

    for (const [width, scheme] of [
      [1440, 'light'],
      [375, 'dark'],
    ] as const) {
      const shots = await browser.newContext({
        viewport: { width, height: width > 500 ? 900 : 800 },
        colorScheme: scheme,
      });
      const shot = await shots.newPage();
      await signIn(shot);
      await shot.goto(url(`/apps/${API}`));
      await banner(shot).waitFor();
      await shot.screenshot({ path: join(ARTIFACTS, `locked-${width}-${scheme}.png`), fullPage: false });
      expect(await shot.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(width);
      await shots.close();
    }
    await adminLock('DELETE');
    await page.close();
  });
});
