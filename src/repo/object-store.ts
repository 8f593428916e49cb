/**
 * Git objects in a bare repo, read and written without a working tree or index.
 *
 * Writing one change costs the change, not the repo: the new blob, the trees along
 * its path (only those), and the commit. isomorphic-git's `commit` rewrites every tree
 * and grows with the repo, so we do not use it (see DESIGN.md, "Writing to git").
 *
 * Objects are named by the SHA-1 of `<type> <size>\0<content>`
 * (https://git-scm.com/book/en/v2/Git-Internals-Git-Objects). Trees along the path are
 * edited as raw bytes, so sibling entries (their names, modes and order) are copied
 * byte for byte, even names that are not UTF-8.
 *
 * Writes: a commit's objects are hashed in memory (ids known at once) and written to
 * disk later, in the background, as ONE pack + idx per flush (pack-set.ts): a loose
 * file per object cost ~260 µs of kernel time each, the largest single cost of a
 * deploy, and left five files per deploy in the repo forever. Until its pack is
 * visible an object is read from memory.
 *
 * Reads: memory, then our own reader of whole objects in packs, then isomorphic-git
 * for the rest (loose objects, deltas in packs from fetches or native git).
 *
 * `pack` builds the push's pack from the objects just written, still in memory, and
 * the deflated entries it makes are reused by the disk pack: isomorphic-git's
 * `packObjects` re-reads, re-inflates and re-hashes each object from disk and deflates
 * through web streams, 7–12 ms of a ~45 ms deploy.
 */
import { createHash } from 'node:crypto';
import { gitFs } from './git-fs.js';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import * as git from 'isomorphic-git';
import { KipError } from '../errors.js';
import { PackSet } from './pack-set.js';

/**
 * Author or committer. `timezoneOffset` follows isomorphic-git (and JavaScript's
 * `Date#getTimezoneOffset`): minutes WEST of UTC, so UTC+02:00 is -120.
 */
export interface Signature {
  name: string;
  email: string;
  /** Unix seconds. */
  timestamp: number;
  timezoneOffset: number;
}

/** One commit to write: `files` maps repo paths (`a/b.yaml`) to their full new content. */
export interface CommitInput {
  /** Parent commit id; `''` writes a root commit (an empty repo's first commit). */
  parent: string;
  files: Map<string, Uint8Array>;
  message: string;
  author: Signature;
  committer: Signature;
}

/** A parsed commit. */
export interface CommitInfo {
  tree: string;
  parents: string[];
  message: string;
  author: Signature;
  committer: Signature;
}

/** The all-zero id git uses for "no object" (a ref that does not exist yet). */
export const ZERO_OID = '0'.repeat(40);

/** The id of the empty tree, which git treats as always present. */
const EMPTY_TREE_OID = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';

const MODE_TREE = '40000';
const MODE_FILE = '100644';
const MODE_EXEC = '100755';

/** One raw tree entry: `name` stays bytes so unchanged siblings are rewritten exactly. */
interface TreeEntry {
  mode: string;
  name: Buffer;
  oid: string;
}

/** Changes below one directory, grouped so every tree on the way is written once. */
interface DirChanges {
  files: Map<string, Uint8Array>;
  dirs: Map<string, DirChanges>;
}

/** Parsed trees and commits are immutable (named by their hash): small LRUs save re-parsing. */
const CACHE_SIZE = 256;
/** Recently written objects kept in memory for `pack` (a push batch is a few dozen). */
const RECENT_OBJECTS_BYTES = 16 * 1024 * 1024;
/**
 * A background flush runs this long after the first unwritten object: long enough to
 * gather several deploys into one pack, short enough that little waits in memory.
 */
const FLUSH_DELAY_MS = 50;
/** ...or at once when this much content is waiting. */
const FLUSH_BYTES = 4 * 1024 * 1024;

type ObjectType = 'blob' | 'tree' | 'commit';

/** An object hashed in memory, not yet (or not only) on disk. */
interface StagedObject {
  oid: string;
  type: ObjectType;
  content: Uint8Array;
  /** Its pack entry (header + deflated content), made once for the push pack and the disk pack. */
  entry?: Buffer | undefined;
  /** The `writeCommit` that queued it for disk (see `flush`). */
  seq?: number;
}

/** Pack entry type numbers (https://git-scm.com/docs/gitformat-pack#_object_types). */
const PACK_TYPE: Record<string, number> = { commit: 1, tree: 2, blob: 3, tag: 4 };

/** Git objects of one bare repo: read files and commits, write commits, build packs. */
export class ObjectStore {
  readonly gitdir: string;
  /**
   * isomorphic-git's cache, shared with fetches into the same gitdir: without it, every
   * object it reads from a pack (deltas from fetches) re-reads the pack index and
   * re-hashes the whole pack (https://isomorphic-git.org/docs/en/cache). The pack set
   * drops the packs it deletes from it.
   */
  readonly gitCache: object = {};
  private readonly trees = new Map<string, TreeEntry[]>();
  /** Parsed commits, also immutable; the parent of the next write is usually the last one written. */
  private readonly commits = new Map<string, CommitInfo>();
  private readonly recent = new Map<string, StagedObject>();
  private recentBytes = 0;
  private readonly packs: PackSet;
  /** Objects waiting for the next pack, oldest first. */
  private pending = new Map<string, StagedObject>();
  private pendingBytes = 0;
  /** Batches being written as packs, still read from here until their pack is visible. */
  private readonly inFlight: Array<Map<string, StagedObject>> = [];
  /** Pack writes run one after another; this never rejects (errors go to `writeError`). */
  private writeChain: Promise<void> = Promise.resolve();
  private writeError: Error | null = null;
  private flushTimer: NodeJS.Timeout | undefined;
  /** Counts `writeCommit`s that queued objects, so `flush` knows which ones it waits for. */
  private seq = 0;

  /**
   * `fsync`: every pack is made durable before it becomes visible, so once `flush`
   * resolves a crash cannot lose what it wrote (the embedded repo, whose ref moves
   * right after). Without it (a cache of a remote repo) a crash may lose recent packs,
   * never corrupt one: they appear by rename.
   */
  constructor(gitdir: string, opts: { fsync?: boolean } = {}) {
    this.gitdir = gitdir;
    this.packs = new PackSet(gitdir, { fsync: opts.fsync ?? false, gitCache: this.gitCache });
  }

  /** Opens `gitdir`, creating an empty bare repo whose HEAD names `branch` if there is none. */
  static async init(gitdir: string, branch: string, opts: { fsync?: boolean } = {}): Promise<ObjectStore> {
    for (const dir of ['objects/info', 'objects/pack', 'refs/heads', 'refs/tags', 'info', 'hooks']) {
      await mkdir(join(gitdir, dir), { recursive: true });
    }
    // Written exclusively ('wx') so an existing repo's HEAD and config are never touched.
    // A minimal config native git accepts as is (isomorphic-git's own `init` adds
    // `ignorecase = true`, wrong for a bare repo on Linux).
    await writeIfMissing(join(gitdir, 'HEAD'), `ref: refs/heads/${branch}\n`);
    await writeIfMissing(
      join(gitdir, 'config'),
      '[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n',
    );
    return new ObjectStore(gitdir, opts);
  }

  /** Content of the file at `path` in a commit; null when there is no regular file there. */
  async readFile(commitOid: string, path: string): Promise<Uint8Array | null> {
    const oid = await this.fileOid(commitOid, path);
    // A copy: the bytes may be shared with the in-memory objects or isomorphic-git's cache.
    return oid === null ? null : new Uint8Array(await this.readRaw(oid, 'blob'));
  }

  /** The blob id of the file at `path` in a commit (no content read); null when absent. */
  async fileOid(commitOid: string, path: string): Promise<string | null> {
    const segments = splitPath(path);
    let treeOid = (await this.readCommit(commitOid)).tree;
    for (let i = 0; i < segments.length; i++) {
      const entry = findEntry(await this.readTree(treeOid), segments[i] as string);
      if (!entry) return null;
      if (i === segments.length - 1) return entry.mode === MODE_FILE || entry.mode === MODE_EXEC ? entry.oid : null;
      if (entry.mode !== MODE_TREE) return null;
      treeOid = entry.oid;
    }
    return null;
  }

  /** Parsed commit `oid`. */
  async readCommit(oid: string): Promise<CommitInfo> {
    const cached = this.commits.get(oid);
    if (cached) return copyCommit(cached);
    const info = parseCommit(await this.readRaw(oid, 'commit'), oid);
    lruSet(this.commits, oid, info);
    return copyCommit(info);
  }

  /**
   * Writes blobs + only the trees along changed paths + the commit; returns the commit
   * id and every object the parent does not already have (what the push must send).
   * Unchanged content still makes a commit (the caller decides). Creates missing
   * directories and files; an existing file keeps its mode (e.g. executable).
   */
  async writeCommit(input: CommitInput): Promise<{ oid: string; newObjects: string[] }> {
    const root: DirChanges = { files: new Map(), dirs: new Map() };
    for (const [path, content] of input.files) {
      const segments = splitPath(path);
      let dir = root;
      for (const segment of segments.slice(0, -1)) {
        let sub = dir.dirs.get(segment);
        if (!sub) {
          sub = { files: new Map(), dirs: new Map() };
          dir.dirs.set(segment, sub);
        }
        dir = sub;
      }
      dir.files.set(segments[segments.length - 1] as string, content);
    }

    const baseTree = input.parent === '' ? null : (await this.readCommit(input.parent)).tree;
    const staged: StagedObject[] = [];
    const newObjects = new Set<string>();
    const tree = await this.stageTreeWith(baseTree, root, '', staged, newObjects);

    const lines = [`tree ${tree}`];
    if (input.parent !== '') lines.push(`parent ${input.parent}`);
    lines.push(`author ${formatSignature(input.author)}`, `committer ${formatSignature(input.committer)}`);
    // git stores a message with exactly one trailing newline (what `git commit` writes).
    const message = input.message.replace(/\n+$/, '') + '\n';
    const commitBytes = Buffer.from(`${lines.join('\n')}\n\n${message}`, 'utf8');
    const commit = this.stage('commit', commitBytes, staged);
    newObjects.add(commit);
    // Every id is known before any disk write, and the objects stay readable from memory,
    // so the disk write runs in the background, overlapping the push that carries them.
    // Only new objects: the others are the parent's, already stored or queued.
    // `flush()` is the barrier for anything that reads the disk: native git on the
    // embedded repo before its ref moves, isomorphic-git before a fetch.
    this.queue(staged.filter((o) => newObjects.has(o.oid)));
    lruSet(this.commits, commit, parseCommit(commitBytes, commit));
    return { oid: commit, newObjects: [...newObjects] };
  }

  /**
   * Builds a packfile of exactly these oids, undeltified, for a push
   * (https://git-scm.com/docs/gitformat-pack). Objects from recent `writeCommit`s come
   * from memory; any other is read from the store.
   */
  async pack(oids: string[]): Promise<Uint8Array> {
    const unique = [...new Set(oids)];
    const parts: Buffer[] = [Buffer.from('PACK', 'latin1'), u32(2), u32(unique.length)];
    for (const oid of unique) {
      const staged = this.inMemory(oid);
      parts.push(staged ? this.entryOf(staged) : packEntry(await this.readObject(oid)));
    }
    const body = Buffer.concat(parts);
    const trailer = createHash('sha1').update(body).digest();
    return Buffer.concat([body, trailer]);
  }

  /** Path of the loose object file `oid` would have: objects are written to packs, but older data dirs and native git have loose ones. */
  /**
   * Paths of the blobs that differ between two trees (null: the empty tree), entering
   * only subtrees whose ids differ and that `wanted(dir)` asks for (`dir` ends in `/`):
   * the cost is the size of the change, not of the repo. Trees come from the LRU, so
   * diffing a commit we just wrote reads nothing from disk.
   */
  async changedPaths(before: string | null, after: string | null, wanted: (dir: string) => boolean, prefix = ''): Promise<string[]> {
    if (before === after) return [];
    const [a, b] = await Promise.all([
      before === null ? [] : this.readTree(before),
      after === null ? [] : this.readTree(after),
    ]);
    const old = new Map<string, TreeEntry>();
    for (const e of a) old.set(e.name.toString('utf8'), e);
    const out: string[] = [];
    const visit = async (name: string, x: TreeEntry | undefined, y: TreeEntry | undefined) => {
      if (x?.oid === y?.oid && x?.mode === y?.mode) return;
      const path = prefix + name;
      const xTree = x?.mode === MODE_TREE ? x.oid : null;
      const yTree = y?.mode === MODE_TREE ? y.oid : null;
      if ((xTree !== null || yTree !== null) && wanted(`${path}/`)) {
        out.push(...(await this.changedPaths(xTree, yTree, wanted, `${path}/`)));
      }
      if ((x && x.mode !== MODE_TREE) || (y && y.mode !== MODE_TREE)) out.push(path);
    };
    for (const y of b) {
      const name = y.name.toString('utf8');
      const x = old.get(name);
      old.delete(name);
      await visit(name, x, y);
    }
    for (const [name, x] of old) await visit(name, x, undefined);
    return out;
  }

  /** Rewrites `baseOid` (null: no tree yet) with `changes` applied; returns the new tree id. */
  private async stageTreeWith(
    baseOid: string | null,
    changes: DirChanges,
    prefix: string,
    staged: StagedObject[],
    newObjects: Set<string>,
  ): Promise<string> {
    // Copy: cached arrays are shared and must stay as they were.
    const entries = baseOid === null ? [] : [...(await this.readTree(baseOid))];

    for (const [name, content] of changes.files) {
      // A copy: the pack is built from it later, after the caller may reuse its buffer.
      const blob = this.stage('blob', Buffer.from(content), staged);
      const index = findIndex(entries, name);
      const existing = index >= 0 ? entries[index] : undefined;
      if (existing) {
        if (existing.mode !== MODE_FILE && existing.mode !== MODE_EXEC) {
          throw new KipError('INTERNAL', `cannot write ${prefix}${name}: it is not a regular file in the repo`, {
            path: `${prefix}${name}`,
            mode: existing.mode,
          });
        }
        if (existing.oid !== blob) newObjects.add(blob);
        entries[index] = { ...existing, oid: blob };
      } else {
        newObjects.add(blob);
        insertEntry(entries, { mode: MODE_FILE, name: Buffer.from(name, 'utf8'), oid: blob });
      }
    }

    for (const [name, sub] of changes.dirs) {
      const index = findIndex(entries, name);
      const existing = index >= 0 ? entries[index] : undefined;
      if (existing && existing.mode !== MODE_TREE) {
        throw new KipError('INTERNAL', `cannot write below ${prefix}${name}: it is a file, not a directory`, {
          path: `${prefix}${name}`,
        });
      }
      const oid = await this.stageTreeWith(existing?.oid ?? null, sub, `${prefix}${name}/`, staged, newObjects);
      if (existing) entries[index] = { ...existing, oid };
      else insertEntry(entries, { mode: MODE_TREE, name: Buffer.from(name, 'utf8'), oid });
    }

    const oid = this.stage('tree', serializeTree(entries), staged);
    this.remember(oid, entries);
    if (oid !== baseOid) newObjects.add(oid);
    return oid;
  }

  private async readTree(oid: string): Promise<TreeEntry[]> {
    const cached = this.trees.get(oid);
    if (cached) {
      // Refresh its place in the LRU order.
      this.trees.delete(oid);
      this.trees.set(oid, cached);
      return cached;
    }
    const entries = parseTree(await this.readRaw(oid, 'tree'), oid);
    this.remember(oid, entries);
    return entries;
  }

  private remember(oid: string, entries: TreeEntry[]): void {
    lruSet(this.trees, oid, entries);
  }

  /** Content of object `oid`, which must be of `type`. */
  private async readRaw(oid: string, type: ObjectType): Promise<Uint8Array> {
    if (oid === EMPTY_TREE_OID && type === 'tree') return new Uint8Array(0);
    const object = this.inMemory(oid) ?? (await this.readObject(oid));
    if (object.type !== type) throw new KipError('INTERNAL', `object ${oid} is a ${object.type}, expected a ${type}`, { oid });
    return object.content;
  }

  /** Written by us and not yet in a visible pack, or still in the recent cache. */
  private inMemory(oid: string): StagedObject | undefined {
    const found = this.recent.get(oid) ?? this.pending.get(oid);
    if (found) return found;
    for (const batch of this.inFlight) {
      const o = batch.get(oid);
      if (o) return o;
    }
    return undefined;
  }

  /** Any object from disk: our reader for whole objects in packs, isomorphic-git for the rest. */
  private async readObject(oid: string): Promise<{ type: string; content: Uint8Array }> {
    try {
      const packed = await this.packs.read(oid);
      if (packed) return packed;
      const read = () => git.readObject({ fs: gitFs, gitdir: this.gitdir, oid, format: 'content', cache: this.gitCache });
      const result = await this.packs.hold(async () => {
        try {
          return await read();
        } catch (err) {
          // isomorphic-git lists the packs, then opens them: another process merging
          // packs may delete one in between. Once more, on a fresh listing.
          if ((err as { code?: unknown }).code === 'NotFoundError') throw err;
          return read();
        }
      });
      if (!(result.object instanceof Uint8Array)) throw new Error(`unexpected ${result.format} object`);
      return { type: result.type, content: result.object };
    } catch (err) {
      throw missingObject(oid, 'object', err);
    }
  }

  /**
   * Resolves once every object written so far is on disk, in a pack every reader sees
   * (and durable, for an `fsync` store); rethrows a failed write. Objects of a failed
   * write are kept and written by the next flush.
   */
  async flush(): Promise<void> {
    const target = this.seq;
    for (;;) {
      this.startFlush();
      await this.writeChain;
      const err = this.writeError;
      if (err) {
        this.writeError = null;
        throw err;
      }
      if (this.oldestUnwritten() > target) return;
    }
  }

  /**
   * Runs `fn`, an isomorphic-git operation on this repo (a fetch), while no pack is
   * deleted under it: isomorphic-git lists the packs once and then opens them.
   */
  withStablePacks<T>(fn: () => Promise<T>): Promise<T> {
    return this.packs.hold(fn);
  }

  /** Resolves once no pack write, merge of small packs or deletion runs (tests, shutdown); rethrows a failed one. */
  async idle(): Promise<void> {
    await this.flush();
    await this.packs.idle();
  }

  /** Names (`pack-<hex>`) of the packs this store searches, for tests and diagnostics. */
  listPacks(): Promise<string[]> {
    return this.packs.list();
  }

  /** Queues objects of one `writeCommit` for the next pack. */
  private queue(objects: StagedObject[]): void {
    const seq = ++this.seq;
    for (const o of objects) {
      if (this.pending.has(o.oid) || this.inFlight.some((b) => b.has(o.oid))) continue;
      o.seq = seq;
      this.pending.set(o.oid, o);
      this.pendingBytes += o.content.byteLength;
    }
    if (this.pendingBytes >= FLUSH_BYTES) this.startFlush();
    else if (this.pending.size > 0 && this.flushTimer === undefined) {
      this.flushTimer = setTimeout(() => this.startFlush(), FLUSH_DELAY_MS);
      // Pending objects are only a cache's loss at exit: an embedded push flushes first.
      this.flushTimer.unref();
    }
  }

  /** Starts writing every pending object as one pack (after the writes already running). */
  private startFlush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    this.pendingBytes = 0;
    this.inFlight.push(batch);
    this.writeChain = this.writeChain.then(async () => {
      try {
        await this.packs.write([...batch.values()].map((o) => ({ oid: o.oid, entry: this.entryOf(o) })));
        // On disk now; drop the deflated copy the recent cache would otherwise keep.
        for (const o of batch.values()) o.entry = undefined;
      } catch (err) {
        this.writeError ??= err instanceof Error ? err : new Error(String(err));
        // Back in line, before anything newer, for the next flush to retry.
        this.pending = new Map([...batch, ...this.pending]);
        this.pendingBytes = 0;
        for (const o of this.pending.values()) this.pendingBytes += o.content.byteLength;
      } finally {
        this.inFlight.splice(this.inFlight.indexOf(batch), 1);
      }
    });
  }

  /**
   * The pack entry of a staged object, deflated once: kept while the object waits for
   * its disk pack, so the push pack (built first) and the disk pack share it.
   */
  private entryOf(o: StagedObject): Buffer {
    if (o.entry) return o.entry;
    const entry = packEntry(o);
    if (this.pending.get(o.oid) === o || this.inFlight.some((b) => b.get(o.oid) === o)) o.entry = entry;
    return entry;
  }

  /** The `seq` of the oldest object not yet in a visible pack (Infinity: none). */
  private oldestUnwritten(): number {
    let oldest = Infinity;
    // Maps keep insertion order, and every batch holds its oldest object first.
    for (const batch of [this.pending, ...this.inFlight]) {
      const first = batch.values().next().value;
      if (first !== undefined) oldest = Math.min(oldest, first.seq ?? 0);
    }
    return oldest;
  }

  /** Hashes an object in memory (id known at once) and keeps it for reads and `pack`. */
  private stage(type: ObjectType, content: Uint8Array, staged: StagedObject[]): string {
    const header = Buffer.from(`${type} ${content.byteLength}\0`, 'latin1');
    const oid = createHash('sha1').update(header).update(content).digest('hex');
    const known = this.recent.get(oid);
    if (known) {
      staged.push(known);
    } else {
      const object: StagedObject = { oid, type, content };
      staged.push(object);
      this.recent.set(oid, object);
      this.recentBytes += content.byteLength;
      for (const [old, o] of this.recent) {
        if (this.recentBytes <= RECENT_OBJECTS_BYTES) break;
        this.recent.delete(old);
        this.recentBytes -= o.content.byteLength;
      }
    }
    return oid;
  }
}

/** Splits and checks a repo path: relative, no empty, `.`, `..` or `.git` segments. */
function splitPath(path: string): string[] {
  const segments = path.split('/');
  const bad = segments.some(
    (s) => s === '' || s === '.' || s === '..' || s.toLowerCase() === '.git' || s.includes('\0'),
  );
  if (bad || segments.length === 0) {
    throw new KipError('INTERNAL', `invalid repo path ${JSON.stringify(path)}: use a relative path like apps/a/deployment.yaml`, {
      path,
    });
  }
  return segments;
}

/** Tree object format: repeated `<mode> <name>\0<20-byte id>`, sorted git's way. */
function parseTree(buf: Uint8Array, oid: string): TreeEntry[] {
  const data = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const entries: TreeEntry[] = [];
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    const nul = space < 0 ? -1 : data.indexOf(0, space + 1);
    if (space < 0 || nul < 0 || nul + 21 > data.length) {
      throw new KipError('INTERNAL', `tree ${oid} is corrupt`, { oid });
    }
    entries.push({
      mode: data.toString('latin1', pos, space),
      name: Buffer.from(data.subarray(space + 1, nul)),
      oid: data.toString('hex', nul + 1, nul + 21),
    });
    pos = nul + 21;
  }
  return entries;
}

function serializeTree(entries: TreeEntry[]): Buffer {
  let size = 0;
  for (const e of entries) size += e.mode.length + 1 + e.name.length + 1 + 20;
  const out = Buffer.allocUnsafe(size);
  let pos = 0;
  for (const e of entries) {
    pos += out.write(e.mode, pos, 'latin1');
    out[pos++] = 0x20;
    pos += e.name.copy(out, pos);
    out[pos++] = 0;
    pos += out.write(e.oid, pos, 'hex');
  }
  return out;
}

function findIndex(entries: TreeEntry[], name: string): number {
  const wanted = Buffer.from(name, 'utf8');
  return entries.findIndex((e) => e.name.equals(wanted));
}

/**
 * Git orders tree entries by name bytes, comparing a directory as if its name ended
 * in '/' (`base_name_compare` in git's tree.c); `git fsck` flags any other order.
 */
function sortKey(e: TreeEntry): Buffer {
  return e.mode === MODE_TREE ? Buffer.concat([e.name, Buffer.from('/')]) : e.name;
}

function insertEntry(entries: TreeEntry[], entry: TreeEntry): void {
  const key = sortKey(entry);
  const at = entries.findIndex((e) => Buffer.compare(sortKey(e), key) > 0);
  if (at < 0) entries.push(entry);
  else entries.splice(at, 0, entry);
}

function findEntry(entries: TreeEntry[], name: string): TreeEntry | undefined {
  const index = findIndex(entries, name);
  return index >= 0 ? entries[index] : undefined;
}

/** `Name <email> <seconds> <+hhmm>` as in a commit header. */
function formatSignature(sig: Signature): string {
  if (/[<>\n\0]/.test(sig.name) || /[<>\n\0]/.test(sig.email)) {
    throw new KipError('CONFIG_INVALID', 'commit author/committer name and email must not contain <, > or line breaks', {
      name: sig.name,
      email: sig.email,
    });
  }
  // minutes west of UTC (JavaScript's sign) -> git's "+hhmm east of UTC"
  const east = -sig.timezoneOffset;
  const sign = east < 0 ? '-' : '+';
  const abs = Math.abs(east);
  const hhmm = `${String(Math.floor(abs / 60)).padStart(2, '0')}${String(abs % 60).padStart(2, '0')}`;
  return `${sig.name} <${sig.email}> ${Math.floor(sig.timestamp)} ${sign}${hhmm}`;
}

/** Inserts as newest and drops the oldest beyond CACHE_SIZE (Map keeps insertion order). */
function lruSet<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > CACHE_SIZE) {
    const oldest = map.keys().next().value;
    if (oldest !== undefined) map.delete(oldest);
  }
}

/** Callers get their own copy: the cached one must not change under us. */
function copyCommit(c: CommitInfo): CommitInfo {
  return { ...c, parents: [...c.parents], author: { ...c.author }, committer: { ...c.committer } };
}

/** 4-byte big-endian unsigned integer. */
function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** Pack entry of a whole object: header, then the content deflated. */
function packEntry(o: { type: string; content: Uint8Array }): Buffer {
  const typeNumber = PACK_TYPE[o.type];
  if (typeNumber === undefined) throw new KipError('INTERNAL', `cannot pack an object of type ${o.type}`, { type: o.type });
  return Buffer.concat([packEntryHeader(typeNumber, o.content.byteLength), deflateSync(o.content, { level: 1 })]);
}

/**
 * Parses a commit exactly as isomorphic-git's `readCommit` does (its models/GitCommit.js
 * `parse`), which is what this store returned before it read packs itself: the history
 * index and the Kipper-* trailers depend on the very same message and signatures.
 */
function parseCommit(bytes: Uint8Array, oid: string): CommitInfo {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  const corrupt = (why: string) => new KipError('INTERNAL', `commit ${oid} is corrupt (${why})`, { oid });
  const split = text.indexOf('\n\n');
  const headers: string[] = [];
  for (const line of text.slice(0, split).split('\n')) {
    // A line starting with a space continues the previous header (gpgsig, mergetag).
    if (line.startsWith(' ') && headers.length > 0) headers[headers.length - 1] += `\n${line.slice(1)}`;
    else headers.push(line);
  }
  const keyOf = (h: string) => h.slice(0, h.indexOf(' '));
  const valueOf = (h: string) => h.slice(h.indexOf(' ') + 1);
  // Like git: one `tree` first, then the `parent` lines right after it; for any other
  // header the first occurrence wins.
  if (headers.length === 0 || keyOf(headers[0] as string) !== 'tree') throw corrupt('no tree header first');
  const tree = valueOf(headers[0] as string);
  const parents: string[] = [];
  let i = 1;
  for (; i < headers.length && keyOf(headers[i] as string) === 'parent'; i++) parents.push(valueOf(headers[i] as string));
  const rest = new Map<string, string>();
  for (; i < headers.length; i++) {
    const key = keyOf(headers[i] as string);
    if (key !== 'tree' && key !== 'parent' && !rest.has(key)) rest.set(key, valueOf(headers[i] as string));
  }
  const author = rest.get('author');
  const committer = rest.get('committer');
  if (author === undefined || committer === undefined) throw corrupt('no author or committer');
  const message = text
    .slice(split + 2)
    .replace(/\r/g, '')
    .replace(/^\n+/, '')
    .replace(/\n+$/, '');
  return { tree, parents, message: `${message}\n`, author: parseSignature(author, corrupt), committer: parseSignature(committer, corrupt) };
}

/** `Name <email> <seconds> <+hhmm>`; the offset becomes minutes west of UTC (0 stays as written, even -0). */
function parseSignature(value: string, corrupt: (why: string) => Error): Signature {
  const match = /^(.*) <(.*)> (.*) (.*)$/.exec(value);
  const zone = match ? /(\+|-)(\d\d)(\d\d)/.exec(match[4] as string) : null;
  if (!match || !zone) throw corrupt(`bad signature ${JSON.stringify(value)}`);
  const east = (zone[1] === '+' ? 1 : -1) * (Number(zone[2]) * 60 + Number(zone[3]));
  return {
    name: match[1] as string,
    email: match[2] as string,
    timestamp: Number(match[3]),
    timezoneOffset: east === 0 ? east : -east,
  };
}

/** Pack entry header: type in bits 6-4 of the first byte, size as a little-endian base-128 varint. */
function packEntryHeader(type: number, size: number): Buffer {
  const bytes: number[] = [];
  let byte = (type << 4) | (size & 0x0f);
  let rest = Math.floor(size / 16);
  while (rest > 0) {
    bytes.push(byte | 0x80);
    byte = rest & 0x7f;
    rest = Math.floor(rest / 128);
  }
  bytes.push(byte);
  return Buffer.from(bytes);
}

function missingObject(oid: string, type: string, cause: unknown): KipError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new KipError('INTERNAL', `cannot read ${type} ${oid} from the local git store: ${reason}`, { oid });
}

async function writeIfMissing(path: string, content: string): Promise<void> {
  let handle;
  try {
    handle = await open(path, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw err;
  }
  try {
    await handle.writeFile(content);
  } finally {
    await handle.close();
  }
}
