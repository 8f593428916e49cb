import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { mkdir, mkdtemp, open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as isogit from 'isomorphic-git';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Gitdir } from '../../../src/repo/gitdir.js';
import { LocalRemote } from '../../../src/repo/local-remote.js';
import { cloneRepo, createBareRepo, fsck, git, headOf } from '../../helpers/git-cli.js';
import { appName, deploymentYaml, KIPPER_SIG, makeAppsDir, utf8 } from './apps-fixture.js';

const APPS = 50;

let root: string;
let seedDir: string;
let count = 0;

async function freshRepo(): Promise<string> {
  return createBareRepo(root, `packs-${++count}.git`, seedDir);
}

/** git repack merges our packs beyond this many (new-objects.ts). */
const MAX_PACKS = 16;

function gitdirOf(bare: string): Gitdir {
  return new Gitdir(bare, { branch: 'main', fsync: false });
}

/** The packs of a repo, by name (`pack-<hex>`). */
async function packNames(gitdir: string): Promise<string[]> {
  return (await packDir(gitdir)).filter((f) => f.endsWith('.idx')).map((f) => f.slice(0, -4));
}

/** One deploy: app `i % APPS` gets image tag `tag`. */
async function deploy(store: Gitdir, parent: string, i: number, tag: string) {
  const name = appName(i % APPS);
  return store.writeCommit({
    parent,
    files: new Map([
      [`apps/${name}/deployment.yaml`, utf8(deploymentYaml(name, `registry.example.com/${name}:${tag}`))],
    ]),
    message: `deploy ${name}: ${tag}`,
    author: KIPPER_SIG,
    committer: KIPPER_SIG,
  });
}

/** Files under objects/ that are loose objects (objects/xx/…). */
async function looseObjects(gitdir: string): Promise<string[]> {
  const out: string[] = [];
  for (const dir of await readdir(join(gitdir, 'objects'))) {
    if (/^[0-9a-f]{2}$/.test(dir)) out.push(...(await readdir(join(gitdir, 'objects', dir))).map((f) => dir + f));
  }
  return out;
}

async function packDir(gitdir: string): Promise<string[]> {
  return (await readdir(join(gitdir, 'objects', 'pack'))).sort();
}

/** Every object reachable from `tip` but not from `base`, as native git lists them. */
async function objectsBetween(gitdir: string, base: string, tip: string): Promise<string[]> {
  const out = await git(['--git-dir', gitdir, 'rev-list', '--objects', tip, `^${base}`]);
  return out
    .split('\n')
    .filter(Boolean)
    .map((line) => line.slice(0, 40))
    .sort();
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'kip-packs-'));
  seedDir = await makeAppsDir(APPS);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  await rm(seedDir, { recursive: true, force: true });
});

describe('Gitdir stores new objects as packs, not loose objects', () => {
  it('writes one flush as one pack + idx that native git verifies and reads, with no loose object', async () => {
    const bare = await freshRepo();
    const before = await packDir(bare);
    const base = await headOf(bare);
    const store = gitdirOf(bare);
    let tip = base;
    const written: string[] = [];
    for (let i = 0; i < 12; i++) {
      const w = await deploy(store, tip, i, `v${i}`);
      written.push(...w.newObjects);
      tip = w.oid;
    }
    await store.flush();

    const added = (await packDir(bare)).filter((f) => !before.includes(f));
    expect(added).toHaveLength(2);
    const idxFile = added.find((f) => f.endsWith('.idx')) as string;
    const packFile = added.find((f) => f.endsWith('.pack')) as string;
    expect(idxFile.slice(0, -4)).toBe(packFile.slice(0, -5));
    const packPath = join(bare, 'objects', 'pack', packFile);

    // git checks the pack (every entry's hash, CRC and the trailer) against its idx.
    const verified = await git(['verify-pack', '-v', packPath]);
    expect(verified).toMatch(/: ok\s*$/);
    expect(verified).toContain(`non delta: ${new Set(written).size} objects`);
    expect(packFile).toBe(`pack-${(await readFile(packPath)).subarray(-20).toString('hex')}.pack`);

    // Exactly the objects the commits need, each readable by native git.
    expect(await objectsBetween(bare, base, tip)).toEqual([...new Set(written)].sort());
    for (const oid of new Set(written)) {
      const type = (await git(['--git-dir', bare, 'cat-file', '-t', oid])).trim();
      expect(['blob', 'tree', 'commit']).toContain(type);
      await git(['--git-dir', bare, 'cat-file', '-p', oid]);
    }
    expect(await looseObjects(bare)).toEqual([]);
    await git(['--git-dir', bare, 'update-ref', 'refs/heads/main', tip, base]);
    await fsck(bare);
  });

  it('reads objects back from its packs: a new store on the repo sees every commit and file', async () => {
    const bare = await freshRepo();
    const writer = gitdirOf(bare);
    let tip = await headOf(bare);
    const tips: string[] = [];
    for (let i = 0; i < 5; i++) {
      tip = (await deploy(writer, tip, i, `r${i}`)).oid;
      tips.push(tip);
      await writer.flush();
    }
    const reader = gitdirOf(bare);
    for (const [i, oid] of tips.entries()) {
      const name = appName(i);
      const text = new TextDecoder().decode((await reader.readFile(oid, `apps/${name}/deployment.yaml`)) ?? undefined);
      expect(text).toBe(deploymentYaml(name, `registry.example.com/${name}:r${i}`));
      expect(await reader.readCommit(oid)).toEqual(await writer.readCommit(oid));
    }
    // The parent's files come from the seed pack (native git's, with deltas).
    expect(await reader.readFile(tips[0] as string, 'kipper.yaml')).toEqual(
      new Uint8Array(await readFile(join(seedDir, 'kipper.yaml'))),
    );
  });

  // isomorphic-git is the independent reader the history index was first built on: the
  // same commits must read the same (a devDependency, for this comparison only).
  it('parses commits as isomorphic-git does, CRs, extra headers and odd time zones included', async () => {
    const bare = await freshRepo();
    const tree = (await git(['--git-dir', bare, 'rev-parse', 'main^{tree}'])).trim();
    const parent = await headOf(bare);
    const bodies = [
      `tree ${tree}\nparent ${parent}\nauthor A U Thor <a@example.com> 1700000000 +0530\ncommitter C O Mitter <c@example.com> 1700000001 -0000\nencoding UTF-8\n\n\nfirst line\r\n\r\nKipper-App: demo/a\r\n\n\n`,
      `tree ${tree}\nauthor Nobody <> 0 +0000\ncommitter X <x@example.com> 1 -1230\nmergetag object ${parent}\n type commit\n tag v1\n\nmessage without newline`,
    ];
    const oids: string[] = [];
    for (const [i, body] of bodies.entries()) {
      const file = join(root, `commit-${count}-${i}`);
      await writeFile(file, body);
      oids.push((await git(['--git-dir', bare, 'hash-object', '-t', 'commit', '--literally', '-w', file])).trim());
    }
    // In a pack, as a server repo would have them.
    await git(['--git-dir', bare, 'repack', '-a', '-d', '-q']);
    const store = gitdirOf(bare);
    for (const oid of oids) {
      const { commit } = await isogit.readCommit({ fs, gitdir: bare, oid });
      expect(await store.readCommit(oid)).toEqual({
        tree: commit.tree,
        parents: commit.parent,
        message: commit.message,
        author: commit.author,
        committer: commit.committer,
      });
    }
  });

  it(`repacks once there are more than ${MAX_PACKS} packs, leaving fsck clean and reads working`, async () => {
    const bare = await freshRepo();
    const [seedPack] = (await packDir(bare)).filter((f) => f.endsWith('.pack'));
    const verifiedSeed = await git(['verify-pack', '-v', join(bare, 'objects', 'pack', seedPack as string)]);
    // The seed is native git's pack of 50 similar manifests, with deltas.
    expect(verifiedSeed).toMatch(/chain length = 1:/);

    const store = gitdirOf(bare);
    const base = await headOf(bare);
    let tip = base;
    const tips: string[] = [];
    const written = new Set<string>();
    for (let i = 0; i < 3 * MAX_PACKS; i++) {
      const w = await deploy(store, tip, i, `m${i}`);
      w.newObjects.forEach((o) => written.add(o));
      tip = w.oid;
      tips.push(tip);
      await store.flush();
    }

    const packs = await packNames(bare);
    expect(packs.length).toBeLessThanOrEqual(MAX_PACKS + 1);
    // On disk only packs and their side files: no temp file left behind.
    expect((await packDir(bare)).filter((f) => !/\.(idx|pack|rev|bitmap)$/.test(f))).toEqual([]);
    expect(await looseObjects(bare)).toEqual([]);
    for (const p of packs) expect(await git(['verify-pack', join(bare, 'objects', 'pack', `${p}.idx`)])).toBe('');

    await git(['--git-dir', bare, 'update-ref', 'refs/heads/main', tip, base]);
    await fsck(bare);
    expect(await objectsBetween(bare, base, tip)).toEqual([...written].sort());
    const clone = await cloneRepo(bare);
    try {
      const last = appName((3 * MAX_PACKS - 1) % APPS);
      expect(await readFile(join(clone, 'apps', last, 'deployment.yaml'), 'utf8')).toBe(
        deploymentYaml(last, `registry.example.com/${last}:m${3 * MAX_PACKS - 1}`),
      );
    } finally {
      await rm(clone, { recursive: true, force: true });
    }

    // A reader with nothing in memory reads every commit from the repacked packs.
    const reader = gitdirOf(bare);
    for (const [i, oid] of tips.entries()) {
      const name = appName(i % APPS);
      expect(new TextDecoder().decode((await reader.readFile(oid, `apps/${name}/deployment.yaml`)) ?? undefined)).toBe(
        deploymentYaml(name, `registry.example.com/${name}:m${i}`),
      );
    }
    await Promise.all([store.close(), reader.close()]);
  });

  it('reads by other stores and native git keep working while packs are merged under them', async () => {
    const bare = await freshRepo();
    const writer = gitdirOf(bare);
    const base = await headOf(bare);
    let tip = base;
    const tips: string[] = [];
    let done = false;
    const failures: unknown[] = [];
    // Another process's view (a fresh store) and native git (http-backend's view), in a loop.
    const reader = (async () => {
      const store = gitdirOf(bare);
      while (!done) {
        for (const [i, oid] of [...tips].entries()) {
          const name = appName(i % APPS);
          const text = new TextDecoder().decode(
            (await store.readFile(oid, `apps/${name}/deployment.yaml`)) ?? undefined,
          );
          if (text !== deploymentYaml(name, `registry.example.com/${name}:c${i}`)) failures.push(`${oid}: ${text}`);
        }
        await new Promise((r) => setTimeout(r, 1));
      }
    })().catch((err: unknown) => failures.push(err));
    const native = (async () => {
      while (!done) await git(['--git-dir', bare, 'rev-list', '--objects', 'main']).then((out) => out.length);
    })().catch((err: unknown) => failures.push(err));

    for (let i = 0; i < 4 * MAX_PACKS; i++) {
      tip = (await deploy(writer, tip, i, `c${i}`)).oid;
      await writer.flush();
      // Readers learn of a commit only once it is on disk, as they would through the ref.
      tips.push(tip);
      await git(['--git-dir', bare, 'update-ref', 'refs/heads/main', tip]);
    }
    await writer.flush();
    done = true;
    await Promise.all([reader, native]);
    expect(failures).toEqual([]);
    await fsck(bare);
  });

  it('a failed pack write fails flush, and the next flush writes the same objects', async () => {
    const bare = await freshRepo();
    const store = gitdirOf(bare);
    const base = await headOf(bare);
    const w = await deploy(store, base, 1, 'retry');
    const packs = join(bare, 'objects', 'pack');
    // A file where the directory was stops the write whoever runs this (permissions do not stop root).
    await rename(packs, `${packs}.away`);
    await writeFile(packs, 'not a directory\n');
    // Every caller waiting on that store hears of the failure, not only the first.
    const waiting = [store.flush(), store.flush()];
    for (const flush of waiting) await expect(flush).rejects.toThrow();
    await expect(store.flush()).rejects.toThrow();
    // Still readable from memory meanwhile.
    expect(await store.readCommit(w.oid)).toMatchObject({ parents: [base] });
    await rm(packs);
    await rename(`${packs}.away`, packs);
    await store.flush();
    await git(['--git-dir', bare, 'update-ref', 'refs/heads/main', w.oid, base]);
    await fsck(bare);
    expect(await objectsBetween(bare, base, w.oid)).toEqual([...w.newObjects].sort());
  });
});

describe('LocalRemote with packs', () => {
  it('makes the new pack durable (file and directory fsynced) before the ref moves', async (ctx) => {
    const bare = await freshRepo();
    const remote = new LocalRemote({ gitdir: bare, branch: 'main' });
    const head = await remote.fetch();
    const written = await deploy(remote.gitdir, head, 3, 'durable');

    const log = join(root, `strace-${count}.log`);
    const trace = await traceSelf(log);
    if (trace === null) {
      ctx.skip();
      return;
    }
    let lines: string[];
    try {
      expect(await remote.push(head, written.oid, written.newObjects)).toEqual({ ok: true });
    } finally {
      lines = await trace.stop();
    }
    const packDirPath = join(bare, 'objects', 'pack');
    // git names a new pack with link() (or rename()) from its temp file.
    const renames = lines
      .map((line, at) => ({ at, paths: [...line.matchAll(/"([^"]+)"/g)].map((m) => m[1] as string) }))
      .filter((r) => /\b(rename|link)(at2?)?\(/.test(lines[r.at] as string) && r.paths.length === 2);
    const refMoved = renames.find((r) => r.paths[1] === join(bare, 'refs', 'heads', 'main'));
    expect(refMoved).toBeDefined();
    const fsyncedAt = (path: string) => lines.findIndex((l) => /\bf(data)?sync\(/.test(l) && l.includes(`<${path}>`));
    for (const ext of ['.pack', '.idx']) {
      const r = renames.find((x) => x.paths[1]?.startsWith(join(packDirPath, 'pack-')) && x.paths[1].endsWith(ext));
      expect(r, ext).toBeDefined();
      // The temp file was fsynced before it got its name, and both before the ref moved.
      const synced = fsyncedAt(r?.paths[0] as string);
      expect(synced, `${ext} fsync`).toBeGreaterThanOrEqual(0);
      expect(synced).toBeLessThan(r?.at as number);
      expect(r?.at).toBeLessThan(refMoved?.at as number);
    }
    const dirSynced = lines.findIndex((l) => /\bfsync\(/.test(l) && l.includes(`<${packDirPath}>`));
    expect(dirSynced).toBeGreaterThanOrEqual(0);
    expect(dirSynced).toBeLessThan(refMoved?.at as number);

    expect(await headOf(bare)).toBe(written.oid);
    expect(await looseObjects(bare)).toEqual([]);
    await fsck(bare);
  });

  it('pushes many deploys as a few packs that native git serves', async () => {
    const bare = await freshRepo();
    const remote = new LocalRemote({ gitdir: bare, branch: 'main' });
    let head = await remote.fetch();
    for (let i = 0; i < 2 * MAX_PACKS; i++) {
      const w = await deploy(remote.gitdir, head, i, `p${i}`);
      expect(await remote.push(head, w.oid, w.newObjects)).toEqual({ ok: true });
      head = w.oid;
    }
    await remote.gitdir.flush();
    expect((await packNames(bare)).length).toBeLessThanOrEqual(MAX_PACKS + 1);
    expect(await looseObjects(bare)).toEqual([]);
    await fsck(bare);
    const clone = await cloneRepo(bare);
    try {
      expect((await git(['rev-parse', 'HEAD'], { cwd: clone })).trim()).toBe(head);
    } finally {
      await rm(clone, { recursive: true, force: true });
    }
  });
});

/**
 * strace attached to this very process (every thread: Node does file I/O on its thread
 * pool) and its git children, logging fsyncs, renames and links with the paths of their file descriptors. Null when
 * strace is missing or may not attach here (ptrace restricted).
 */
async function traceSelf(log: string): Promise<{ stop: () => Promise<string[]> } | null> {
  const marker = join(root, `strace-marker-${count}`);
  await mkdir(root, { recursive: true });
  const child = spawn(
    'strace',
    [
      '-f',
      '-y',
      '-qq',
      '-e',
      'trace=fsync,fdatasync,rename,renameat,renameat2,link,linkat',
      '-o',
      log,
      '-p',
      String(process.pid),
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => {
    child.on('exit', () => resolve());
    child.on('error', () => resolve());
  });
  // Attached once an fsync of the marker shows up in the log.
  for (let i = 0; i < 100; i++) {
    const handle = await open(marker, 'w');
    await handle.sync();
    await handle.close();
    const text = await readFile(log, 'utf8').catch(() => '');
    if (text.includes(marker)) {
      return {
        stop: async () => {
          child.kill('SIGINT');
          await exited;
          return (await readFile(log, 'utf8')).split('\n');
        },
      };
    }
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  await exited;
  return null;
}

describe('the cat-file reader', () => {
  it('stays in step after a missing name with spaces, and refuses a name with a line break', async () => {
    const bare = await freshRepo();
    const reader = gitdirOf(bare);
    const head = await headOf(bare);
    expect(await reader.readFile(head, 'apps/no such/file.yaml')).toBeNull();
    expect(await reader.readFile(head, 'apps/a c')).toBeNull();
    // The next reads answer for themselves, not for the misses before them.
    expect(new TextDecoder().decode((await reader.readFile(head, 'apps/a/deployment.yaml')) ?? undefined)).toBe(
      deploymentYaml('a', 'registry.example.com/a:v1'),
    );
    expect(await reader.readFile(head, 'kipper.yaml')).not.toBeNull();
    await expect(reader.readFile(head, 'apps/a\nb')).rejects.toThrow();
    await reader.close();
  });
});
