import { AxeBuilder } from '@axe-core/playwright';
import { createHmac } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HistoryAnswer } from '../../src/api-types.js';
import { postWebhook } from '../helpers/bridge-process.js';
import { launchBrowser } from '../helpers/browser.js';
import { eventually } from '../helpers/eventually.js';
import { cloneRepo, git, headOf, logOf, showFile } from '../helpers/git-cli.js';
import { startRemoteBridge, type RemoteBridge } from '../helpers/remote-bridge.js';
import { TEST_ADMIN_TOKEN, TEST_SECRET_KEY, tokenFor } from '../helpers/tokens.js';

// Issue 18, sections 4 and 5: the console's sharp edges, in a real Chromium against a
// bridge process on a real remote.
const FIXTURE = fileURLToPath(new URL('../../fixtures/repos/two-envs/', import.meta.url));
const API = 'yourr-name-test/api';
const FILE = 'apps/yourr-name-test/api/deployment.yaml';
const image = (tag: string) => `registry.example.com/api:${tag}`;
/** Revisions a human pushes in one go: more than the 50 rows of one page. */
const BULK = 55;

/** A console session cookie as the bridge seals it (docs: HMAC of the payload with the key derived from the secret key). */
function sealedSession(session: Record<string, unknown>): string {
  const key = createHmac('sha256', TEST_SECRET_KEY).update('kipper key: console sessions').digest();
  const payload = Buffer.from(JSON.stringify(session), 'utf8').toString('base64url');
  return `v1.${payload}.${createHmac('sha256', key).update(`v1.${payload}`).digest('base64url')}`;
}

/** Signs in on the sign-in page `page` shows now, and waits for the page it lands on. */
async function signInHere(page: Page): Promise<void> {
  await page.getByLabel('Admin token').fill(TEST_ADMIN_TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByLabel('Admin token').waitFor({ state: 'detached' });
  await page.getByRole('heading', { level: 1 }).waitFor();
}

describe('the console, issue 18', () => {
  let rb: RemoteBridge;
  let browser: Browser;
  let context: BrowserContext;
  const url = (path = '/') => `${rb.bridge.url}${path}`;
  const history = async (): Promise<HistoryAnswer> => {
    const res = await fetch(url(`/api/v1/apps/${API}/history`), {
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    });
    return (await res.json()) as HistoryAnswer;
  };
  const signIn = async (page: Page) => {
    await page.goto(url('/'));
    if ((await page.getByLabel('Admin token').count()) > 0) await signInHere(page);
  };

  beforeAll(async () => {
    rb = await startRemoteBridge(FIXTURE);
    // 55 revisions by hand, pushed at once, then two webhook deploys.
    const clone = await cloneRepo(rb.server.url('config.git'));
    const seed = await showFile(rb.bare, 'main', FILE);
    const seedImage = /image: (\S+)/.exec(seed)![1]!;
    for (let i = 0; i < BULK; i++) {
      await writeFile(join(clone, FILE), seed.replace(seedImage, image(`bulk${String(i).padStart(2, '0')}`)));
      await git(['-C', clone, 'commit', '-qam', `bulk ${i}`]);
    }
    await git(['-C', clone, 'push', '-q', 'origin', 'HEAD:main']);
    await eventually(
      'the bridge sees the pushed revisions',
      async () => (await history()).revisions.length === BULK + 1,
    );
    for (const tag of ['abc123f', 'def456a']) {
      const res = await postWebhook(
        rb.bridge.url,
        API,
        { image: image(tag) },
        { 'X-Kipper-Token': tokenFor(TEST_SECRET_KEY, API, 1) },
      );
      expect(res.json.status).toBe('deployed');
    }
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  });
  afterAll(async () => {
    await browser?.close();
    await rb?.bridge.stop();
    await rb?.server.close();
  });

  it('lands on the page asked for after signing in, and never on another origin', async () => {
    const fresh = await browser.newContext();
    const page = await fresh.newPage();
    const res = await page.goto(url(`/apps/${API}?before=20`));
    expect(res!.status()).toBe(401);
    await signInHere(page);
    expect(`${new URL(page.url()).pathname}${new URL(page.url()).search}`).toBe(`/apps/${API}?before=20`);
    await page.getByRole('heading', { name: API, level: 1 }).waitFor();

    await page.goto(url(`/sign-in?next=${encodeURIComponent(`/apps/${API}/webhook`)}`));
    expect(new URL(page.url()).pathname).toBe(`/apps/${API}/webhook`);
    expect(await page.getByRole('tab', { name: 'Webhook' }).getAttribute('aria-selected')).toBe('true');

    // Signed in or not, `next` is a path of this console or nothing.
    for (const evil of [
      '//evil.example/x',
      'https://evil.example/',
      '/\\evil.example',
      'javascript:alert(1)',
      '/\r\nSet-Cookie: x=1',
    ]) {
      await page.goto(url(`/sign-in?next=${encodeURIComponent(evil)}`));
      expect(new URL(page.url()).origin, evil).toBe(new URL(rb.bridge.url).origin);
      const signedOut = await browser.newContext();
      const out = await signedOut.newPage();
      await out.goto(url(`/sign-in?next=${encodeURIComponent(evil)}`));
      await signInHere(out);
      expect(new URL(out.url()).origin, evil).toBe(new URL(rb.bridge.url).origin);
      expect(out.url()).not.toContain('evil.example');
      await signedOut.close();
    }
    await fresh.close();
  });

  it('rolls back on Enter in the Reason field, then focuses the new current row', async () => {
    const page = await context.newPage();
    await signIn(page);
    await page.goto(url(`/apps/${API}`));
    const before = await history();
    const current = before.revisions[0]!;
    await page.getByRole('button', { name: 'Rollback to revision 57' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Reason').fill('INC-18: Enter submits');
    await dialog.getByLabel('Reason').press('Enter');
    await dialog.waitFor({ state: 'hidden' });
    const row = page.locator(`tr[data-revision="${current.revision + 1}"].current`);
    await row.waitFor();
    expect((await logOf(rb.bare))[0]!.message).toContain('Kipper-Reason: INC-18: Enter submits\n');
    // Focus is on the new current row, not dropped to <body> with the redrawn rows.
    await eventually('focus on the new current row', () =>
      page.evaluate<boolean>(
        `document.activeElement?.matches('tr.current[data-revision="${current.revision + 1}"]') ?? false`,
      ),
    );
    await page.close();
  });

  it('offers "Sign in again" back to this page when the session ended while the dialog was open', async () => {
    const own = await browser.newContext();
    const page = await own.newPage();
    await signIn(page);
    await page.goto(url(`/apps/${API}?before=40`));
    const head = await headOf(rb.bare);
    await page.getByRole('button', { name: 'Rollback to revision 30' }).click();
    await own.clearCookies();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('button', { name: 'Roll back' }).click();
    await dialog.getByRole('alert').getByText('session has ended').waitFor();
    expect(await headOf(rb.bare)).toBe(head);
    await dialog.getByRole('link', { name: 'Sign in again' }).click();
    await page.getByLabel('Admin token').waitFor();
    await signInHere(page);
    expect(`${new URL(page.url()).pathname}${new URL(page.url()).search}`).toBe(`/apps/${API}?before=40`);
    await page.getByRole('button', { name: 'Rollback to revision 30' }).waitFor();
    await own.close();
  });

  it('focuses the first of the older rows after "Show older"', async () => {
    const page = await context.newPage();
    await signIn(page);
    await page.goto(url(`/apps/${API}`));
    const older = Number(await page.getByRole('link', { name: 'Show older' }).getAttribute('data-older'));
    await page.getByRole('link', { name: 'Show older' }).click();
    await page.locator(`tr[data-revision="${older - 1}"]`).waitFor();
    await eventually('focus on the first older row', () =>
      page.evaluate<boolean>(`document.activeElement?.matches('tr[data-revision="${older - 1}"]') ?? false`),
    );
    await page.close();
  });

  it('says "No apps match …" when the filter matches nothing, with and without JavaScript', async () => {
    const page = await context.newPage();
    await signIn(page);
    await page.getByLabel('Filter apps').fill('zzz-nothing');
    const message = page.getByText('No apps match “zzz-nothing”.');
    await message.waitFor();
    expect(await message.isVisible()).toBe(true);
    await page.getByLabel('Filter apps').fill('worker');
    await message.waitFor({ state: 'hidden' });
    expect(await page.getByRole('link', { name: 'yourr-name-prod/worker' }).isVisible()).toBe(true);

    const plain = await browser.newContext({ javaScriptEnabled: false });
    const noJs = await plain.newPage();
    await signIn(noJs);
    await noJs.goto(url('/?q=zzz-nothing'));
    expect(await noJs.getByText('No apps match “zzz-nothing”.').isVisible()).toBe(true);
    await plain.close();
    await page.close();
  });

  it('stacks the Deploys table at 375 px: every cell on screen, labelled with its column', async () => {
    const narrow = await browser.newContext({ viewport: { width: 375, height: 800 } });
    const page = await narrow.newPage();
    await signIn(page);
    await page.goto(url(`/apps/${API}`));
    const row = page.locator('table.deploys tbody tr:not(.current)').first();
    const labels = ['#', 'Image', 'Commit', 'Trigger', 'When', 'Author', 'Who'];
    for (const [i, label] of labels.entries()) {
      const cell = row.locator('td').nth(i);
      const box = (await cell.boundingBox())!;
      expect(box.x, label).toBeGreaterThanOrEqual(0);
      expect(box.x + box.width, label).toBeLessThanOrEqual(375);
      const before = `getComputedStyle(document.querySelector('table.deploys tbody tr:not(.current)').cells[${i}], '::before').content`;
      expect(await page.evaluate<string>(before), label).toBe(JSON.stringify(label));
    }
    expect(await row.getByRole('button', { name: /^Rollback to revision \d+$/ }).isVisible()).toBe(true);
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(375);
    // The cards are still a table to assistive technology, and pass axe like the wide pages.
    const scan = async (name: string) => {
      const serious = (await new AxeBuilder({ page }).analyze()).violations.filter(
        (v) => v.impact === 'serious' || v.impact === 'critical',
      );
      expect(serious.map((v) => `${name}: ${v.id}`)).toEqual([]);
    };
    await scan('deploys at 375 px');
    expect(await page.getByRole('columnheader', { name: 'Commit' }).count()).toBe(1);
    await page.goto(url('/'));
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(375);
    await scan('apps at 375 px');
    await narrow.close();
  });

  it('shows status messages in the flow, never over the table', async () => {
    const page = await context.newPage();
    await signIn(page);
    await page.goto(url(`/apps/${API}`));
    await page.locator('form[data-action="deploy"]').getByLabel('Image', { exact: true }).fill(image('toast01'));
    await page.getByRole('button', { name: 'Update image' }).click();
    const status = page.locator('#status', { hasText: 'Deployed' });
    await status.waitFor();
    const a = (await status.boundingBox())!;
    const table = (await page.locator('table.deploys').boundingBox())!;
    const overlaps =
      a.x < table.x + table.width &&
      table.x < a.x + a.width &&
      a.y < table.y + table.height &&
      table.y < a.y + a.height;
    expect(overlaps).toBe(false);
    await page.close();
  });

  it('serves /favicon.ico', async () => {
    const page = await context.newPage();
    const res = (await page.goto(url('/favicon.ico')))!;
    expect(res.status()).toBe(200);
    expect(res.headers()['content-type']).toBe('image/x-icon');
    expect((await res.body()).subarray(0, 4)).toEqual(Buffer.from([0, 0, 1, 0]));
    await page.close();
  });

  it('never echoes the query into the status line: messages are one-time flashes from the action', async () => {
    const plain = await browser.newContext({ javaScriptEnabled: false });
    const page = await plain.newPage();
    await signIn(page);
    const crafted = `/apps/${API}?done=rolled-back&to=${encodeURIComponent('1: Session expired, re-enter your token at https://evil.example')}&rev=2`;
    await page.goto(url(crafted));
    expect(await page.locator('#status').textContent()).toBe('');
    expect(await page.content()).not.toContain('evil.example');
    await page.goto(url(`/apps/${API}/webhook?done=locked`));
    expect(await page.locator('#status').textContent()).toBe('');

    // A real action says what it did, once, with nothing in the URL.
    const target = (await history()).revisions.find((r) => r.revision === 20)!;
    await page.goto(url(`/apps/${API}?before=21`));
    await page.getByRole('button', { name: 'Rollback to revision 20' }).click();
    await page.locator('#status', { hasText: 'Rolled back to revision #20' }).waitFor();
    expect(new URL(page.url()).search).toBe('');
    expect((await logOf(rb.bare))[0]!.message).toContain(`Kipper-Rollback-To: ${target.configCommit}\n`);
    await page.reload();
    expect(await page.locator('#status').textContent()).toBe('');
    await plain.close();
  });

  it('ends a session 7 days after sign-in however active it is', async () => {
    const now = Math.floor(Date.now() / 1000);
    const rows = (cookie: string) =>
      context.request.get(url(`/apps/${API}/rows`), { headers: { accept: 'application/json', cookie } });
    const old = sealedSession({ sid: 'old-but-active', seen: now - 60, born: now - 7 * 24 * 3600 - 60 });
    expect((await rows(`kipper_session=${old}`)).status()).toBe(401);
    // Within the 7 days it is refreshed, and the new cookie keeps the sign-in time.
    const young = sealedSession({ sid: 'young', seen: now - 600, born: now - 3600 });
    const res = await rows(`kipper_session=${young}`);
    expect(res.status()).toBe(200);
    const refreshed = /kipper_session=v1\.([^.]+)\./.exec(res.headers()['set-cookie'] ?? '')![1]!;
    expect(JSON.parse(Buffer.from(refreshed, 'base64url').toString('utf8'))).toMatchObject({
      sid: 'young',
      born: now - 3600,
    });
  });

  it('lets neither of two session cookies win when the name is sent twice', async () => {
    const now = Math.floor(Date.now() / 1000);
    const ours = sealedSession({ sid: 'ours', seen: now, born: now });
    const planted = sealedSession({ sid: 'planted', seen: now, born: now });
    const rows = (cookie: string) =>
      context.request.get(url(`/apps/${API}/rows`), { headers: { accept: 'application/json', cookie } });
    expect((await rows(`kipper_session=${ours}`)).status()).toBe(200);
    expect((await rows(`kipper_session=${ours}; kipper_session=${planted}`)).status()).toBe(401);
    expect((await rows(`kipper_session=${planted}; kipper_session=${ours}`)).status()).toBe(401);
    expect((await rows(`kipper_session=${ours}; kipper_session=${ours}; other=1`)).status()).toBe(200);
  });
});

/** A config repo of `names` apps, each in shop-test and shop-prod. */
async function matrixRepo(names: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kip-console-matrix-'));
  const apps: string[] = [];
  for (let i = 0; i < names; i++) {
    const name = `app-${String(i).padStart(3, '0')}`;
    for (const ns of ['shop-test', 'shop-prod']) {
      const file = `apps/${ns}/${name}/deployment.yaml`;
      await mkdir(dirname(join(dir, file)), { recursive: true });
      await writeFile(
        join(dir, file),
        `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ${name}\nspec:\n  template:\n    spec:\n      containers:\n        - name: ${name}\n          image: registry.example.com/${name}:${ns === 'shop-test' ? 'v2' : 'v1'}\n`,
      );
      apps.push(`  - namespace: ${ns}\n    name: ${name}\n    files: [${file}]`);
    }
  }
  await writeFile(join(dir, 'kipper.yaml'), `apps:\n${apps.join('\n')}\n`);
  return dir;
}

describe('the console with 200 apps', () => {
  let rb: RemoteBridge;
  let browser: Browser;

  beforeAll(async () => {
    rb = await startRemoteBridge(await matrixRepo(100));
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await rb?.bridge.stop();
    await rb?.server.close();
  });

  it('shows one apps × environments table, with the same filter', async () => {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${rb.bridge.url}/`);
    await signInHere(page);
    expect(await page.locator('table').count()).toBe(1);
    const headers = (await page.locator('thead th').allTextContents()).map((h) => h.trim());
    expect(headers).toEqual(['App', 'test', 'prod']);
    expect(await page.getByRole('link', { name: /^shop-(test|prod)\/app-\d{3}$/ }).count()).toBe(200);
    // What runs where: the row of app-042 names each environment's app and image.
    const row = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: /app-042/ }) });
    expect(await row.getByRole('cell').nth(0).textContent()).toContain('registry.example.com/app-042:v2');
    expect(await row.getByRole('cell').nth(1).textContent()).toContain('registry.example.com/app-042:v1');
    expect(await row.getByRole('link', { name: 'shop-prod/app-042', exact: true }).count()).toBe(1);
    const height = await page.evaluate<number>('document.documentElement.scrollHeight');
    // One table per environment made 202 tables and 24,000 px.
    expect(height).toBeLessThan(10_000);
    console.log(`apps page, 200 apps: ${height} px high`);

    await page.getByLabel('Filter apps').fill('app-042');
    await eventually('one row left', async () => (await page.locator('tbody tr:not([hidden])').count()) === 1);
    expect(await page.getByRole('link', { name: 'shop-test/app-042', exact: true }).isVisible()).toBe(true);
    await context.close();
  });
});
