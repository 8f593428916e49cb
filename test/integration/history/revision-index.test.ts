import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseKipperFile } from '../../../src/config/kipper-file.js';
import { RevisionIndex } from '../../../src/history/revision-index.js';
import { firstImage, valueAfterEdit, type LearnedValue } from '../../../src/history/app-value.js';
import { parseImageReference } from '../../../src/manifests/image-reference.js';
import { setImage } from '../../../src/manifests/set-image.js';
import { Gitdir } from '../../../src/repo/gitdir.js';
import { GitError } from '../../../src/repo/git-process.js';
import { cloneRepo, createBareRepo, git, headOf } from '../../helpers/git-cli.js';

const FIXTURE = fileURLToPath(new URL('../../../fixtures/repos/two-envs/', import.meta.url));
const FILE = 'apps/yourr-name-test/api/deployment.yaml';

/** A bare clone of `bare` whose objects are all loose files, so one can be lost. */
async function looseClone(bare: string): Promise<string> {
  const clone = join(await mkdtemp(join(tmpdir(), 'kip-broken-')), 'broken.git');
  await git(['clone', '-q', '--bare', '--no-local', bare, clone]);
  // The pack is moved out and unpacked back.
  for (const pack of (await readdir(join(clone, 'objects', 'pack'))).filter((f) => f.endsWith('.pack'))) {
    const bytes = await readFile(join(clone, 'objects', 'pack', pack));
    await rm(join(clone, 'objects', 'pack', pack));
    await rm(join(clone, 'objects', 'pack', pack.replace(/\.pack$/, '.idx')));
    // No git http-backend is served from this process, so a synchronous child is safe here.
    const unpacked = spawnSync('git', ['--git-dir', clone, 'unpack-objects', '-q'], { input: bytes });
    expect(unpacked.status).toBe(0);
  }
  return clone;
}

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
    await commitFile(
      FILE,
      (s) => s.replace(/api:[a-z0-9]+/, `api:${tag}`),
      `deploy yourr-name-test/api: registry.example.com/api:${tag}\n\nKipper-App: yourr-name-test/api\nKipper-Image: registry.example.com/api:${tag}\nKipper-Trigger: webhook`,
    );
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
  await commitFile(
    'kipper.yaml',
    (s) =>
      s.replace(
        'webhooks:',
        '  - namespace: yourr-name-test\n    name: api2\n    files: [apps/yourr-name-test/api/deployment.yaml]\nwebhooks:',
      ),
    'add api2',
  );
  await git(['-C', clone, 'push', '-q', 'origin', 'main']);
  return bare;
}

/** An index over `gitdir` that reads kipper.yaml as the bridge does. */
function indexOf(gitdir: Gitdir): RevisionIndex {
  const configAt = async (c: string) =>
    parseKipperFile(Buffer.from((await gitdir.readFile(c, 'kipper.yaml'))!).toString('utf8'));
  return new RevisionIndex(gitdir, configAt);
}

describe('the revision index', () => {
  it('reads the same revisions from git log as from the commits the bridge wrote itself', async () => {
    const bare = await historyRepo();
    const base = await headOf(bare);
    // Three more deploys, written by a Gitdir: its index reads them from memory.
    const writer = new Gitdir(bare, { branch: 'main', fsync: false });
    const ours = indexOf(writer);
    await ours.rebuild(base);
    let tip = base;
    const app = parseKipperFile(Buffer.from((await writer.readFile(base, 'kipper.yaml'))!).toString('utf8')).apps.get(
      'yourr-name-test/api',
    )!;
    for (const tag of ['d4', 'e5', 'f6']) {
      // As a deploy writes it: the edit tells the value it wrote (the commit's memo), so
      // this index learns it without reading the file; api2, on the same file, reads it.
      const image = parseImageReference(`registry.example.com/api:${tag}`);
      const edited = setImage(Buffer.from((await writer.readFile(tip, FILE))!).toString('utf8'), {
        image,
        container: app.container,
        app: app.id,
      });
      const memo: LearnedValue = { app: app.id, value: valueAfterEdit(app, edited.matches)! };
      expect(memo.value).toEqual({ images: [image.raw] });
      const sig = { name: 'Kipper', email: 'kipper@localhost', timestamp: 1_700_000_000, timezoneOffset: 0 };
      const message = `deploy yourr-name-test/api: registry.example.com/api:${tag}\n\nKipper-App: yourr-name-test/api\nKipper-Image: registry.example.com/api:${tag}\nKipper-Trigger: webhook\n`;
      const files = new Map([[FILE, Buffer.from(edited.text)]]);
      tip = (await writer.writeCommit({ parent: tip, files, message, author: sig, committer: sig, memo })).oid;
    }
    await ours.update(tip);
    await writer.flush();
    // A fresh reader of the same objects gets every commit from `git log`.
    const fresh = indexOf(new Gitdir(bare, { branch: 'main', fsync: false }));
    await fresh.rebuild(tip);
    expect(ours.snapshot()).toEqual(fresh.snapshot());

    expect(
      fresh
        .revisions('yourr-name-test/api')
        .map((r) => firstImage(r.value)?.split(':')[1])
        .slice(-3),
    ).toEqual(['d4', 'e5', 'f6']);

    // The history as a human and git wrote it, before our deploys.
    const atBase = indexOf(new Gitdir(bare, { branch: 'main', fsync: false }));
    await atBase.rebuild(base);
    const api = atBase.revisions('yourr-name-test/api');
    expect(api.map((r) => [r.revision, firstImage(r.value)?.split(':')[1], r.trigger])).toEqual([
      [1, 'seed', 'git'],
      [2, 'a1', 'webhook'],
      [3, 'b2', 'webhook'],
      [4, 'c3', 'webhook'],
      [5, 'human', 'git'],
      [6, 'c3', 'revert'],
    ]);
    expect(
      atBase.revisions('yourr-name-prod/api').map((r) => [firstImage(r.value)?.split(':')[1], r.configCommit === base]),
    ).toEqual([
      ['seed', false],
      ['side', false],
    ]);
    expect(atBase.revisions('yourr-name-test/api2')).toHaveLength(1);
    expect(fresh.complete).toBe(true);
  });

  it('continues from a snapshot with only the new commits', async () => {
    const bare = await historyRepo();
    const gitdir = new Gitdir(bare, { branch: 'main', fsync: false });
    const parent = (await git(['--git-dir', bare, 'rev-parse', 'main~1'])).trim();
    const first = indexOf(gitdir);
    await first.rebuild(parent);
    const resumed = indexOf(gitdir);
    resumed.restore(JSON.parse(JSON.stringify(first.snapshot())));
    await resumed.update(await headOf(bare));
    const fresh = indexOf(gitdir);
    await fresh.rebuild(await headOf(bare));
    expect(resumed.snapshot()).toEqual(fresh.snapshot());
    expect(resumed.complete).toBe(true);
  });

  it('knows a shallow clone is partial, and takes a missing object for an error, not the end of history', async () => {
    const bare = await historyRepo();
    const shallow = join(await mkdtemp(join(tmpdir(), 'kip-shallow-')), 'shallow.git');
    await git(['clone', '-q', '--bare', '--depth=2', `file://${bare}`, shallow]);
    const partial = indexOf(new Gitdir(shallow, { branch: 'main', fsync: false }));
    await partial.rebuild(await headOf(shallow));
    expect(partial.complete).toBe(false);

    // Lose one object of a complete repo (its loose object file): indexing must fail. Each
    // loss in a clone of its own, so each failure is that loss's alone.
    // An app file's blob of an old deploy: not "no file then", an error naming it.
    const lostBlob = await looseClone(bare);
    const deploy = (await git(['--git-dir', lostBlob, 'log', '--format=%H', '--grep=api:b2', 'main'])).trim();
    const blob = (await git(['--git-dir', lostBlob, 'rev-parse', `${deploy}:${FILE}`])).trim();
    await rm(join(lostBlob, 'objects', blob.slice(0, 2), blob.slice(2)));
    await expect(
      indexOf(new Gitdir(lostBlob, { branch: 'main', fsync: false })).rebuild(await headOf(lostBlob)),
    ).rejects.toMatchObject({
      code: 'INTERNAL',
      message: `object ${blob} is not in the local git store`,
      data: { oid: blob },
    });
    // A lost commit: `git log` itself fails.
    const lostCommit = await looseClone(bare);
    const old = (await git(['--git-dir', lostCommit, 'rev-parse', 'main~4'])).trim();
    await rm(join(lostCommit, 'objects', old.slice(0, 2), old.slice(2)));
    const index = indexOf(new Gitdir(lostCommit, { branch: 'main', fsync: false }));
    // git names the commit it could not read: `error: Could not read <old>`.
    const err: unknown = await index.rebuild(await headOf(lostCommit)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(GitError);
    expect(err).toMatchObject({
      command: 'log',
      message: expect.stringMatching(/^git log failed: /),
      stderr: expect.stringContaining(old),
    });
  });
});
