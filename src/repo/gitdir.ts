/**
 * The local gitdir and its one owner: the git binary reads and writes it (cat-file,
 * index-pack, update-ref, fetch, log, repack); this class only adds the objects of a
 * deploy, built in memory (git-objects.ts), and keeps small caches.
 *
 * Why git owns it (measured, README "How it writes to git"): isomorphic-git and our own
 * pack reader/merger used to share the directory with native git, which took 630 lines
 * of pack bookkeeping, a private cache symbol, and two history walkers. A long-lived
 * `git cat-file --batch` answers a read in ~120 µs, and a deploy's hot path reads from
 * memory anyway; `git index-pack` stores a batch's objects in ~4 ms, off the hot path.
 *
 * Writing one change costs the change, not the repo: the new blob, the trees along its
 * path (only those), and the commit, hashed in memory. They stay readable from memory
 * until `git index-pack` has stored them (in the background, `flush` is the barrier),
 * and the push sends them from memory (`pack`).
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { KipError } from '../errors.js';
import {
  commitInfoOf,
  EMPTY_TREE_OID,
  emptyTree,
  MODE_EXEC,
  MODE_FILE,
  MODE_TREE,
  findEntry,
  formatCommit,
  insertEntry,
  insertSignature,
  packEntry,
  packOf,
  parseCommit,
  parseTree,
  splitPath,
  treeOf,
  withIds,
  type CommitInfo,
  type ObjectType,
  type Signature,
  type Tree,
  type TreeEntry,
} from './git-objects.js';
import { BoundedCache } from './bounded-cache.js';
import { LOG_ARGS, LogRecords, type LoggedCommit } from './git-log.js';
import { CatFile, GitError, configEnv, runGit, streamGit } from './git-process.js';
import { NewObjects, syncDir } from './new-objects.js';

/** Signs a commit object's bytes (the commit without gpgsig) and resolves with the armored signature. */
export type CommitSign = (payload: Buffer) => Promise<string>;

/** One commit to write: `files` maps repo paths (`a/b.yaml`) to their full new content. */
export interface CommitInput {
  /** Parent commit id; `''` writes a root commit (an empty repo's first commit). */
  parent: string;
  files: Map<string, Uint8Array>;
  message: string;
  author: Signature;
  committer: Signature;
  /** Signs the commit object (KIPPER_SIGNING_KEY): its armored signature goes into a `gpgsig` header. */
  sign?: CommitSign | undefined;
  /**
   * Kept in memory with the commit and handed back by `log`: what its writer knew of it,
   * so a reader need not work it out from the files again (the history index learns a
   * deploy's value from the edit, issue #14).
   */
  memo?: unknown;
}

/** What a log of the commits after `from` is: whether `from` was on the way (false: history was rewritten, or `from` is null). */
export interface LogInfo {
  fromReached: boolean;
  /** The oldest commit's parent is missing here: a shallow clone, so the history is partial. */
  shallow: boolean;
  /** The commits are the whole first-parent history of `to` (`from` was null or is not here). */
  whole: boolean;
}

/** Parsed commits kept (our own are kept apart, with what `logEach` needs). */
const CACHE_SIZE = 1024;
/**
 * Tree entries kept parsed (~200 bytes each): every tree a deploy walks and writes, for
 * 10,000 apps in directories of 100 (issue #14), so that a deploy reads no tree through
 * git. Counted by entries, not trees: one directory of 10,000 apps is one tree.
 */
const TREE_CACHE_ENTRIES = 100_000;
/** The commits we wrote, with the paths each changed: `log` needs no git for them. */
const OWN_COMMITS = 4096;

export class Gitdir {
  private readonly cat: CatFile;
  private readonly trees = new BoundedCache<Tree>(TREE_CACHE_ENTRIES, (tree) => tree.entries.length + 1);
  private readonly treeReads = new Map<string, Promise<Tree>>();
  private readonly commits = new BoundedCache<CommitInfo>(CACHE_SIZE, () => 1);
  private readonly objects: NewObjects;
  private readonly own = new BoundedCache<{ info: CommitInfo; changed: string[]; memo: unknown }>(OWN_COMMITS, () => 1);
  private ready: Promise<void> | undefined;

  /**
   * The bare repo at `path`, created with HEAD on `branch` when there is none (on first
   * use). `fsync`: objects and refs are durable before a ref names them (the embedded
   * repo is the config repo itself); a cache of a remote needs no such care.
   */
  constructor(
    readonly path: string,
    private readonly opts: { branch: string; fsync: boolean },
  ) {
    this.cat = new CatFile(path);
    this.objects = new NewObjects(path, { env: () => this.durable(), durable: opts.fsync });
  }

  /** Creates the repo if needed and sets what the bridge relies on; memoised. */
  init(): Promise<void> {
    this.ready ??= (async () => {
      const exists = await readFile(join(this.path, 'HEAD')).then(
        () => true,
        () => false,
      );
      if (!exists) await runGit(['init', '--quiet', '--bare', `--initial-branch=${this.opts.branch}`, this.path]);
      // Ours to repack, between our own writes (git's auto gc would run inside a fetch);
      // fetched objects stay in their pack (a loose file each costs more to write and read);
      // no commit-graph, which a shallow repo cannot use anyway.
      const settings = [
        ['gc.auto', '0'],
        ['maintenance.auto', 'false'],
        ['fetch.unpackLimit', '1'],
        ['fetch.writeCommitGraph', 'false'],
      ];
      for (const [key, value] of settings) {
        await runGit(['--git-dir', this.path, 'config', key!, value!]);
      }
    })().catch((err: unknown) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  /** Content of the file at `path` in a commit; null when there is no regular file there. */
  async readFile(commit: string, path: string): Promise<Uint8Array | null> {
    if (this.commits.get(commit) === undefined && !this.objects.get(commit)) {
      // A commit we have not parsed (history): one cat-file request resolves the path. A
      // miss is looked at again tree by tree below, which tells an absent file (null)
      // from a missing object (an error, never "no file").
      await this.init();
      const found = await this.cat.read(`${commit}:${splitPath(path).join('/')}`);
      if (found?.type === 'blob') return new Uint8Array(found.content);
    }
    const oid = await this.fileOid(commit, path);
    // A copy: the bytes may be shared with the in-memory objects.
    return oid === null ? null : new Uint8Array(await this.read(oid, 'blob'));
  }

  /** The files of one commit, as an edit or a reader of kipper.yaml sees them (TreeView). */
  view(commit: string): {
    readFile(path: string): Promise<Uint8Array | null>;
    fileOid(path: string): Promise<string | null>;
  } {
    return { readFile: (path) => this.readFile(commit, path), fileOid: (path) => this.fileOid(commit, path) };
  }

  /** The blob id of the file at `path` in a commit (no content read); null when absent. */
  async fileOid(commit: string, path: string): Promise<string | null> {
    const segments = splitPath(path);
    let tree = (await this.commitInfo(commit)).tree;
    for (const [i, segment] of segments.entries()) {
      const parsed = await this.readTree(tree);
      const entry = parsed.entries[findEntry(parsed, segment)];
      if (!entry) return null;
      if (i === segments.length - 1) return entry.mode === MODE_FILE || entry.mode === MODE_EXEC ? entry.oid : null;
      if (entry.mode !== MODE_TREE) return null;
      tree = entry.oid;
    }
    return null;
  }

  /** Parsed commit `oid` (a copy: callers may not change the cached one). */
  async readCommit(oid: string): Promise<CommitInfo> {
    const info = await this.commitInfo(oid);
    return { ...info, parents: [...info.parents], author: { ...info.author }, committer: { ...info.committer } };
  }

  /** The cached parsed commit itself, for reads here that change nothing. */
  private async commitInfo(oid: string): Promise<CommitInfo> {
    let info = this.commits.get(oid);
    if (!info) {
      info = parseCommit(await this.read(oid, 'commit'), oid);
      this.commits.set(oid, info);
    }
    return info;
  }

  /**
   * Writes blobs, only the trees along changed paths, and the commit, in memory; returns
   * the commit id and the objects its parent does not have (what a push sends). Creates
   * missing directories and files; an existing file keeps its mode.
   */
  async writeCommit(input: CommitInput): Promise<{ oid: string; newObjects: string[] }> {
    const root: Dir = { files: new Map(), dirs: new Map() };
    for (const [path, content] of input.files) {
      const segments = splitPath(path);
      let dir = root;
      for (const segment of segments.slice(0, -1)) {
        if (!dir.dirs.has(segment)) dir.dirs.set(segment, { files: new Map(), dirs: new Map() });
        dir = dir.dirs.get(segment)!;
      }
      dir.files.set(segments.at(-1)!, content);
    }
    const base = input.parent === '' ? null : (await this.commitInfo(input.parent)).tree;
    const created = new Set<string>();
    const tree = await this.writeTree(base, root, '', created);
    const unsigned = formatCommit({ ...input, tree });
    const bytes = input.sign ? insertSignature(unsigned, await input.sign(unsigned)) : unsigned;
    const oid = this.objects.add('commit', bytes);
    created.add(oid);
    const info = commitInfoOf({ ...input, tree });
    this.commits.set(oid, info);
    this.own.set(oid, { info, changed: [...input.files.keys()], memo: input.memo });
    return { oid, newObjects: [...created] };
  }

  /** A packfile of exactly these objects (whole, undeltified), for a push. */
  async pack(oids: string[]): Promise<Buffer> {
    await this.init();
    const entries: Buffer[] = [];
    for (const oid of new Set(oids)) {
      const staged = this.objects.get(oid);
      if (staged) entries.push((staged.entry ??= packEntry(staged.type, staged.content)));
      else {
        const found = await this.cat.read(oid);
        if (!found) throw missing(oid);
        entries.push(packEntry(found.type as ObjectType, found.content));
      }
    }
    return packOf(entries);
  }

  /**
   * The first-parent commits of `to` after `from` (null: all), oldest first, with the
   * paths each changed, handed to `each` in batches. Commits this process wrote come from
   * memory; others from one `git log`, as git writes it: 100,000 commits are never all in
   * memory, and the first are indexed while git still diffs the later ones (issue #14).
   * `start` is told what the log is before the first batch, and returns false to stop.
   */
  async logEach(
    from: string | null,
    to: string,
    start: (info: LogInfo) => boolean,
    each: (commits: LoggedCommit[]) => Promise<void>,
  ): Promise<void> {
    if (from === to) {
      start({ fromReached: true, shallow: false, whole: false });
      return;
    }
    const mine: LoggedCommit[] = [];
    for (let oid: string | undefined = to; oid !== undefined && oid !== from;) {
      const written = this.own.get(oid);
      if (!written) break;
      const { info } = written;
      mine.push({
        oid,
        parents: info.parents,
        author: info.author,
        message: info.message,
        changed: written.changed,
        memo: written.memo,
      });
      oid = info.parents[0];
      if (oid === from) {
        if (start({ fromReached: true, shallow: false, whole: false })) await each(mine.reverse());
        return;
      }
    }
    await this.flush();
    const known = from !== null && (await this.has(from));
    const records = new LogRecords();
    let started = false;
    const open = async (first: LoggedCommit | undefined): Promise<boolean> => {
      started = true;
      const fromReached = known && first?.parents[0] === from;
      // git shows a shallow clone's oldest commit without parents, like a root commit.
      const shallow = !fromReached && first !== undefined && (await this.shallowCommits()).has(first.oid);
      return start({ fromReached, shallow, whole: !known });
    };
    let go = true;
    const handOver = async (commits: LoggedCommit[]): Promise<boolean> => {
      if (commits.length === 0) return true;
      if (!started) go = await open(commits[0]);
      if (go) await each(commits);
      return go;
    };
    await streamGit(['--git-dir', this.path, 'log', ...LOG_ARGS, to, ...(known ? [`^${from}`] : [])], (text) =>
      handOver(records.push(text)),
    );
    if (go) await handOver(records.end());
    if (!started) await open(undefined);
  }

  /** The id `ref` names, or null when there is no such ref. */
  async readRef(ref: string): Promise<string | null> {
    await this.init();
    try {
      return (await runGit(['--git-dir', this.path, 'rev-parse', '--quiet', '--verify', `${ref}^{commit}`]))
        .toString()
        .trim();
    } catch (err) {
      if (err instanceof GitError && err.exitCode === 1) return null;
      throw err;
    }
  }

  /**
   * Moves `ref` to `to` if it is at `from` (null: whatever it is), git's way (a lock file,
   * checked under the lock). Stores the objects first: a ref never names a missing
   * object. Resolves with null, or why the ref was not moved.
   */
  async updateRef(ref: string, to: string, from: string | null): Promise<string | null> {
    await this.flush();
    try {
      await runGit(['--git-dir', this.path, 'update-ref', ref, to, ...(from === null ? [] : [from])], {
        env: this.durable(),
      });
      if (this.opts.fsync) await syncDir(dirname(join(this.path, ref)));
      return null;
    } catch (err) {
      if (err instanceof GitError) return err.stderr.trim().split('\n').pop() ?? 'rejected';
      throw err;
    }
  }

  /** Runs `git fetch <args>` on this gitdir once every written object is stored (a fetch offers them as haves). */
  async fetch(
    args: string[],
    opts: { env: Record<string, string>; timeoutMs: number; signal?: AbortSignal },
  ): Promise<void> {
    await this.flush();
    await runGit(['--git-dir', this.path, 'fetch', '--quiet', '--no-tags', '--update-head-ok', ...args], opts);
  }

  /** Resolves once every object written so far is stored (and durable, with `fsync`); rethrows a failed store. */
  async flush(): Promise<void> {
    await this.init();
    await this.objects.flush();
  }

  /** Stops the reader once everything is stored. */
  async close(): Promise<void> {
    await this.flush().finally(() => this.cat.close());
  }

  /** Whether the gitdir is a shallow clone (its history is cut off somewhere). */
  async isShallow(): Promise<boolean> {
    return (await this.shallowCommits()).size > 0;
  }

  private async has(oid: string): Promise<boolean> {
    await this.init();
    return this.commits.get(oid) !== undefined || (await this.cat.read(oid)) !== null;
  }

  private async shallowCommits(): Promise<Set<string>> {
    const text = await readFile(join(this.path, 'shallow'), 'utf8').catch(() => '');
    return new Set(text.split('\n').filter(Boolean));
  }

  private durable(): Record<string, string> {
    return this.opts.fsync
      ? configEnv([
          ['core.fsync', 'objects,derived-metadata,reference'],
          ['core.fsyncMethod', 'fsync'],
        ])
      : {};
  }

  private async readTree(oid: string): Promise<Tree> {
    const tree = this.trees.get(oid);
    if (tree) return tree;
    // One read and parse for all who ask at once: the 10,000 files of a root commit,
    // read together, asked for the same 100 directory trees 10,000 times (issue #14).
    let reading = this.treeReads.get(oid);
    if (!reading) {
      reading = this.read(oid, 'tree')
        .then((bytes) => {
          const parsed = parseTree(bytes, oid);
          this.trees.set(oid, parsed);
          return parsed;
        })
        .finally(() => this.treeReads.delete(oid));
      this.treeReads.set(oid, reading);
    }
    return reading;
  }

  /** Content of object `oid`, which must be of `type`: from memory, else from git. */
  private async read(oid: string, type: ObjectType): Promise<Uint8Array> {
    if (oid === EMPTY_TREE_OID && type === 'tree') return new Uint8Array(0);
    const staged = this.objects.get(oid);
    if (!staged) await this.init();
    const found = staged ?? (await this.cat.read(oid));
    if (!found) throw missing(oid);
    if (found.type !== type)
      throw new KipError('INTERNAL', `object ${oid} is a ${found.type}, expected a ${type}`, { oid });
    return found.content;
  }

  /**
   * Rewrites tree `base` (null: none yet) with `changes`; returns the new tree's id. An
   * entry that only gets a new id is rewritten in a copy of the bytes (withIds); a new
   * entry writes the tree again. Cached trees are shared and stay as they were.
   */
  private async writeTree(base: string | null, changes: Dir, prefix: string, created: Set<string>): Promise<string> {
    const tree = base === null ? emptyTree() : await this.readTree(base);
    const existing = (name: string, isDir: boolean): number => {
      const i = findEntry(tree, name);
      const entry = tree.entries[i];
      if (entry && (entry.mode === MODE_TREE) !== isDir) {
        throw new KipError(
          'INTERNAL',
          `cannot write ${prefix}${name}: it is a ${isDir ? 'file' : 'directory'} in the repo`,
          { path: `${prefix}${name}` },
        );
      }
      return i;
    };
    const ids = new Map<number, string>();
    const added: TreeEntry[] = [];
    // An existing entry keeps its mode (an executable stays one).
    const put = (i: number, name: string, mode: string, oid: string) => {
      if (i < 0) added.push({ mode, name: Buffer.from(name, 'utf8').toString('latin1'), oid });
      else if (tree.entries[i]!.oid !== oid) ids.set(i, oid);
    };
    // Only what differs from the base is new, to the remote and to the gitdir (an
    // unchanged file sends and stores nothing).
    for (const [name, content] of changes.files) {
      const i = existing(name, false);
      const before = tree.entries[i]?.oid;
      // A copy of the content: the caller may reuse its buffer before the object is stored.
      const oid = this.objects.add('blob', Buffer.from(content), before);
      if (oid !== before) created.add(oid);
      put(i, name, MODE_FILE, oid);
    }
    for (const [name, sub] of changes.dirs) {
      const i = existing(name, true);
      put(i, name, MODE_TREE, await this.writeTree(tree.entries[i]?.oid ?? null, sub, `${prefix}${name}/`, created));
    }
    if (base !== null && ids.size === 0 && added.length === 0) return base;
    let next: Tree;
    if (added.length === 0) next = withIds(tree, ids);
    else {
      const entries = tree.entries.map((e, i) => (ids.has(i) ? { ...e, oid: ids.get(i)! } : e));
      for (const entry of added) insertEntry(entries, entry);
      next = treeOf(entries);
    }
    const oid = this.objects.add('tree', next.bytes, base);
    if (oid !== base) created.add(oid);
    this.trees.set(oid, next);
    return oid;
  }
}

/** Changes below one directory, grouped so every tree on the way is written once. */
interface Dir {
  files: Map<string, Uint8Array>;
  dirs: Map<string, Dir>;
}

function missing(oid: string): KipError {
  return new KipError('INTERNAL', `object ${oid} is not in the local git store`, { oid });
}
