import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postWebhook, runKip } from '../helpers/bridge-process.js';
import { cloneRepo, git, headOf, logOf, showFile } from '../helpers/git-cli.js';
import { startRemoteBridge, type RemoteBridge } from '../helpers/remote-bridge.js';
import { TEST_ADMIN_TOKEN, TEST_SECRET_KEY, tokenFor } from '../helpers/tokens.js';

const FIXTURE = fileURLToPath(new URL('../../fixtures/repos/two-envs/', import.meta.url));
const API = 'yourr-name-test/api';
const FILE = 'apps/yourr-name-test/api/deployment.yaml';
const image = (tag: string) => `registry.example.com/api:${tag}`;

interface HistoryJson {
  revisions: Array<{ revision: number; image: string | null; trigger: string; current: boolean; undone: boolean }>;
}

// Issue #9: a rollback after a human's `git revert` must not bring the reverted image back.
describe('rollback after a human git revert', () => {
  let rb: RemoteBridge;
  const env = () => ({ KIPPER_URL: rb.bridge.url, KIPPER_ADMIN_TOKEN: TEST_ADMIN_TOKEN });
  const kip = (...args: string[]) => runKip([...args, '--namespace', 'yourr-name-test'], env());
  const history = async () => JSON.parse((await kip('app', 'history', 'api', '--json')).stdout) as HistoryJson;
  const deploy = async (tag: string) => {
    const res = await postWebhook(
      rb.bridge.url,
      API,
      { image: image(tag) },
      { 'X-Kipper-Token': tokenFor(TEST_SECRET_KEY, API, 1) },
    );
    expect(res.json.status).toBe('deployed');
    return res.json.configCommit as string;
  };

  beforeAll(async () => {
    rb = await startRemoteBridge(FIXTURE);
  });
  afterAll(async () => {
    await rb?.bridge.stop();
    await rb?.server.close();
  });

  it('goes to the newest revision that was not undone, never to the reverted one', async () => {
    // 1 seed, 2 older, 3 good, 4 bad, then 5: a human reverts 4 with native git.
    await deploy('older');
    await deploy('good');
    const bad = await deploy('bad');
    const clone = await cloneRepo(rb.server.url('config.git'));
    await git(['-C', clone, 'revert', '--no-edit', bad]);
    await git(['-C', clone, 'push', '-q', 'origin', 'HEAD:main']);

    const h = await history();
    expect(h.revisions.map((r) => [r.revision, r.image, r.trigger, r.current, r.undone])).toEqual([
      [5, image('good'), 'revert', true, false],
      [4, image('bad'), 'webhook', false, true],
      [3, image('good'), 'webhook', false, false],
      [2, image('older'), 'webhook', false, false],
      [1, image('seed'), 'git', false, false],
    ]);

    const rolled = await kip('app', 'rollback', 'api', '--json');
    expect(rolled.code, rolled.stderr).toBe(0);
    expect(JSON.parse(rolled.stdout)).toMatchObject({
      status: 'rolled_back',
      rolledBackTo: 2,
      image: image('older'),
      revision: 6,
    });
    expect(await showFile(rb.bare, 'main', FILE)).toContain(`image: ${image('older')}`);
    // Not a revert of the current commit: the value before it (bad) is not the target.
    expect((await logOf(rb.bare))[0]!.message).not.toContain('This reverts commit');

    // Stepping back once more skips what the first rollback undid (3, 4, 5) and lands on 1.
    const again = await kip('app', 'rollback', 'api', '--json');
    expect(JSON.parse(again.stdout)).toMatchObject({ rolledBackTo: 1, image: image('seed') });
    const nothing = await kip('app', 'rollback', 'api', '--json');
    expect(nothing.code).not.toBe(0);
    expect(JSON.parse(nothing.stdout).code).toBe('NOTHING_TO_ROLL_BACK');

    // An explicit --revision still goes to an undone revision.
    const before = await headOf(rb.bare);
    const explicit = await kip('app', 'rollback', 'api', '--revision', '4', '--json');
    expect(JSON.parse(explicit.stdout)).toMatchObject({ rolledBackTo: 4, image: image('bad') });
    expect(await headOf(rb.bare)).not.toBe(before);
  });
});
