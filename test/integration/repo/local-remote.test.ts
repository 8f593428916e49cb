import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isKipError } from '../../../src/errors.js';
import { LocalRemote } from '../../../src/repo/local-remote.js';
import { ZERO_OID } from '../../../src/repo/git-objects.js';
import { Gitdir } from '../../../src/repo/gitdir.js';
import { cloneRepo, commitAndPush, createBareRepo, fsck, git, headOf, logOf, showFile } from '../../helpers/git-cli.js';
import { appName, deploymentYaml, KIPPER_SIG, makeAppsDir, utf8 } from './apps-fixture.js';

const FILE = 'apps/a/deployment.yaml';

let root: string;
let seedDir: string;
let count = 0;

async function freshRepo(): Promise<{ bare: string; remote: LocalRemote }> {
  const bare = await createBareRepo(root, `embedded-${++count}.git`, seedDir);
  return { bare, remote: new LocalRemote({ gitdir: bare, branch: 'main' }) };
}

async function deploy(remote: LocalRemote, parent: string, image: string, path = FILE) {
  return remote.gitdir.writeCommit({
    parent,
    files: new Map([[path, utf8(deploymentYaml('a', image))]]),
    message: `deploy a: ${image}`,
    author: KIPPER_SIG,
    committer: KIPPER_SIG,
  });
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'kip-local-remote-'));
  seedDir = await makeAppsDir(50);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  await rm(seedDir, { recursive: true, force: true });
});

describe('LocalRemote (the embedded bare repo is the config repo)', () => {
  it('moves the branch to a new commit that a native git clone sees', async () => {
    const { bare, remote } = await freshRepo();
    const head = await remote.fetch();
    expect(head).toBe(await headOf(bare));
    const written = await deploy(remote, head, 'registry.example.com/a:abc123f');
    expect(await remote.push(head, written.oid, written.newObjects)).toEqual({ ok: true });
    expect(await headOf(bare)).toBe(written.oid);
    expect(await remote.fetch()).toBe(written.oid);
    await fsck(bare);

    const clone = await cloneRepo(bare);
    try {
      expect(await readFile(join(clone, FILE), 'utf8')).toBe(deploymentYaml('a', 'registry.example.com/a:abc123f'));
      expect((await git(['log', '-1', '--format=%H %s'], { cwd: clone })).trim()).toBe(
        `${written.oid} deploy a: registry.example.com/a:abc123f`,
      );
    } finally {
      await rm(clone, { recursive: true, force: true });
    }
  });

  it('compare-and-swap: a stale old id is rejected after a native push, then fetch + rewrite + push lands', async () => {
    const { bare, remote } = await freshRepo();
    const head = await remote.fetch();
    const clone = await cloneRepo(bare);
    try {
      const theirFile = `apps/${appName(2)}/deployment.yaml`;
      const theirs = await commitAndPush(clone, theirFile, 'human: edit\n', 'human edit');

      const stale = await deploy(remote, head, 'registry.example.com/a:v2');
      const result = await remote.push(head, stale.oid, stale.newObjects);
      expect(result).toMatchObject({ ok: false, kind: 'rejected' });
      expect(await headOf(bare)).toBe(theirs);

      const fresh = await remote.fetch();
      expect(fresh).toBe(theirs);
      const retry = await deploy(remote, fresh, 'registry.example.com/a:v2');
      expect(await remote.push(fresh, retry.oid, retry.newObjects)).toEqual({ ok: true });
      expect((await logOf(bare)).slice(0, 2).map((c) => c.oid)).toEqual([retry.oid, theirs]);
      expect(await showFile(bare, 'main', theirFile)).toBe('human: edit\n');
      await fsck(bare);
    } finally {
      await rm(clone, { recursive: true, force: true });
    }
  });

  it('a held ref lock rejects the push and is left alone', async () => {
    const { bare, remote } = await freshRepo();
    const head = await remote.fetch();
    const written = await deploy(remote, head, 'registry.example.com/a:locked');
    const lock = join(bare, 'refs', 'heads', 'main.lock');
    await writeFile(lock, 'someone else\n');
    expect(await remote.push(head, written.oid, written.newObjects)).toMatchObject({ ok: false, kind: 'rejected' });
    await access(lock);
    expect(await headOf(bare)).toBe(head);
    await rm(lock);
    expect(await remote.push(head, written.oid, written.newObjects)).toEqual({ ok: true });
  });

  it('reads and swaps a branch that only lives in packed-refs', async () => {
    const { bare, remote } = await freshRepo();
    await git(['--git-dir', bare, 'pack-refs', '--all', '--prune']);
    await expect(access(join(bare, 'refs', 'heads', 'main'))).rejects.toThrow();
    const head = await remote.fetch();
    expect(head).toBe(await headOf(bare));
    const written = await deploy(remote, head, 'registry.example.com/a:packed');
    // The packed value counts as the current one: "branch absent" is stale.
    expect(await remote.push(ZERO_OID, written.oid, written.newObjects)).toMatchObject({ ok: false, kind: 'rejected' });
    expect(await remote.push(head, written.oid, written.newObjects)).toEqual({ ok: true });
    expect(await headOf(bare)).toBe(written.oid);
    await fsck(bare);
  });

  it('pushes a chained batch of 3 commits in one ref update', async () => {
    const { bare, remote } = await freshRepo();
    const head = await remote.fetch();
    let parent = head;
    const oids: string[] = [];
    const objects: string[] = [];
    for (const tag of ['b1', 'b2', 'b3']) {
      const written = await deploy(remote, parent, `registry.example.com/a:${tag}`);
      oids.push(written.oid);
      objects.push(...written.newObjects);
      parent = written.oid;
    }
    expect(await remote.push(head, parent, objects)).toEqual({ ok: true });
    expect((await logOf(bare)).slice(0, 4).map((c) => c.oid)).toEqual([...oids].reverse().concat(head));
    await fsck(bare);
  });

  it('an empty embedded repo has no head until a root commit is pushed with ZERO_OID as old id', async () => {
    const gitdir = join(root, `empty-${++count}.git`);
    await new Gitdir(gitdir, { branch: 'main', fsync: false }).init();
    const remote = new LocalRemote({ gitdir, branch: 'main' });
    expect(await remote.readHead()).toBeNull();
    const err = await remote.fetch().catch((e: unknown) => e);
    expect(isKipError(err, 'REPO_UNAVAILABLE')).toBe(true);

    const seed = await remote.gitdir.writeCommit({
      parent: '',
      files: new Map([
        ['kipper.yaml', utf8('apps: []\n')],
        ['apps/example/deployment.yaml', utf8(deploymentYaml('example', 'nginx:1.27'))],
      ]),
      message: 'seed example app',
      author: KIPPER_SIG,
      committer: KIPPER_SIG,
    });
    expect(await remote.push(ZERO_OID, seed.oid, seed.newObjects)).toEqual({ ok: true });
    expect(await remote.fetch()).toBe(seed.oid);
    // Creating it a second time is a lost race, not an overwrite.
    expect(await remote.push(ZERO_OID, seed.oid, seed.newObjects)).toMatchObject({ ok: false, kind: 'rejected' });

    // Native git reads what we wrote, and init did not clobber the repo.
    await new Gitdir(gitdir, { branch: 'other', fsync: false }).init();
    expect(await headOf(gitdir)).toBe(seed.oid);
    expect((await git(['--git-dir', gitdir, 'symbolic-ref', 'HEAD'])).trim()).toBe('refs/heads/main');
    expect(await showFile(gitdir, 'main', 'apps/example/deployment.yaml')).toBe(
      deploymentYaml('example', 'nginx:1.27'),
    );
    expect((await logOf(gitdir))[0]).toMatchObject({ oid: seed.oid, parents: [], message: 'seed example app\n' });
    await fsck(gitdir);
  });

  it('refuses to write through a path that is a file, and paths with . or .. segments', async () => {
    const { remote } = await freshRepo();
    const head = await remote.fetch();
    for (const path of ['kipper.yaml/x', '../x', 'apps/./a', '/abs', 'apps//a', '.git/config']) {
      const err = await remote.gitdir
        .writeCommit({
          parent: head,
          files: new Map([[path, utf8('x')]]),
          message: 'm',
          author: KIPPER_SIG,
          committer: KIPPER_SIG,
        })
        .catch((e: unknown) => e);
      expect(isKipError(err, 'INTERNAL'), path).toBe(true);
    }
  });
});
