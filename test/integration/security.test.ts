import { chmod, mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postWebhook, runKip, startBridge, type BridgeProcess } from '../helpers/bridge-process.js';
import { git } from '../helpers/git-cli.js';
import type { GitServer } from '../helpers/git-server.js';
import { startRemoteBridge } from '../helpers/remote-bridge.js';
import { TEST_ADMIN_TOKEN, TEST_SECRET_KEY, tokenFor } from '../helpers/tokens.js';

const GIT_USER = 'kipper-bot';
const GIT_PASSWORD = 'glpat-S3cr3tG1tT0k3nValue';

describe('secrets at rest', () => {
  it('generates the secret key and admin token with mode 0600', async () => {
    const bridge = await startBridge();
    try {
      for (const f of ['secret-key', 'admin-token']) {
        expect((await stat(join(bridge.dataDir, f))).mode & 0o777).toBe(0o600);
      }
    } finally {
      await bridge.stop();
    }
  });

  it('refuses to start, saying how to fix it, when a secret file is readable by others', async () => {
    const first = await startBridge();
    await first.stop();
    await chmod(join(first.dataDir, 'secret-key'), 0o644);
    await expect(startBridge({ KIPPER_DATA_DIR: first.dataDir })).rejects.toThrow(/secret-key.*chmod 600/s);
  });
});

// Issue #5: run the webhook and admin flows with the most verbose logging and look for
// every secret in everything the bridge says or writes.
describe('secrets never leak', () => {
  let server: GitServer;
  let bridge: BridgeProcess;
  const app = 'team-test/app-0001';
  const bodies: string[] = [];

  beforeAll(async () => {
    ({ server, bridge } = await startRemoteBridge(
      3,
      { KIPPER_GIT_USERNAME: GIT_USER, KIPPER_GIT_TOKEN: GIT_PASSWORD, KIPPER_LOG_LEVEL: 'trace' },
      { auth: { username: GIT_USER, password: GIT_PASSWORD } },
    ));
  });
  afterAll(async () => {
    await bridge?.stop();
    await server?.close();
  });

  it('keeps the admin API closed without the bearer token, on every route', async () => {
    const routes: Array<[string, string]> = [
      ['GET', '/api/v1/apps'],
      ['GET', `/api/v1/apps/${app}/history`],
      ['POST', `/api/v1/apps/${app}/rollback`],
      ['POST', `/api/v1/apps/${app}/deploy`],
      ['POST', `/api/v1/apps/${app}/promote`],
      ['GET', `/api/v1/apps/${app}/webhook`],
      ['POST', `/api/v1/apps/${app}/webhook`],
      ['DELETE', `/api/v1/apps/${app}/webhook`],
    ];
    const tokens = [
      undefined,
      'Bearer ',
      `Bearer ${TEST_ADMIN_TOKEN}x`,
      `Basic ${Buffer.from(`admin:${TEST_ADMIN_TOKEN}`).toString('base64')}`,
      tokenFor(TEST_SECRET_KEY, app, 1),
    ];
    for (const [method, path] of routes) {
      for (const authorization of tokens) {
        const res = await fetch(`${bridge.url}${path}`, {
          method,
          headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
          body: method === 'GET' ? undefined : '{}',
        });
        const text = await res.text();
        bodies.push(text);
        expect(res.status, `${method} ${path}`).toBe(401);
        expect(JSON.parse(text).code).toBe('ADMIN_UNAUTHORIZED');
      }
    }
  });

  it('finds no secret in logs, error bodies or commits after the whole flow', async () => {
    const token = tokenFor(TEST_SECRET_KEY, app, 1);
    const ok = await postWebhook(
      bridge.url,
      app,
      { image: 'registry.example.com/app-0001:abc123f', commit: 'abc123f' },
      { 'X-Kipper-Token': token },
    );
    expect(ok.status).toBe(200);
    const wrong: Array<Record<string, string>> = [
      { 'X-Kipper-Token': 'f'.repeat(64) },
      { 'X-Gitlab-Token': token.toUpperCase() },
      { 'X-Kipper-Token': TEST_ADMIN_TOKEN },
    ];
    for (const headers of wrong) {
      const res = await postWebhook(bridge.url, app, { image: 'registry.example.com/app-0001:x' }, headers);
      bodies.push(JSON.stringify(res.json));
    }
    bodies.push(
      JSON.stringify((await postWebhook(bridge.url, app, { image: 'BAD IMAGE' }, { 'X-Kipper-Token': token })).json),
    );
    const env = { KIPPER_URL: bridge.url, KIPPER_ADMIN_TOKEN: TEST_ADMIN_TOKEN };
    const enabled = await runKip(['app', 'webhook', 'enable', 'app-0001', '--namespace', 'team-test', '--json'], env);
    const newToken = JSON.parse(enabled.stdout).token as string;
    for (const args of [
      ['app', 'history', 'app-0001'],
      ['app', 'rollback', 'app-0001'],
      ['app', 'rollback', 'app-0001', '--revision', '99'],
      ['app', 'list'],
    ]) {
      const res = await runKip([...args, '--namespace', 'team-test'], env);
      bodies.push(res.stderr);
    }
    const commits = await git(['--git-dir', join(server.root, 'config.git'), 'log', '-p', '--all']);
    const everything = [bridge.output(), ...bodies, commits].join('\n');
    const secrets = {
      'webhook token': token,
      'regenerated webhook token': newToken,
      'admin token': TEST_ADMIN_TOKEN,
      'secret key': TEST_SECRET_KEY,
      'git password': GIT_PASSWORD,
      'git basic auth': Buffer.from(`${GIT_USER}:${GIT_PASSWORD}`).toString('base64'),
    };
    for (const [what, value] of Object.entries(secrets))
      expect(everything.includes(value), `${what} leaked`).toBe(false);
    // and the flow really ran with verbose logging
    expect(bridge.output()).toMatch(/"level":"debug"/);
  });
});

describe('a bridge that cannot start says why', () => {
  it('names the bad environment variable', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'kipper-bad-env-'));
    await expect(
      startBridge({ KIPPER_DATA_DIR: dataDir, KIPPER_REPO_URL: 'ssh://git@example.com/repo.git' }),
    ).rejects.toThrow(/KIPPER_REPO_URL/);
  });
});
