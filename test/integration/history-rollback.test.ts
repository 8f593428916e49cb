import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HistoryAnswer } from '../../src/api-types.js';
import { postWebhook, runKip, startBridge, type BridgeProcess } from '../helpers/bridge-process.js';
import { cloneRepo, git, headOf, logOf, showFile } from '../helpers/git-cli.js';
import type { GitServer } from '../helpers/git-server.js';
import { startRemoteBridge } from '../helpers/remote-bridge.js';
import { TEST_ADMIN_TOKEN, TEST_SECRET_KEY, tokenFor } from '../helpers/tokens.js';

const FIXTURE = fileURLToPath(new URL('../../fixtures/repos/two-envs/', import.meta.url));
const API = 'yourr-name-test/api';
const FILE = 'apps/yourr-name-test/api/deployment.yaml';
const image = (tag: string) => `registry.example.com/api:${tag}`;

/** What `kip app history --json` prints: the admin API's answer. */
type HistoryJson = HistoryAnswer;

// Issue #3's transcript, run as a user would: deploys through the webhook and `kip`, a
// human commit and a native `git revert` pushed to the remote, history and rollbacks read
// back with `kip` (human table and --json) and with native `git log`.
describe('history and rollback from git', () => {
  let server: GitServer;
  let bare: string;
  let bridge: BridgeProcess;
  const env = () => ({ KIPPER_URL: bridge.url, KIPPER_ADMIN_TOKEN: TEST_ADMIN_TOKEN });
  const kip = (...args: string[]) => runKip([...args, '--project', 'yourr-name', '--environment', 'test'], env());
  const history = async (): Promise<HistoryJson> => {
    const res = await kip('app', 'history', 'api', '--json');
    expect(res.code, res.stderr).toBe(0);
    return JSON.parse(res.stdout) as HistoryJson;
  };
  /** Run `kip`, expect failure with one stderr line and the given error code; the remote must not move. */
  const refused = async (code: string, ...args: string[]) => {
    const before = await headOf(bare);
    const res = await runKip([...args, '--json'], env());
    expect(res.code).not.toBe(0);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(res.stdout).code).toBe(code);
    expect(await headOf(bare)).toBe(before);
    return res;
  };

  beforeAll(async () => {
    ({ server, bare, bridge } = await startRemoteBridge(FIXTURE));
  });
  afterAll(async () => {
    await bridge?.stop();
    await server?.close();
  });

  it('numbers revisions oldest first and lists them newest first with triggers and images', async () => {
    const update = await kip('app', 'update', 'api', '--image', image('ghi789b'));
    expect(update.code, update.stderr).toBe(0);
    expect(update.stdout.trim()).toBe(`✔ Updated api: ${image('ghi789b')} (revision #2)`);
    const token = tokenFor(TEST_SECRET_KEY, API, 1);
    for (const tag of ['def456a', 'abc123f']) {
      const res = await postWebhook(bridge.url, API, { image: image(tag), commit: tag }, { 'X-Kipper-Token': token });
      expect(res.json.status).toBe('deployed');
    }
    const h = await history();
    expect(h.app).toBe(API);
    expect(h.revisions.map((r) => [r.revision, r.image, r.commit, r.trigger, r.current])).toEqual([
      [4, image('abc123f'), 'abc123f', 'webhook', true],
      [3, image('def456a'), 'def456a', 'webhook', false],
      [2, image('ghi789b'), null, 'manual', false],
      [1, image('seed'), null, 'git', false],
    ]);
    const log = await logOf(bare);
    expect(h.revisions[0]!.configCommit).toBe(log[0]!.oid);
    expect(Date.parse(h.revisions[0]!.timestamp)).toBeGreaterThan(Date.now() - 120_000);

    const table = (await kip('app', 'history', 'api')).stdout.trimEnd().split('\n');
    // DESIGN.md's columns as its example prints them, then BY: who did it (issue #18).
    expect(table[0]).toMatch(/^ # {2}IMAGE {30}COMMIT {3}TRIGGER {3}WHEN {2,}BY$/);
    expect(table[1]).toMatch(
      /^ 4 {2}registry\.example\.com\/api:abc123f {3}abc123f {2}webhook {3}\d+ sec ago \(current\) {2}webhook:yourr-name-test\/api$/,
    );
    expect(table[2]).toMatch(
      /^ 3 {2}registry\.example\.com\/api:def456a {3}def456a {2}webhook {3}\d+ sec ago {2,}webhook:yourr-name-test\/api$/,
    );
    expect(table[3]).toMatch(/^ 2 {2}registry\.example\.com\/api:ghi789b {3}- {8}manual {4}\d+ sec ago {2,}admin$/);
    expect(table).toHaveLength(5);
  });

  it('rolls back one revision as a revert commit, then keeps stepping back', async () => {
    const before = (await history()).revisions;
    const first = await kip('app', 'rollback', 'api');
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout.trim()).toBe(`✔ Rolled back api to revision #3 (${image('def456a')})`);
    const [rb1] = await logOf(bare);
    expect(rb1!.message).toBe(
      `deploy ${API}: ${image('def456a')}\n\n` +
        `This reverts commit ${before[0]!.configCommit}.\n\n` +
        `Kipper-App: ${API}\nKipper-Image: ${image('def456a')}\nKipper-Source-Commit: def456a\n` +
        `Kipper-Trigger: rollback\nKipper-Rollback-To: ${before[1]!.configCommit}\nKipper-Actor: admin\n`,
    );
    expect(await showFile(bare, 'main', FILE)).toContain(`image: ${image('def456a')} # deployed by kipper`);

    const second = await kip('app', 'rollback', 'api', '--json');
    expect(second.code, second.stderr).toBe(0);
    const body = JSON.parse(second.stdout);
    expect(body).toMatchObject({
      status: 'rolled_back',
      app: API,
      revision: 6,
      rolledBackTo: 2,
      image: image('ghi789b'),
      commit: null,
    });
    expect(body.configCommit).toBe(await headOf(bare));
    const [rb2] = await logOf(bare);
    expect(rb2!.message).toContain(`Kipper-Rollback-To: ${before[2]!.configCommit}`);
    expect(rb2!.message).not.toContain('This reverts commit');

    const third = await kip('app', 'rollback', 'api', '--revision', '1');
    expect(third.stdout.trim()).toBe(`✔ Rolled back api to revision #1 (${image('seed')})`);
    const h = (await history()).revisions;
    expect(h.slice(0, 3).map((r) => [r.revision, r.image, r.trigger])).toEqual([
      [7, image('seed'), 'rollback'],
      [6, image('ghi789b'), 'rollback'],
      [5, image('def456a'), 'rollback'],
    ]);
  });

  it('refuses what cannot be rolled back, writing nothing', async () => {
    await refused('REVISION_NOT_FOUND', 'app', 'rollback', 'api', '--revision', '99', '--namespace', 'yourr-name-test');
    await refused('ALREADY_CURRENT', 'app', 'rollback', 'api', '--revision', '1', '--namespace', 'yourr-name-test');
    await refused('NOTHING_TO_ROLL_BACK', 'app', 'rollback', 'api', '--namespace', 'yourr-name-prod');
    await refused('APP_NOT_FOUND', 'app', 'rollback', 'nope', '--namespace', 'yourr-name-test');
  });

  it('reads a human edit and a native git revert as revisions; a comment-only commit is none', async () => {
    const clone = await cloneRepo(server.url('config.git'));
    const file = join(clone, FILE);
    const original = await showFile(bare, 'main', FILE);
    await writeFile(file, original.replace(image('seed'), image('human01')));
    await git(['-C', clone, 'commit', '-qam', 'hotfix by hand'], {
      env: { GIT_AUTHOR_NAME: 'Jane Doe', GIT_AUTHOR_EMAIL: 'jane@example.com' },
    });
    const human = (await git(['-C', clone, 'rev-parse', 'HEAD'])).trim();
    await writeFile(
      file,
      (await showFile(bare, 'main', FILE))
        .replace(image('seed'), image('human01'))
        .replace('# scaled by hand', '# scaled by hand (see runbook)'),
    );
    await git(['-C', clone, 'commit', '-qam', 'comment only']);
    await git(['-C', clone, 'revert', '--no-edit', human]);
    await git(['-C', clone, 'push', '-q', 'origin', 'HEAD:main']);

    const h = (await history()).revisions;
    expect(h.slice(0, 3).map((r) => [r.revision, r.image, r.trigger, r.current])).toEqual([
      [9, image('seed'), 'revert', true],
      [8, image('human01'), 'git', false],
      [7, image('seed'), 'rollback', false],
    ]);
    expect(h[1]!.author).toContain('Jane Doe');
    expect(h[1]!.configCommit).toBe(human);
  });

  it('promotes the current image to another environment, and refuses clearly', async () => {
    const res = await runKip(
      ['app', 'promote', 'api', '--project', 'yourr-name', '--from', 'test', '--to', 'prod', '--json'],
      env(),
    );
    expect(res.code, res.stderr).toBe(0);
    // test runs seed again (the revert), which prod runs already: a retry-safe no-op
    expect(JSON.parse(res.stdout)).toMatchObject({
      status: 'unchanged',
      app: 'yourr-name-prod/api',
      image: image('seed'),
      revision: 1,
    });
    await kip('app', 'update', 'api', '--image', image('rc1'));
    const human = await runKip(
      ['app', 'promote', 'api', '--project', 'yourr-name', '--from', 'test', '--to', 'prod'],
      env(),
    );
    expect(human.stdout.trim()).toBe(`✔ Promoted api from test to prod (${image('rc1')}, revision #2)`);
    const [promoted] = await logOf(bare);
    expect(promoted!.message).toContain('Kipper-App: yourr-name-prod/api\n');
    expect(promoted!.message).toContain('Kipper-Trigger: promotion\nKipper-Promoted-From: yourr-name-test\n');
    expect(await showFile(bare, 'main', 'apps/yourr-name-prod/api/deployment.yaml')).toContain(
      `image: ${image('rc1')} # deployed by kipper`,
    );

    await refused(
      'APP_NOT_FOUND',
      'app',
      'promote',
      'api',
      '--project',
      'yourr-name',
      '--from',
      'test',
      '--to',
      'staging',
    );
    await refused(
      'GIT_APP_IMAGE',
      'app',
      'promote',
      'docs',
      '--project',
      'yourr-name',
      '--from',
      'test',
      '--to',
      'prod',
    );
    await refused(
      'NO_SOURCE_IMAGE',
      'app',
      'promote',
      'worker',
      '--project',
      'yourr-name',
      '--from',
      'test',
      '--to',
      'prod',
    );
  });

  it('fails with one clear line when the bridge is unreachable or the admin token is wrong', async () => {
    const down = await runKip(['app', 'history', 'api', '--namespace', 'yourr-name-test'], {
      KIPPER_URL: 'http://127.0.0.1:9',
      KIPPER_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    });
    expect(down.code).not.toBe(0);
    expect(down.stderr.trim().split('\n')).toHaveLength(1);
    expect(down.stderr).toContain('cannot reach the bridge');
    const bad = await runKip(['app', 'history', 'api', '--namespace', 'yourr-name-test'], {
      KIPPER_URL: bridge.url,
      KIPPER_ADMIN_TOKEN: 'not-the-admin-token',
    });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('admin token');
  });

  it('keeps revision numbers across a restart, reading only what is new', async () => {
    const before = (await history()).revisions;
    await bridge.stop();
    bridge = await startBridge({
      KIPPER_REPO_URL: server.url('config.git'),
      KIPPER_SECRET_KEY: TEST_SECRET_KEY,
      KIPPER_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      KIPPER_DATA_DIR: bridge.dataDir,
    });
    expect((await history()).revisions).toEqual(before);
    expect(bridge.output()).not.toContain('history indexed');
  });
});
