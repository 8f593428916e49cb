import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseKipperFile } from '../../../src/config/kipper-file.js';
import { RevisionIndex } from '../../../src/history/revision-index.js';
import { ObjectStore } from '../../../src/repo/object-store.js';
import { cloneRepo, createBareRepo, git, headOf } from '../../helpers/git-cli.js';

const FIXTURE = fileURLToPath(new URL('../../../fixtures/repos/two-envs/', import.meta.url));
const FILE = 'apps/yourr-name-test/api/deployment.yaml';

/** A config repo with deploys, a human edit, a revert, a comment-only commit, a merge and a new app. */
async function historyRepo(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'kip-index-'));
  const bare = await createBareRepo(root, 'config.git', FIXTURE);
  const clone = await cloneRepo(bare);
  const commitFile = async (path: string, edit: (s: string) => string, message: string) => {
    const p = join(clone, path);
    await writeFile(p, edit(await git(['-C', clone, 'show', `HEAD:${path}`])));
    await git(['-C', clone, 'commit', '-qam', message]);
  };
  for (const tag of ['a1', 'b2', 'c3']) {
    await commitFile(FILE, (s) => s.replace(/api:[a-z0-9]+/, `api:${tag}`), `deploy yourr-name-test/api: registry.example.com/api:${tag}\n\nKipper-App: yourr-name-test/api\nKipper-Image: registry.example.com/api:${tag}\nKipper-Trigger: webhook`);
  }
  await commitFile(FILE, (s) => s.replace('# scaled by hand', '# scaled by hand (runbook)'), 'comment only');
  await commitFile(FILE, (s) => s.replace(/api:[a-z0-9]+/, 'api:human'), 'hotfix');
  const hotfix = (await git(['-C', clone, 'rev-parse', 'HEAD'])).trim();
  await git(['-C', clone, 'revert', '--no-edit', hotfix]);
  // a side branch merged back: first-parent history sees the merge, not the side commits
  await git(['-C', clone, 'checkout', '-qb', 'side']);
  await commitFile('apps/yourr-name-prod/api/deployment.yaml', (s) => s.replace('api:seed', 'api:side'), 'side change');
  await git(['-C', clone, 'checkout', '-q', 'main']);
  await git(['-C', clone, 'merge', '-q', '--no-ff', '-m', 'merge side', 'side']);
  await commitFile('kipper.yaml', (s) => s.replace('webhooks:', '  - namespace: yourr-name-test\n    name: api2\n    files: [apps/yourr-name-test/api/deployment.yaml]\nwebhooks:'), 'add api2');
  await git(['-C', clone, 'push', '-q', 'origin', 'main']);
  return bare;
}

describe('the revision index', () => {
  it('reads the same revisions object by object and with native git', async () => {
    const bare = await historyRepo();
    const head = await headOf(bare);
    const store = new ObjectStore(bare);
    const configAt = async (c: string) => parseKipperFile(Buffer.from((await store.readFile(c, 'kipper.yaml'))!).toString('utf8'));
    const byObjects = new RevisionIndex(store, configAt);
    await byObjects.rebuild(head);
    const byNative = new RevisionIndex(store, configAt);
    await byNative.rebuildNative(bare, head, parseKipperFile);
    expect(byNative.snapshot()).toEqual(byObjects.snapshot());

    const api = byObjects.revisions('yourr-name-test/api');
    expect(api.map((r) => [r.revision, r.image?.split(':')[1], r.trigger])).toEqual([
      [1, 'seed', 'git'],
      [2, 'a1', 'webhook'],
      [3, 'b2', 'webhook'],
      [4, 'c3', 'webhook'],
      [5, 'human', 'git'],
      [6, 'c3', 'revert'],
    ]);
    expect(byObjects.revisions('yourr-name-prod/api').map((r) => [r.image?.split(':')[1], r.configCommit === head])).toEqual([
      ['seed', false],
      ['side', false],
    ]);
    expect(byObjects.revisions('yourr-name-test/api2')).toHaveLength(1);
  });

  it('continues from a snapshot with only the new commits', async () => {
    const bare = await historyRepo();
    const store = new ObjectStore(bare);
    const configAt = async (c: string) => parseKipperFile(Buffer.from((await store.readFile(c, 'kipper.yaml'))!).toString('utf8'));
    const parent = (await git(['--git-dir', bare, 'rev-parse', 'main~1'])).trim();
    const first = new RevisionIndex(store, configAt);
    await first.rebuildNative(bare, parent, parseKipperFile);
    const resumed = new RevisionIndex(store, configAt);
    resumed.restore(JSON.parse(JSON.stringify(first.snapshot())));
    await resumed.update(await headOf(bare));
    const fresh = new RevisionIndex(store, configAt);
    await fresh.rebuild(await headOf(bare));
    expect(resumed.snapshot()).toEqual(fresh.snapshot());
    expect(resumed.complete).toBe(true);
  });
});
