import { spawn } from 'node:child_process';
import { appendFile, cp, mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppsAnswer, HistoryAnswer } from '../../src/api-types.js';
import { cleanEnv, KIP_BIN, runKip, startBridge, type BridgeProcess } from '../helpers/bridge-process.js';
import { launchBrowser } from '../helpers/browser.js';
import { eventually } from '../helpers/eventually.js';
import { createBareRepo, git } from '../helpers/git-cli.js';
import { startGitServer, type GitServer } from '../helpers/git-server.js';
import { startOpenIdProvider, type OpenIdProvider } from '../helpers/oidc-provider.js';
import { TEST_ADMIN_TOKEN, TEST_SECRET_KEY } from '../helpers/tokens.js';

// Issue 21 item 3 (docs/identity-and-access.md "People: SSO and roles"): console sign-in
// through a real OpenID Provider (oidc-provider, in a child process), roles from
// kipper.yaml `access:`, the person as the commit's author, kip login by the device grant,
// and a sign-out on one bridge that ends the session on another.
const FIXTURE = fileURLToPath(new URL('../../fixtures/repos/two-envs/', import.meta.url));
const ACCESS = `
access:
  - { group: platform, role: admin }
  - { group: shop-devs, role: deployer, namespaces: [yourr-name-test] }
  - { user: dev@example.com, role: viewer, namespaces: [yourr-name-prod] }
  - { user: vic@example.com, role: viewer }
`;
const USERS = {
  ana: { email: 'ana@example.com', name: 'Ana Lima', groups: ['platform'] },
  dev: { email: 'dev@example.com', name: 'Dev Eloper', groups: ['shop-devs'] },
  tess: { email: 'tess@example.com', name: 'Tess Ter', groups: ['shop-devs'] },
  vic: { email: 'vic@example.com', name: 'Vic Viewer', groups: ['auditors'] },
};
const image = (tag: string) => `registry.example.com/api:${tag}`;

describe('people: single sign-on and roles', () => {
  let op: OpenIdProvider;
  let server: GitServer;
  let bare: string;
  let bridge: BridgeProcess;
  let browser: Browser;
  const env = (op: OpenIdProvider) => ({
    KIPPER_SECRET_KEY: TEST_SECRET_KEY,
    KIPPER_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    KIPPER_OIDC_ISSUER: op.issuer,
    KIPPER_OIDC_CLIENT_ID: op.clientId,
    KIPPER_OIDC_SESSION_CHECK: '1',
    NODE_EXTRA_CA_CERTS: op.certFile,
  });
  const admin = (path: string, body?: unknown) =>
    fetch(`${bridge.url}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  beforeAll(async () => {
    op = await startOpenIdProvider(USERS);
    server = await startGitServer();
    const seed = await mkdtemp(join(tmpdir(), 'kip-sso-seed-'));
    await cp(FIXTURE, seed, { recursive: true });
    await appendFile(join(seed, 'kipper.yaml'), ACCESS);
    bare = await createBareRepo(server.root, 'config.git', seed);
    bridge = await startBridge({ KIPPER_REPO_URL: server.url('config.git'), ...env(op) });
    // Two revisions in each environment: an older one to roll back to.
    for (const ns of ['yourr-name-test', 'yourr-name-prod']) {
      for (const tag of ['one', 'two'])
        expect((await admin(`/api/v1/apps/${ns}/api/deploy`, { image: image(tag) })).status).toBe(200);
    }
    browser = await launchBrowser();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await bridge?.stop();
    await server?.close();
    await op?.close();
  });

  /** A browser that trusts the provider's self-signed certificate. */
  const newContext = () => browser.newContext({ ignoreHTTPSErrors: true });

  /** The provider's development login (any password) and its consent page. */
  async function providerLogin(page: Page, login: string): Promise<void> {
    await page.locator('input[name=login]').fill(login);
    await page.locator('input[name=password]').fill('any password');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    await page.getByRole('button', { name: 'Continue' }).click();
  }

  /** Ask for `path` signed out, sign in with the provider as `login`, and land on `path`. */
  async function signInAs(context: BrowserContext, login: string, path: string, base = bridge.url): Promise<Page> {
    const page = await context.newPage();
    await page.goto(`${base}${path}`);
    await page.getByLabel('Admin token').waitFor();
    await page.getByRole('heading', { name: 'Break-glass: admin token' }).waitFor();
    await page.getByRole('button', { name: /^Sign in with 127\.0\.0\.1:\d+$/ }).click();
    await providerLogin(page, login);
    await page.waitForURL(`${base}${path}`);
    return page;
  }

  const csrfOf = async (page: Page) => (await page.locator('meta[name=csrf-token]').getAttribute('content'))!;
  /** A console POST from the signed-in page itself (its cookie and CSRF token), answered in JSON. */
  const consolePost = async (page: Page, path: string, form: Record<string, string>) => {
    const res = await page.request.post(`${bridge.url}${path}`, {
      form: { ...form, _csrf: await csrfOf(page) },
      headers: { accept: 'application/json' },
    });
    return { status: res.status(), json: (await res.json()) as { code?: string; revision?: number } };
  };

  it('signs a person in through the provider and lands them on the page they asked for', async () => {
    const context = await newContext();
    const page = await signInAs(context, 'ana', '/apps/yourr-name-prod/api?tab=deploys');
    await page.getByRole('button', { name: 'Rollback to revision 2' }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    await context.close();
  });

  it('shows a viewer no actions and answers a viewer POST 403 FORBIDDEN, writing nothing', async () => {
    const context = await newContext();
    const page = await signInAs(context, 'vic', '/apps/yourr-name-prod/api');
    expect(await page.getByRole('table').textContent()).toContain('registry.example.com/api:one');
    expect(await page.getByRole('button', { name: /Rollback to revision/ }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Update image' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Lock' }).count()).toBe(0);
    const head = await git(['--git-dir', bare, 'rev-parse', 'main']);
    const answer = await consolePost(page, '/apps/yourr-name-prod/api/rollback', { revision: '2' });
    expect(answer.status).toBe(403);
    expect(answer.json.code).toBe('FORBIDDEN');
    expect(await git(['--git-dir', bare, 'rev-parse', 'main'])).toBe(head);
    await context.close();
  });

  it('lets a deployer of one namespace deploy there (authored by them), not roll back another (403), nor see apps outside its rules (404)', async () => {
    const context = await newContext();
    const dev = await signInAs(context, 'dev', '/apps/yourr-name-test/api');
    const deployed = await consolePost(dev, '/apps/yourr-name-test/api/deploy', { image: image('by-dev') });
    expect(deployed.status).toBe(200);
    // The person is the author, the bridge the committer, and the trailer says who.
    expect((await git(['--git-dir', bare, 'log', '-1', '--format=%an <%ae>|%cn <%ce>', 'main'])).trim()).toBe(
      'Dev Eloper <dev@example.com>|Kipper <kipper@localhost>',
    );
    expect(await git(['--git-dir', bare, 'log', '-1', '--format=%B', 'main'])).toMatch(
      /^Kipper-Actor: dev@example\.com$/m,
    );
    const rollback = await consolePost(dev, '/apps/yourr-name-prod/api/rollback', { revision: '2' });
    expect(rollback.status).toBe(403);
    expect(rollback.json.code).toBe('FORBIDDEN');
    await context.close();

    // tess has the deployer rule of yourr-name-test only: yourr-name-prod does not exist for her.
    const other = await newContext();
    const tess = await signInAs(other, 'tess', '/');
    await tess.getByRole('link', { name: 'yourr-name-test/api' }).waitFor();
    expect(await tess.getByRole('link', { name: 'yourr-name-prod/api' }).count()).toBe(0);
    const hidden = await tess.goto(`${bridge.url}/apps/yourr-name-prod/api`);
    expect(hidden?.status()).toBe(404);
    expect((await consolePost(tess, '/apps/yourr-name-prod/api/rollback', { revision: '2' })).json.code).toBe(
      'APP_NOT_FOUND',
    );
    await other.close();
  });

  it('kip login completes the device flow, keeps the refresh token 0600, and kip acts as that person', async () => {
    const config = await mkdtemp(join(tmpdir(), 'kip-config-'));
    const kipEnv = { KIPPER_URL: bridge.url, XDG_CONFIG_HOME: config, NODE_EXTRA_CA_CERTS: op.certFile };
    const child = spawn(process.execPath, [KIP_BIN, 'login'], {
      env: cleanEnv(kipEnv),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const complete = await eventually(
      'kip login prints where to sign in',
      () => /\(or open (https:\/\/\S+)\)/.exec(out)?.[1],
      { timeoutMs: 20_000 },
    );
    expect(out).toMatch(/^Open https:\/\/127\.0\.0\.1:\d+\/\S+ and enter the code \S+$/m);
    const context = await newContext();
    const page = await context.newPage();
    await page.goto(complete);
    await page.getByRole('button', { name: 'Continue' }).click();
    await providerLogin(page, 'dev');
    await page
      .getByText(/Sign-in Success|success/i)
      .first()
      .waitFor();
    await context.close();
    expect(await exited, out).toBe(0);
    expect(out).toMatch(/✔ Signed in to .* as dev@example\.com/);
    const file = join(config, 'kipper', 'login.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const { refreshToken } = JSON.parse(await readFile(file, 'utf8')) as { refreshToken: string };
    expect(refreshToken.length).toBeGreaterThan(10);

    const history = await runKip(
      ['app', 'history', 'api', '--project', 'yourr-name', '--environment', 'test', '--json'],
      kipEnv,
      { timeoutMs: 30_000 },
    );
    expect(history.code, history.stderr).toBe(0);
    expect((JSON.parse(history.stdout) as HistoryAnswer).app).toBe('yourr-name-test/api');
    const list = await runKip(['app', 'list', '--json'], kipEnv, { timeoutMs: 30_000 });
    // dev sees test (deployer) and prod (viewer): every app of the fixture.
    expect((JSON.parse(list.stdout) as AppsAnswer).apps.length).toBeGreaterThan(0);
    const rollback = await runKip(
      ['app', 'rollback', 'api', '--project', 'yourr-name', '--environment', 'prod'],
      kipEnv,
      { timeoutMs: 30_000 },
    );
    expect(rollback.code).toBe(1);
    expect(rollback.stderr).toMatch(/viewer of yourr-name-prod\/api/);

    expect((await runKip(['logout'], kipEnv, { timeoutMs: 30_000 })).stdout).toMatch(/Signed out/);
    await expect(stat(file)).rejects.toThrow();
    // Tokens never in the bridge's log.
    expect(bridge.output()).not.toContain(refreshToken);
  });

  it("refuses a bearer token that is not the provider's for this client, with the one 401", async () => {
    for (const token of ['x.y.z', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbmEifQ.', 'not-a-jwt']) {
      const res = await fetch(`${bridge.url}/api/v1/apps`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { code: string }).code).toBe('ADMIN_UNAUTHORIZED');
    }
  });

  it('signing out on one bridge makes the session cookie useless on another (same secret key, same remote)', async () => {
    const second = await startBridge({ KIPPER_REPO_URL: server.url('config.git'), ...env(op) });
    try {
      const context = await newContext();
      const page = await signInAs(context, 'ana', '/');
      const cookie = (await context.cookies(bridge.url)).find((c) => c.name === 'kipper_session')!;
      const onSecond = () =>
        fetch(`${second.url}/`, { headers: { cookie: `kipper_session=${cookie.value}` }, redirect: 'manual' });
      // Signed in there too (a replica knows the cookie by the shared key), once it has read kipper.yaml.
      await eventually('the second bridge shows the apps to the same cookie', async () => {
        const res = await onSecond();
        return res.status === 200 && (await res.text()).includes('yourr-name-prod/api');
      });
      await page.getByRole('button', { name: 'Sign out' }).click();
      // The second bridge asks the provider again within KIPPER_OIDC_SESSION_CHECK (1 s here).
      await eventually(
        'the second bridge refuses the signed-out cookie',
        async () => (await onSecond()).status === 401,
        { timeoutMs: 15_000 },
      );
      await context.close();
    } finally {
      await second.stop();
    }
  });
});
