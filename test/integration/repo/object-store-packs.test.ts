import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { mkdir, mkdtemp, open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as isogit from 'isomorphic-git';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalRemote } from '../../../src/repo/local-remote.js';
import { ObjectStore } from '../../../src/repo/object-store.js';
import { encodePackIndex, PackIndex } from '../../../src/repo/pack-index.js';
import { MAX_PACKS, selectForMerge } from '../../../src/repo/pack-set.js';
import { cloneRepo, createBareRepo, fsck, git, headOf } from '../../helpers/git-cli.js';
import { appName, deploymentYaml, KIPPER_SIG, makeAppsDir, utf8 } from './apps-fixture.js';

const APPS = 50;

let root: string;
let seedDir: string;
let count = 0;

async function freshRepo(): Promise<string> {
  return createBareRepo(root, `packs-${++count}.git`, seedDir);
}

/** One deploy: app `i % APPS` gets image tag `tag`. */
async function deploy(store: ObjectStore, parent: string, i: number, tag: string) {
  const name = appName(i % APPS);
  return store.writeCommit({
    parent,
    files: new Map([[`apps/${name}/deployment.yaml`, utf8(deploymentYaml(name, `registry.example.com/${name}:${tag}`))]]),
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

describe('ObjectStore writes packs, not loose objects', () => {
  it('writes one flush as one pack + idx that native git verifies and reads, with no loose object', async () => {
    const bare = await freshRepo();
    const before = await packDir(bare);
    const base = await headOf(bare);
    const store = new ObjectStore(bare);
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

    // git checks the pack (every entry's hash, CRC and the trailer) against our idx.
    const verified = await git(['verify-pack', '-v', packPath]);
    expect(verified).toMatch(/: ok\s*$/);
    expect(verified).toContain(`non delta: ${new Set(written).size} objects`);
    // The idx is the one git itself makes for that pack, byte for byte.
    const gitIdx = join(root, `check-${count}.idx`);
    await git(['index-pack', '-o', gitIdx, packPath]);
    expect(await readFile(join(bare, 'objects', 'pack', idxFile))).toEqual(await readFile(gitIdx));
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
    const writer = new ObjectStore(bare);
    let tip = await headOf(bare);
    const tips: string[] = [];
    for (let i = 0; i < 5; i++) {
      tip = (await deploy(writer, tip, i, `r${i}`)).oid;
      tips.push(tip);
      await writer.flush();
    }
    const reader = new ObjectStore(bare);
    for (const [i, oid] of tips.entries()) {
      const name = appName(i);
      const text = new TextDecoder().decode((await reader.readFile(oid, `apps/${name}/deployment.yaml`)) ?? undefined);
      expect(text).toBe(deploymentYaml(name, `registry.example.com/${name}:r${i}`));
      expect(await reader.readCommit(oid)).toEqual(await writer.readCommit(oid));
    }
    // The parent's files come from the seed pack (native git's, with deltas).
    expect(await reader.readFile(tips[0] as string, 'kipper.yaml')).toEqual(new Uint8Array(await readFile(join(seedDir, 'kipper.yaml'))));
  });

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
    const store = new ObjectStore(bare);
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

  it(`merges its packs once there are more than ${MAX_PACKS}, leaving fsck clean, the seed pack alone and reads working`, async () => {
    const bare = await freshRepo();
    const [seedPack] = (await packDir(bare)).filter((f) => f.endsWith('.pack'));
    const verifiedSeed = await git(['verify-pack', '-v', join(bare, 'objects', 'pack', seedPack as string)]);
    // The seed is native git's pack of 50 similar manifests: deltas, which a merge by copy cannot take.
    expect(verifiedSeed).toMatch(/chain length = 1:/);

    const store = new ObjectStore(bare);
    const base = await headOf(bare);
    let tip = base;
    const tips: string[] = [];
    const written = new Set<string>();
    // Prime isomorphic-git's cache with our first packs: it must forget them once deleted.
    let primed = '';
    for (let i = 0; i < 3 * MAX_PACKS; i++) {
      const w = await deploy(store, tip, i, `m${i}`);
      w.newObjects.forEach((o) => written.add(o));
      tip = w.oid;
      tips.push(tip);
      await store.flush();
      if (i === 0) {
        primed = tip;
        await isogit.readObject({ fs, gitdir: bare, oid: primed, cache: store.gitCache });
      }
    }
    await store.idle();

    const packs = await store.listPacks();
    expect(packs.length).toBeLessThanOrEqual(MAX_PACKS + 1);
    expect(packs).toContain((seedPack as string).slice(0, -5));
    // On disk exactly what the store searches: merged-away packs deleted, no temp file left
    // (native git's seed pack also has a .bitmap).
    expect((await packDir(bare)).filter((f) => !f.endsWith('.bitmap'))).toEqual(packs.flatMap((p) => [`${p}.idx`, `${p}.pack`]).sort());
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

    // A store with nothing in memory reads every commit from the merged packs.
    const reader = new ObjectStore(bare);
    for (const [i, oid] of tips.entries()) {
      const name = appName(i % APPS);
      expect(new TextDecoder().decode((await reader.readFile(oid, `apps/${name}/deployment.yaml`)) ?? undefined)).toBe(
        deploymentYaml(name, `registry.example.com/${name}:m${i}`),
      );
    }
    // isomorphic-git (what a fetch uses) still finds them, and its cache kept no deleted pack.
    expect((await isogit.readObject({ fs, gitdir: bare, oid: primed, cache: store.gitCache })).type).toBe('commit');
    const cached = Object.getOwnPropertySymbols(store.gitCache).flatMap((s) => {
      const v: unknown = (store.gitCache as Record<symbol, unknown>)[s];
      return v instanceof Map ? [...v.keys()].map(String) : [];
    });
    expect(cached.length).toBeGreaterThan(0);
    for (const path of cached) expect(packs.some((p) => path.endsWith(`/${p}.idx`)), path).toBe(true);
  });

  it('reads by other stores and native git keep working while packs are merged under them', async () => {
    const bare = await freshRepo();
    const writer = new ObjectStore(bare);
    const base = await headOf(bare);
    let tip = base;
    const tips: string[] = [];
    let done = false;
    const failures: unknown[] = [];
    // Another process's view (a fresh store) and native git (http-backend's view), in a loop.
    const reader = (async () => {
      const store = new ObjectStore(bare);
      while (!done) {
        for (const [i, oid] of [...tips].entries()) {
          const name = appName(i % APPS);
          const text = new TextDecoder().decode((await store.readFile(oid, `apps/${name}/deployment.yaml`)) ?? undefined);
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
    await writer.idle();
    done = true;
    await Promise.all([reader, native]);
    expect(failures).toEqual([]);
    await fsck(bare);
  });

  it('a failed pack write fails flush, and the next flush writes the same objects', async () => {
    const bare = await freshRepo();
    const store = new ObjectStore(bare);
    const base = await headOf(bare);
    const w = await deploy(store, base, 1, 'retry');
    const packs = join(bare, 'objects', 'pack');
    // A file where the directory was stops the write whoever runs this (permissions do not stop root).
    await rename(packs, `${packs}.away`);
    await writeFile(packs, 'not a directory\n');
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

  it('encodes idx offsets past 2 GiB in the 8-byte table, and reads them back', () => {
    const entries = [0x10, 0x7fffffff, 0x80000000, 5 * 2 ** 30].map((offset, i) => ({
      oid: Buffer.alloc(20, 0x40 * i + 1),
      offset,
      crc: 0xfedcba98 - i,
    }));
    const index = new PackIndex(encodePackIndex(entries, Buffer.alloc(20, 7)));
    expect(index.count).toBe(4);
    expect(index.packChecksum).toBe('07'.repeat(20));
    for (const e of entries) {
      const at = index.find(e.oid.toString('hex'));
      expect(index.offsetAt(at)).toBe(e.offset);
      expect(index.crcAt(at)).toBe(e.crc);
    }
    expect(index.find('ff'.repeat(20))).toBe(-1);
  });

  it('finds every id of a large index, and no other', () => {
    const entries = Array.from({ length: 5000 }, (_, i) => ({
      oid: createHash('sha1').update(String(i)).digest(),
      offset: 12 + i * 100,
      crc: i,
    }));
    const index = new PackIndex(encodePackIndex(entries, Buffer.alloc(20)));
    for (const e of entries) expect(index.offsetAt(index.find(e.oid.toString('hex')))).toBe(e.offset);
    for (let i = 5000; i < 6000; i++) expect(index.find(createHash('sha1').update(String(i)).digest('hex'))).toBe(-1);
    // Where an entry ends: at the next offset, or before the trailer for the last one.
    expect(index.entryEnd(12, 12 + 5000 * 100 + 20)).toBe(112);
    expect(index.entryEnd(12 + 4999 * 100, 12 + 5000 * 100 + 20)).toBe(12 + 5000 * 100);
  });
});

describe('choosing packs to merge', () => {
  it('keeps the pack count bounded and rewrites each byte only a few times over many flushes', () => {
    let packs: Array<{ size: number }> = [];
    let written = 0;
    let rewritten = 0;
    for (let flush = 0; flush < 20_000; flush++) {
      const size = 4000 + (flush % 7) * 300;
      packs.push({ size });
      written += size;
      if (packs.length > MAX_PACKS) {
        const merged = selectForMerge(packs);
        const bytes = merged.reduce((n, p) => n + p.size, 0);
        rewritten += bytes;
        packs = [...packs.filter((p) => !merged.includes(p)), { size: bytes }];
      }
      expect(packs.length).toBeLessThanOrEqual(MAX_PACKS);
    }
    // Geometric merging: O(log n) rewrites per byte (8.3 here; ~4.8 after 1,000 flushes,
    // ~10 after 100,000), where merging everything each time would be O(n).
    expect(rewritten / written).toBeLessThan(10);
  });
});

describe('LocalRemote with packs', () => {
  it('makes the new pack durable (file and directory fsynced) before the ref moves', async (ctx) => {
    const bare = await freshRepo();
    const remote = new LocalRemote({ gitdir: bare, branch: 'main' });
    const head = await remote.fetch();
    const written = await deploy(remote.store, head, 3, 'durable');

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
    const renames = lines
      .map((line, at) => ({ at, paths: [...line.matchAll(/"([^"]+)"/g)].map((m) => m[1] as string) }))
      .filter((r) => /\brename(at2?)?\(/.test(lines[r.at] as string) && r.paths.length === 2);
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
      const w = await deploy(remote.store, head, i, `p${i}`);
      expect(await remote.push(head, w.oid, w.newObjects)).toEqual({ ok: true });
      head = w.oid;
    }
    await remote.store.idle();
    expect((await remote.store.listPacks()).length).toBeLessThanOrEqual(MAX_PACKS + 1);
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
 * pool), logging fsyncs and renames with the paths of their file descriptors. Null when
 * strace is missing or may not attach here (ptrace restricted).
 */
async function traceSelf(log: string): Promise<{ stop: () => Promise<string[]> } | null> {
  const marker = join(root, `strace-marker-${count}`);
  await mkdir(root, { recursive: true });
  const child = spawn(
    'strace',
    ['-f', '-y', '-qq', '-e', 'trace=fsync,fdatasync,rename,renameat,renameat2', '-o', log, '-p', String(process.pid)],
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
