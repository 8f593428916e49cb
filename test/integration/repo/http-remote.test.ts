import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpRemote } from '../../../src/repo/http-remote.js';
import { ZERO_OID } from '../../../src/repo/git-objects.js';
import { Gitdir } from '../../../src/repo/gitdir.js';
import { isKipError } from '../../../src/errors.js';
import { cloneRepo, commitAndPush, createBareRepo, fsck, git, headOf, logOf, showFile } from '../../helpers/git-cli.js';
import { startGitServer, type GitServer } from '../../helpers/git-server.js';
import { appName, deploymentYaml, KIPPER_SIG, makeAppsDir, packObjectCount, utf8 } from './apps-fixture.js';

const APPS = 200;
const FILE = 'apps/a/deployment.yaml';

let server: GitServer;
let seedDir: string;
const cleanup: string[] = [];
let repoCount = 0;

/** A fresh remote seeded with 200 apps, and an HttpRemote with its own empty local store. */
async function freshRemote(): Promise<{ bare: string; url: string; remote: HttpRemote }> {
  const name = `config-${++repoCount}.git`;
  const bare = await createBareRepo(server.root, name, seedDir);
  const gitdir = await mkdtemp(join(tmpdir(), 'kip-store-'));
  cleanup.push(gitdir);
  const url = server.url(name);
  return { bare, url, remote: new HttpRemote({ url, branch: 'main', gitdir, timeoutMs: 10_000 }) };
}

/** Loose objects in a bare repo: receive-pack unpacks pushes of under 100 objects. */
async function looseObjects(bare: string): Promise<number> {
  const out = await git(['--git-dir', bare, 'count-objects', '-v']);
  return Number(/^count: (\d+)$/m.exec(out)?.[1]);
}

beforeAll(async () => {
  server = await startGitServer();
  seedDir = await makeAppsDir(APPS);
  cleanup.push(server.root, seedDir);
});

afterAll(async () => {
  await server.close();
  await Promise.all(cleanup.map((dir) => rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 })));
});

describe('HttpRemote + Gitdir against git http-backend', () => {
  it('pushes one file change as 1 blob + the 3 trees on its path + 1 commit, and native git sees exactly that', async () => {
    const { bare, url, remote } = await freshRemote();
    const head = await remote.fetch();
    expect(head).toBe(await headOf(bare));

    const before = new TextDecoder().decode((await remote.gitdir.readFile(head, FILE)) ?? new Uint8Array());
    expect(before).toBe(deploymentYaml('a', 'registry.example.com/a:v1'));

    const after = deploymentYaml('a', 'registry.example.com/a:abc123f');
    const message = [
      'deploy demo-test/a: registry.example.com/a:abc123f',
      '',
      'Kipper-App: demo-test/a',
      'Kipper-Image: registry.example.com/a:abc123f',
      'Kipper-Trigger: webhook',
      '',
    ].join('\n');
    const written = await remote.gitdir.writeCommit({
      parent: head,
      files: new Map([[FILE, utf8(after)]]),
      message,
      author: KIPPER_SIG,
      committer: KIPPER_SIG,
    });
    // blob + apps/a + apps + root tree + commit: nothing else, whatever the repo size.
    expect(written.newObjects).toHaveLength(5);
    expect(written.newObjects).toContain(written.oid);
    expect(packObjectCount(await remote.gitdir.pack(written.newObjects))).toBe(5);

    const looseBefore = await looseObjects(bare);
    const requestsBefore = server.requests.length;
    expect(await remote.push(head, written.oid, written.newObjects)).toEqual({ ok: true });
    // One POST: http-backend needs no `GET info/refs?service=git-receive-pack` first.
    expect(server.requests.slice(requestsBefore).map((r) => `${r.method} ${r.path}`)).toEqual([
      `POST /${url.split('/').pop()}/git-receive-pack`,
    ]);
    expect(await looseObjects(bare)).toBe(looseBefore + 5);

    expect(await headOf(bare)).toBe(written.oid);
    const [top, parent] = await logOf(bare);
    expect(top).toMatchObject({
      oid: written.oid,
      parents: [head],
      authorName: KIPPER_SIG.name,
      authorEmail: KIPPER_SIG.email,
    });
    expect(top?.message).toBe(message);
    expect(parent?.oid).toBe(head);
    expect(await git(['--git-dir', bare, 'show', '--format=', '--name-status', written.oid])).toBe(`M\t${FILE}\n`);
    expect(await showFile(bare, 'main', FILE)).toBe(after);
    await fsck(bare);

    const clone = await cloneRepo(url);
    cleanup.push(clone);
    expect(await readFile(join(clone, FILE), 'utf8')).toBe(after);
    expect(await readFile(join(clone, 'apps', appName(7), 'deployment.yaml'), 'utf8')).toBe(
      deploymentYaml(appName(7), `registry.example.com/${appName(7)}:v1`),
    );
    // The commit header, as git reads it: our timezone convention (-120 = UTC+02:00).
    expect(await git(['--git-dir', bare, 'log', '-1', '--format=%ad', '--date=raw'])).toBe('1700000000 +0200\n');
    // The local store is a valid git repo too (git's packs), and what it remembers of the
    // commit is what a cold read from disk gives once its objects are stored.
    await remote.gitdir.flush();
    await fsck(remote.gitdir.path);
    const cold = await new Gitdir(remote.gitdir.path, { branch: 'main', fsync: false }).readCommit(written.oid);
    expect(await remote.gitdir.readCommit(written.oid)).toEqual(cold);
    expect(cold).toMatchObject({ parents: [head], message, author: KIPPER_SIG, committer: KIPPER_SIG });
  });

  it('creates new directories and files in git tree order, which fsck --strict checks', async () => {
    const { bare, remote } = await freshRemote();
    const head = await remote.fetch();
    // Names around existing ones that sort differently as file and as directory
    // ("apps/a" is a directory: "a.yaml" < "a/" < "a0" and "a-b" < "a.yaml").
    const files = new Map([
      ['apps/a.yaml', utf8('file next to dir a\n')],
      ['apps/a-b/deployment.yaml', utf8('new dir a-b\n')],
      ['apps/a0', utf8('file a0\n')],
      ['apps/zz/deep/er/values.yaml', utf8('tag: 1\n')],
      ['README.md', utf8('# config\n')],
    ]);
    const written = await remote.gitdir.writeCommit({
      parent: head,
      files,
      message: 'add files',
      author: KIPPER_SIG,
      committer: KIPPER_SIG,
    });
    expect(await remote.push(head, written.oid, written.newObjects)).toEqual({ ok: true });
    await fsck(bare);
    const changed = (await git(['--git-dir', bare, 'show', '--format=', '--name-status', written.oid]))
      .trim()
      .split('\n')
      .sort();
    expect(changed).toEqual([...files.keys()].map((path) => `A\t${path}`).sort());
    for (const [path, content] of files) {
      expect(await showFile(bare, 'main', path)).toBe(new TextDecoder().decode(content));
      expect(await remote.gitdir.readFile(written.oid, path)).toEqual(content);
    }
  });

  it('reads null for a missing file, a directory, or a path through a file', async () => {
    const { remote } = await freshRemote();
    const head = await remote.fetch();
    expect(await remote.gitdir.readFile(head, 'apps/nope/deployment.yaml')).toBeNull();
    expect(await remote.gitdir.readFile(head, 'apps/a')).toBeNull();
    expect(await remote.gitdir.readFile(head, 'kipper.yaml/x')).toBeNull();
    expect(await remote.gitdir.readFile(head, 'kipper.yaml')).not.toBeNull();
  });

  it('still writes a commit when the content is unchanged, sending no new blob or tree', async () => {
    const { bare, remote } = await freshRemote();
    const head = await remote.fetch();
    const same = (await remote.gitdir.readFile(head, FILE)) as Uint8Array;
    const written = await remote.gitdir.writeCommit({
      parent: head,
      files: new Map([[FILE, same]]),
      message: 'no-op',
      author: KIPPER_SIG,
      committer: KIPPER_SIG,
    });
    expect(written.newObjects).toEqual([written.oid]);
    expect((await remote.gitdir.readCommit(written.oid)).tree).toBe((await remote.gitdir.readCommit(head)).tree);
    expect(await remote.push(head, written.oid, written.newObjects)).toEqual({ ok: true });
    await fsck(bare);
  });

  it('pushes a chained batch of 3 commits in one push', async () => {
    const { bare, remote } = await freshRemote();
    const head = await remote.fetch();
    let parent = head;
    const all = new Set<string>();
    const oids: string[] = [];
    for (const [i, app] of ['a', appName(1), 'a'].entries()) {
      const written = await remote.gitdir.writeCommit({
        parent,
        files: new Map([
          [`apps/${app}/deployment.yaml`, utf8(deploymentYaml(app, `registry.example.com/${app}:batch${i}`))],
        ]),
        message: `deploy ${app} batch${i}`,
        author: KIPPER_SIG,
        committer: KIPPER_SIG,
      });
      written.newObjects.forEach((oid) => all.add(oid));
      oids.push(written.oid);
      parent = written.oid;
    }
    const pushesBefore = server.pushes;
    expect(await remote.push(head, parent, [...all])).toEqual({ ok: true });
    expect(server.pushes).toBe(pushesBefore + 1);
    const log = await logOf(bare);
    expect(log.slice(0, 4).map((c) => c.oid)).toEqual([...oids].reverse().concat(head));
    expect(log.slice(0, 3).map((c) => c.message.trim())).toEqual([
      'deploy a batch2',
      `deploy ${appName(1)} batch1`,
      'deploy a batch0',
    ]);
    expect(await showFile(bare, 'main', FILE)).toBe(deploymentYaml('a', 'registry.example.com/a:batch2'));
    await fsck(bare);
  });

  it('compare-and-swap: a push on a stale head is rejected, the third party wins, and fetch + rewrite + push then lands', async () => {
    const { bare, url, remote } = await freshRemote();
    const head = await remote.fetch();

    // A human pushes with native git after our fetch.
    const clone = await cloneRepo(url);
    cleanup.push(clone);
    const theirFile = `apps/${appName(3)}/deployment.yaml`;
    const theirs = await commitAndPush(
      clone,
      theirFile,
      deploymentYaml(appName(3), 'registry.example.com/human:1'),
      'human edit',
    );

    const stale = await remote.gitdir.writeCommit({
      parent: head,
      files: new Map([[FILE, utf8(deploymentYaml('a', 'registry.example.com/a:v2'))]]),
      message: 'deploy a v2',
      author: KIPPER_SIG,
      committer: KIPPER_SIG,
    });
    const rejected = await remote.push(head, stale.oid, stale.newObjects);
    expect(rejected).toMatchObject({ ok: false, kind: 'rejected' });
    expect(await headOf(bare)).toBe(theirs);

    // Retry on the new head: the edit is re-applied, nothing of theirs is lost.
    const fresh = await remote.fetch();
    expect(fresh).toBe(theirs);
    expect(new TextDecoder().decode((await remote.gitdir.readFile(fresh, theirFile)) ?? undefined)).toContain(
      'human:1',
    );
    const retry = await remote.gitdir.writeCommit({
      parent: fresh,
      files: new Map([[FILE, utf8(deploymentYaml('a', 'registry.example.com/a:v2'))]]),
      message: 'deploy a v2',
      author: KIPPER_SIG,
      committer: KIPPER_SIG,
    });
    expect(await remote.push(fresh, retry.oid, retry.newObjects)).toEqual({ ok: true });
    expect((await logOf(bare)).slice(0, 2).map((c) => c.oid)).toEqual([retry.oid, theirs]);
    expect(await showFile(bare, 'main', theirFile)).toContain('human:1');
    expect(await showFile(bare, 'main', FILE)).toContain('a:v2');
    await fsck(bare);
  });

  it('a push whose old id is not the head is rejected even when it would fast-forward (a true CAS)', async () => {
    const { bare, remote } = await freshRemote();
    const head = await remote.fetch();
    const first = await remote.gitdir.writeCommit({
      parent: head,
      files: new Map([[FILE, utf8('one\n')]]),
      message: 'one',
      author: KIPPER_SIG,
      committer: KIPPER_SIG,
    });
    expect(await remote.push(head, first.oid, first.newObjects)).toEqual({ ok: true });
    // Built on `first` (a fast-forward), but claims the branch is still at `head`.
    const second = await remote.gitdir.writeCommit({
      parent: first.oid,
      files: new Map([[FILE, utf8('two\n')]]),
      message: 'two',
      author: KIPPER_SIG,
      committer: KIPPER_SIG,
    });
    expect(await remote.push(head, second.oid, second.newObjects)).toMatchObject({ ok: false, kind: 'rejected' });
    expect(await headOf(bare)).toBe(first.oid);
  });

  it('a fetch with nothing new costs one request; a moved head brings only the new commit', async () => {
    const { url, remote } = await freshRemote();
    const head = await remote.fetch();
    const before = server.requests.length;
    expect(await remote.fetch()).toBe(head);
    expect(server.requests.slice(before).map((r) => `${r.method} ${r.path.split('/').pop()}`)).toEqual(['GET refs']);

    const clone = await cloneRepo(url);
    cleanup.push(clone);
    const theirs = await commitAndPush(clone, 'kipper.yaml', 'apps: []\n', 'empty the list');
    const inPack = async () =>
      Number(/^in-pack: (\d+)$/m.exec(await git(['--git-dir', remote.gitdir.path, 'count-objects', '-v']))?.[1]);
    const objectsBefore = await inPack();
    expect(await remote.fetch()).toBe(theirs);
    // commit + root tree + kipper.yaml blob: our head went as a "have", the rest stayed put.
    expect(await inPack()).toBe(objectsBefore + 3);
    expect(new TextDecoder().decode((await remote.gitdir.readFile(theirs, 'kipper.yaml')) ?? undefined)).toBe(
      'apps: []\n',
    );
  });

  it('an empty remote is REPO_UNAVAILABLE to fetch, and a root commit pushed with ZERO_OID creates the branch', async () => {
    const name = `empty-${++repoCount}.git`;
    const bare = await createBareRepo(server.root, name);
    const gitdir = await mkdtemp(join(tmpdir(), 'kip-store-'));
    cleanup.push(gitdir);
    const remote = new HttpRemote({ url: server.url(name), branch: 'main', gitdir });
    const err = await remote.fetch().catch((e: unknown) => e);
    expect(isKipError(err, 'REPO_UNAVAILABLE')).toBe(true);

    const seed = await remote.gitdir.writeCommit({
      parent: '',
      files: new Map([['kipper.yaml', utf8('apps: []\n')]]),
      message: 'seed',
      author: KIPPER_SIG,
      committer: KIPPER_SIG,
    });
    expect(await remote.push(ZERO_OID, seed.oid, seed.newObjects)).toEqual({ ok: true });
    expect(await headOf(bare)).toBe(seed.oid);
    expect(await remote.fetch()).toBe(seed.oid);
    expect(await remote.push(ZERO_OID, seed.oid, seed.newObjects)).toMatchObject({ ok: false, kind: 'rejected' });
    await fsck(bare);
  });

  it('fetchFull brings the whole history into the shallow local store', async () => {
    const { url, remote } = await freshRemote();
    const clone = await cloneRepo(url);
    cleanup.push(clone);
    for (let i = 0; i < 3; i++) await commitAndPush(clone, 'notes.txt', `note ${i}\n`, `note ${i}`);
    const head = await remote.fetch();
    // depth 1: native git, honouring the shallow file, sees one commit.
    expect((await git(['--git-dir', remote.gitdir.path, 'rev-list', '--count', head])).trim()).toBe('1');
    expect(await remote.fetchFull()).toBe(head);
    expect((await git(['--git-dir', remote.gitdir.path, 'rev-list', '--count', head])).trim()).toBe('4');
    await fsck(remote.gitdir.path);
  });
});
