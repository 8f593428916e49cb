import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppsAnswer, HistoryAnswer } from '../../src/api-types.js';
import { postWebhook, runKip, startBridge, type BridgeProcess } from '../helpers/bridge-process.js';
import { deploymentYaml } from '../helpers/config-repo.js';
import { eventually } from '../helpers/eventually.js';
import { cloneRepo, commitAndPush, createBareRepo, headOf, logOf } from '../helpers/git-cli.js';
import { startGitServer, type GitServer } from '../helpers/git-server.js';
import { TEST_ADMIN_TOKEN, TEST_SECRET_KEY, tokenFor } from '../helpers/tokens.js';

// Issue #19 item 3 (docs/design.md "Several config repos"): one bridge, several config
// repos, each with its own kipper.yaml, write queue, history and readiness.

/** A config repo's tree: one Deployment per app, every webhook enabled (generation 1). */
async function configTree(apps: string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kip-repos-tree-'));
  const entries: string[] = [];
  for (const id of apps) {
    const [namespace, name] = id.split('/') as [string, string];
    const file = `apps/${namespace}/${name}/deployment.yaml`;
    await mkdir(dirname(join(dir, file)), { recursive: true });
    await writeFile(join(dir, file), deploymentYaml(name, namespace, `registry.example.com/${name}:v0`));
    entries.push(`  - namespace: ${namespace}\n    name: ${name}\n    files: [${file}]`);
  }
  await writeFile(
    join(dir, 'kipper.yaml'),
    `apps:\n${entries.join('\n')}\nwebhooks:\n${apps.map((id) => `  ${id}: { generation: 1 }`).join('\n')}\n`,
  );
  return dir;
}

const STAGING = ['shop-test/api', 'shop-test/web'];
const PROD = ['shop-prod/api', ...Array.from({ length: 8 }, (_, i) => `shop-prod/svc-${i}`)];
const token = (app: string) => tokenFor(TEST_SECRET_KEY, app, 1);
const image = (app: string, tag: string) => `registry.example.com/${app.split('/')[1]}:${tag}`;

describe('one bridge, several config repos', () => {
  let staging: GitServer;
  let prod: GitServer;
  let stagingBare: string;
  let prodBare: string;
  let bridge: BridgeProcess;
  const PROD_TOKEN = 'prod-token-0123456789';
  const kip = (args: string[]) =>
    runKip(args, { KIPPER_URL: bridge.url, KIPPER_ADMIN_TOKEN: TEST_ADMIN_TOKEN }, { timeoutMs: 30_000 });

  beforeAll(async () => {
    staging = await startGitServer();
    // The prod repo wants credentials: a token read from a file (auth.token).
    prod = await startGitServer({ auth: { username: 'x-access-token', password: PROD_TOKEN } });
    stagingBare = await createBareRepo(staging.root, 'staging.git', await configTree(STAGING));
    prodBare = await createBareRepo(prod.root, 'prod.git', await configTree(PROD));
    const secrets = await mkdtemp(join(tmpdir(), 'kip-repos-secrets-'));
    await writeFile(join(secrets, 'prod-token'), `${PROD_TOKEN}\n`);
    const reposFile = join(secrets, 'repos.yaml');
    await writeFile(
      reposFile,
      `repos:
  - name: staging
    url: ${staging.url('staging.git')}
  - name: prod
    url: ${prod.url('prod.git')}
    branch: main
    auth:
      token: { file: ${join(secrets, 'prod-token')} }
`,
    );
    bridge = await startBridge({
      KIPPER_REPOS_FILE: reposFile,
      KIPPER_SECRET_KEY: TEST_SECRET_KEY,
      KIPPER_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      KIPPER_DEPLOY_TIMEOUT: '3',
    });
  });
  afterAll(async () => {
    staging?.setHanging(false);
    await bridge?.stop();
    await staging?.close();
    await prod?.close();
  });

  it('deploys each app into the repo that lists it, and says which repo in the API and kip', async () => {
    const a = await postWebhook(
      bridge.url,
      'shop-test/api',
      { image: image('shop-test/api', 'rc1') },
      { 'x-kipper-token': token('shop-test/api') },
    );
    const b = await postWebhook(
      bridge.url,
      'shop-prod/svc-0',
      { image: image('shop-prod/svc-0', 'v1') },
      { 'x-kipper-token': token('shop-prod/svc-0') },
    );
    expect([a.status, b.status]).toEqual([200, 200]);
    expect((await logOf(stagingBare, 'main', 1))[0]!.oid).toBe(a.json.configCommit);
    expect((await logOf(prodBare, 'main', 1))[0]!.oid).toBe(b.json.configCommit);

    const list = JSON.parse((await kip(['app', 'list', '--json'])).stdout) as AppsAnswer;
    expect(Object.fromEntries(list.apps.map((x) => [x.app, x.repo]))).toMatchObject({
      'shop-test/api': 'staging',
      'shop-prod/svc-0': 'prod',
    });
    const table = (await kip(['app', 'list'])).stdout.split('\n');
    expect(table[0]).toMatch(/^ APP +REPO +SOURCE +IMAGE +REVISION +WEBHOOK$/);
    expect(table.find((l) => l.startsWith(' shop-prod/svc-0 '))).toMatch(
      / prod +image +registry\.example\.com\/svc-0:v1 +2 +enabled$/,
    );
    const history = JSON.parse((await kip(['app', 'history', 'shop-prod/svc-0', '--json'])).stdout) as HistoryAnswer;
    expect(history).toMatchObject({ app: 'shop-prod/svc-0', repo: 'prod' });
    expect((await kip(['app', 'history', 'shop-prod/svc-0'])).stdout.split('\n')[0]).toBe('Repo: prod');
  });

  it('promotes from one repo to another: one commit in the target’s repo, none in the source’s', async () => {
    const stagingHead = await headOf(stagingBare);
    const res = await kip(['app', 'promote', 'api', '--project', 'shop', '--from', 'test', '--to', 'prod', '--json']);
    expect(res.code, res.stderr).toBe(0);
    const answer = JSON.parse(res.stdout) as { status: string; configCommit: string; image: string };
    expect(answer).toMatchObject({ status: 'deployed', image: image('shop-test/api', 'rc1') });
    const [commit] = await logOf(prodBare, 'main', 1);
    expect(commit!.oid).toBe(answer.configCommit);
    expect(commit!.message).toContain('Kipper-Promoted-From: shop-test\n');
    expect(await headOf(stagingBare)).toBe(stagingHead);
  });

  it('labels /metrics by repo', async () => {
    const metrics = await (await fetch(`${bridge.url}/metrics`)).text();
    expect(metrics).toMatch(/^kipper_push_attempts_total\{result="ok",repo="staging"\} [1-9]/m);
    expect(metrics).toMatch(/^kipper_push_attempts_total\{result="ok",repo="prod"\} [1-9]/m);
    expect(metrics).toMatch(/^kipper_write_queue_depth\{repo="staging"\} 0$/m);
    expect(metrics).toMatch(/^kipper_write_queue_depth\{repo="prod"\} 0$/m);
  });

  it('refuses an app two repos list (409 APP_AMBIGUOUS, /readyz names both) until one drops it', async () => {
    const clone = await cloneRepo(prod.url('prod.git').replace('http://', `http://x-access-token:${PROD_TOKEN}@`));
    const kipperYaml = await readFile(join(clone, 'kipper.yaml'), 'utf8');
    const withDuplicate = kipperYaml.replace(
      'webhooks:\n',
      '  - namespace: shop-test\n    name: web\n    files: [apps/shop-prod/api/deployment.yaml]\nwebhooks:\n',
    );
    await commitAndPush(clone, 'kipper.yaml', withDuplicate, 'list shop-test/web here too, by mistake');
    await eventually(
      'readyz names both repos',
      async () => {
        const res = await fetch(`${bridge.url}/readyz`);
        const body = (await res.json()) as { code?: string; error?: string };
        return (
          res.status === 503 &&
          body.code === 'CONFIG_INVALID' &&
          /shop-test\/web.*staging and prod/.test(body.error ?? '')
        );
      },
      { timeoutMs: 15_000, intervalMs: 200 },
    );
    const before = [await headOf(stagingBare), await headOf(prodBare)];
    const res = await postWebhook(
      bridge.url,
      'shop-test/web',
      { image: image('shop-test/web', 'dup') },
      { 'x-kipper-token': token('shop-test/web') },
    );
    expect(res.status).toBe(409);
    expect(res.json).toMatchObject({ code: 'APP_AMBIGUOUS', repos: ['staging', 'prod'] });
    expect([await headOf(stagingBare), await headOf(prodBare)]).toEqual(before);
    // Other apps of both repos still deploy.
    const other = await postWebhook(
      bridge.url,
      'shop-test/api',
      { image: image('shop-test/api', 'rc2') },
      { 'x-kipper-token': token('shop-test/api') },
    );
    expect(other.status).toBe(200);

    await commitAndPush(clone, 'kipper.yaml', kipperYaml, 'drop the duplicate');
    await eventually('ready again', async () => (await fetch(`${bridge.url}/readyz`)).status === 200, {
      timeoutMs: 15_000,
      intervalMs: 200,
    });
    const again = await postWebhook(
      bridge.url,
      'shop-test/web',
      { image: image('shop-test/web', 'dup') },
      { 'x-kipper-token': token('shop-test/web') },
    );
    expect(again.status).toBe(200);
  });

  it('keeps deploying to one repo at full speed while the other hangs', async () => {
    staging.setHanging(true);
    try {
      const hungDeploy = postWebhook(
        bridge.url,
        'shop-test/api',
        { image: image('shop-test/api', 'hung') },
        { 'x-kipper-token': token('shop-test/api') },
      );
      const started = performance.now();
      const burst = await Promise.all(
        Array.from({ length: 40 }, (_, i) => {
          const app = PROD[i % PROD.length]!;
          return postWebhook(
            bridge.url,
            app,
            { image: image(app, `burst-${i}`) },
            { 'x-kipper-token': token(app) },
          ).then((r) => ({
            ...r,
            ms: performance.now() - started,
          }));
        }),
      );
      expect(burst.map((r) => r.status)).toEqual(burst.map(() => 200));
      // Every prod deploy answered well before the hung repo's 3 s deadline could matter.
      expect(Math.max(...burst.map((r) => r.ms))).toBeLessThan(2_500);
      const hung = await hungDeploy;
      expect(hung.status).toBe(503);
      expect(hung.json.code).toBe('REPO_UNAVAILABLE');
    } finally {
      staging.setHanging(false);
    }
  });
});
