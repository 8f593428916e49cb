import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { walkFirstParents } from '../../../src/repo/first-parent.js';
import { Gitdir } from '../../../src/repo/gitdir.js';
import { cloneRepo, commitAndPush, createBareRepo, git } from '../../helpers/git-cli.js';
import { makeAppsDir } from './apps-fixture.js';

let root: string;
let seedDir: string;
const gitdirs: Gitdir[] = [];
/** The commits of the history built below, by name. */
const at: Record<string, string> = {};

/** A Gitdir over `path` (a bare repo made by the git CLI). */
function gitdirOf(path: string): Gitdir {
  const g = new Gitdir(path, { branch: 'main', fsync: false });
  gitdirs.push(g);
  return g;
}

// seed ─ b ─────── merge ─ d      (first parents)
//    └─ side ─┘
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'kip-first-parent-'));
  seedDir = await makeAppsDir(2);
  const bare = await createBareRepo(root, 'walk.git', seedDir);
  const clone = await cloneRepo(bare);
  at.seed = (await git(['rev-parse', 'HEAD'], { cwd: clone })).trim();
  at.b = await commitAndPush(clone, 'notes/b.txt', 'b\n', 'b');
  await git(['checkout', '--quiet', '-b', 'side', at.seed], { cwd: clone });
  at.side = await commitAndPush(clone, 'notes/side.txt', 'side\n', 'side', 'side');
  await git(['checkout', '--quiet', 'main'], { cwd: clone });
  await git(['merge', '--quiet', '--no-ff', '-m', 'merge side', 'side'], { cwd: clone });
  at.merge = (await git(['rev-parse', 'HEAD'], { cwd: clone })).trim();
  at.d = await commitAndPush(clone, 'notes/d.txt', 'd\n', 'd');
  at.bare = bare;
  // Two commits deep: `merge` names `b` as its first parent, but `b` is not here.
  at.shallow = join(root, 'shallow.git');
  await git(['clone', '--quiet', '--bare', '--depth=2', `file://${bare}`, at.shallow]);
});

afterAll(async () => {
  await Promise.all(gitdirs.map((g) => g.close()));
  await rm(root, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  await rm(seedDir, { recursive: true, force: true });
});

describe('walkFirstParents', () => {
  it('visits the first-parent chain newest first, never a merged side branch', async () => {
    const seen: string[] = [];
    const end = await walkFirstParents(gitdirOf(at.bare!), at.d!, (oid) => (seen.push(oid), false), 100);
    expect(end).toBe('root');
    expect(seen).toEqual([at.d, at.merge, at.b, at.seed]);
  });

  it('says found when the predicate does, and limit after that many commits', async () => {
    const gitdir = gitdirOf(at.bare!);
    expect(await walkFirstParents(gitdir, at.d!, (oid) => oid === at.b, 100)).toBe('found');
    expect(await walkFirstParents(gitdir, at.d!, (oid) => oid === at.b, 2)).toBe('limit');
    expect(await walkFirstParents(gitdir, at.d!, (oid) => oid === at.side, 100)).toBe('root');
  });

  it('says missing at the edge of a shallow clone: the one answer a fetch may change', async () => {
    const seen: string[] = [];
    const end = await walkFirstParents(gitdirOf(at.shallow!), at.d!, (oid) => (seen.push(oid), oid === at.seed), 100);
    expect(end).toBe('missing');
    expect(seen).toEqual([at.d, at.merge, at.b]);
  });
});
