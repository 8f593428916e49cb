import type { KipperConfig } from '../config/kipper-file.js';
import type { ObjectStore } from '../repo/object-store.js';
import { KIPPER_FILE } from '../config/kipper-file.js';
import { CatFile, firstParentLog } from '../repo/native-git.js';
import { appValue, repositoryOf } from './app-value.js';
import { parseTrailers, revertedCommit } from './trailers.js';

/** One revision of an app: a first-parent commit that changed its deployed value. */
export interface Revision {
  revision: number;
  image: string | null;
  commit: string | null;
  trigger: string;
  author: string;
  timestamp: string;
  configCommit: string;
  /** For a rollback: the config commit of the revision it went back to. */
  rollbackTo?: string;
  /** For a `git revert` by someone else: the commit it names (`This reverts commit <sha>.`). */
  reverts?: string;
  /** The full image our commit deployed, where the files hold only part of it (a `:tag` marker). */
  deployed?: string;
}

interface AppState {
  revisions: Revision[];
  value: string | null;
  repository: string | undefined;
}

/** The index as persisted in the data dir. */
export interface IndexSnapshot {
  head: string | null;
  apps: Record<string, AppState>;
  /** The highest webhook generation kipper.yaml ever held, per app. */
  generations: Record<string, number>;
}

/**
 * Revisions of every app, read from the first-parent history of the branch. Numbers are
 * positions in that history (oldest = 1), so a revision keeps its number however many
 * commits follow. The index walks only commits it has not seen: `update(head)` after
 * every push or fetch costs what arrived, not the whole history.
 */
export class RevisionIndex {
  private apps = new Map<string, AppState>();
  private generations = new Map<string, number>();
  private indexed: string | null = null;
  private updating: Promise<void> = Promise.resolve();
  /** False when the last walk stopped at the edge of a shallow clone: numbers are partial. */
  complete = true;
  /** True while a walk is applying commits: a snapshot taken then would be torn. */
  busy = false;
  /** Called after the index moved (to persist it). */
  onChange: (() => void) | undefined;

  constructor(
    private readonly store: ObjectStore,
    private readonly configAt: (commit: string) => Promise<KipperConfig>,
  ) {}

  /** Everything the index knows, to persist it (see `restore`). */
  snapshot(): IndexSnapshot {
    return { head: this.indexed, apps: Object.fromEntries(this.apps), generations: Object.fromEntries(this.generations) };
  }

  /** Start from a persisted snapshot: the next `update` reads only commits after its head. */
  restore(snapshot: IndexSnapshot): void {
    this.apps = new Map(Object.entries(snapshot.apps));
    this.generations = new Map(Object.entries(snapshot.generations ?? {}));
    this.indexed = snapshot.head;
  }

  /**
   * The highest webhook generation `appId` ever had in kipper.yaml history. `disable`
   * removes the entry, so a later `enable` must go above this, never back to a number
   * whose token was already handed out.
   */
  maxGeneration(appId: string): number {
    return this.generations.get(appId) ?? 0;
  }

  /** Revisions held, over all apps. */
  size(): number {
    let n = 0;
    for (const s of this.apps.values()) n += s.revisions.length;
    return n;
  }

  /** Revisions of `appId`, oldest first. */
  revisions(appId: string): Revision[] {
    return this.apps.get(appId)?.revisions ?? [];
  }

  /** Bring the index up to `head`; calls are serialised. */
  update(head: string): Promise<void> {
    this.updating = this.updating.then(() => this.guarded(() => this.walk(head)), () => this.guarded(() => this.walk(head)));
    return this.updating;
  }

  private async guarded(fn: () => Promise<void>): Promise<void> {
    this.busy = true;
    try {
      await fn();
    } finally {
      this.busy = false;
    }
  }

  /** Forget everything and index from `head` back to the root (after unshallowing). */
  rebuild(head: string): Promise<void> {
    this.updating = this.updating.then(
      () => {
        this.indexed = null;
        this.apps.clear();
        this.generations.clear();
      },
      () => undefined,
    ).then(() => this.guarded(() => this.walk(head)));
    return this.updating;
  }

  private async walk(head: string): Promise<void> {
    if (head === this.indexed) return;
    // Collect the first-parent chain back to what is already indexed (or the root, or
    // the edge of a shallow clone), then replay it oldest first.
    const chain: string[] = [];
    let oid: string | undefined = head;
    let shallowEdge = false;
    while (oid && oid !== this.indexed) {
      let commit;
      try {
        commit = await this.store.readCommit(oid);
      } catch {
        shallowEdge = true; // the parent object is not here
        break;
      }
      chain.push(oid);
      oid = commit.parents[0];
    }
    if (oid !== this.indexed) {
      // History was rewritten under us, or we have not seen it all: start afresh.
      this.apps.clear();
    }
    this.complete = !shallowEdge;
    for (const c of chain.reverse()) await this.apply(c);
    this.indexed = head;
    this.onChange?.();
  }

  private async apply(oid: string): Promise<void> {
    const commit = await this.store.readCommit(oid);
    let config: KipperConfig;
    try {
      config = await this.configAt(oid);
    } catch {
      return; // a commit with a broken kipper.yaml deploys nothing
    }
    const parentTree = await this.treeOf(commit.parents[0]);
    const dirs = watchedDirs(config);
    const changed = parentTree === null ? null : new Set(await this.store.changedPaths(parentTree, commit.tree, (d) => dirs.has(d)));
    await this.applyCommit({ oid, message: commit.message, author: commit.author }, config, changed, async (path) => {
      const bytes = await this.store.readFile(oid, path);
      return bytes ? Buffer.from(bytes).toString('utf8') : null;
    });
  }

  /**
   * Index the whole first-parent history of `head` with the native git CLI: one
   * `git log` for the commits and the paths each changed, one `git cat-file --batch` for
   * the files of the apps they touched. Same rules as `apply`, a hundred times faster on
   * a long history than reading object by object. The store must hold the full history.
   */
  rebuildNative(gitdir: string, head: string, parse: (text: string) => KipperConfig): Promise<void> {
    this.updating = this.updating.then(
      () => this.guarded(() => this.walkNative(gitdir, head, parse)),
      () => this.guarded(() => this.walkNative(gitdir, head, parse)),
    );
    return this.updating;
  }

  private async walkNative(gitdir: string, head: string, parse: (text: string) => KipperConfig): Promise<void> {
    const commits = await firstParentLog(gitdir, head);
    const cat = new CatFile(gitdir);
    try {
      this.apps.clear();
      this.generations.clear();
      let config: KipperConfig | null = null;
      for (const [i, c] of commits.entries()) {
        const read = async (path: string) => (await cat.read(c.oid, path))?.toString('utf8') ?? null;
        const changed = i === 0 ? null : new Set(c.changed);
        if (config === null || changed === null || changed.has(KIPPER_FILE)) {
          const text = await read(KIPPER_FILE);
          try {
            config = text === null ? null : parse(text);
          } catch {
            config = null;
          }
        }
        if (config) await this.applyCommit(c, config, changed, read);
      }
      this.complete = true;
      this.indexed = head;
      this.onChange?.();
    } finally {
      cat.close();
    }
  }

  /**
   * Record the apps whose value `commit` changed. `changed` is the set of paths it
   * changed against its first parent, or null for "look at everything" (a root commit,
   * the edge of a shallow clone). Only apps whose files changed can have a new value;
   * when kipper.yaml itself changed (apps added, files re-pointed) every app is looked at.
   */
  private async applyCommit(
    commit: { oid: string; message: string; author: { name: string; email: string; timestamp: number } },
    config: KipperConfig,
    changed: Set<string> | null,
    read: (path: string) => Promise<string | null>,
  ): Promise<void> {
    const all = changed === null || changed.has(KIPPER_FILE);
    if (all) {
      for (const [id, generation] of config.webhooks) this.generations.set(id, Math.max(generation, this.generations.get(id) ?? 0));
    }
    const trailers = parseTrailers(commit.message);
    for (const app of config.apps.values()) {
      const state = this.stateOf(app.id);
      if (trailers.app === app.id && trailers.image) state.repository = repositoryOf(trailers.image);
      if (!all && !app.files.some((f) => changed.has(f))) continue;
      // Always read from the files, also for our own commits: a `:tag` marker holds only
      // the tag, and one value must have one form whoever wrote the commit.
      const value = appValue(app, await Promise.all(app.files.map(read)), state.repository);
      if (value === state.value) continue;
      state.value = value;
      if (value === null) continue;
      if (app.source === 'image' && !app.container && state.repository === undefined) state.repository = repositoryOf(value.split(', ')[0]!);
      const ours = trailers.app === app.id;
      const revert = revertedCommit(commit.message);
      const git = app.source === 'git';
      state.revisions.push({
        revision: state.revisions.length + 1,
        // A git-source app's value is the commit its markers hold.
        image: git ? null : value,
        commit: git ? value : ours ? (trailers.sourceCommit ?? null) : null,
        trigger: ours && trailers.trigger ? trailers.trigger : revert ? 'revert' : 'git',
        author: `${commit.author.name} <${commit.author.email}>`,
        timestamp: new Date(commit.author.timestamp * 1000).toISOString(),
        configCommit: commit.oid,
        ...(ours && trailers.rollbackTo ? { rollbackTo: trailers.rollbackTo } : {}),
        ...(!ours && revert ? { reverts: revert } : {}),
        ...(ours && trailers.image && trailers.image !== value ? { deployed: trailers.image } : {}),
      });
    }
  }

  /** The tree of a commit, or null for none (a root commit's parent, a shallow edge). */
  private async treeOf(oid: string | undefined): Promise<string | null> {
    if (!oid) return null;
    try {
      return (await this.store.readCommit(oid)).tree;
    } catch {
      return null;
    }
  }

  private stateOf(id: string): AppState {
    let s = this.apps.get(id);
    if (!s) {
      s = { revisions: [], value: null, repository: undefined };
      this.apps.set(id, s);
    }
    return s;
  }

}

const dirsByConfig = new WeakMap<KipperConfig, Set<string>>();

/** The directories (`a/`, `a/b/`) a tree walk must enter to reach any app file. */
function watchedDirs(config: KipperConfig): Set<string> {
  let dirs = dirsByConfig.get(config);
  if (!dirs) {
    dirs = new Set();
    for (const app of config.apps.values()) {
      for (const f of app.files) {
        for (let i = f.indexOf('/'); i !== -1; i = f.indexOf('/', i + 1)) dirs.add(f.slice(0, i + 1));
      }
    }
    dirsByConfig.set(config, dirs);
  }
  return dirs;
}
