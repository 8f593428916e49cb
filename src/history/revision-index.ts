import { KIPPER_FILE, type AppConfig, type KipperConfig } from '../config/kipper-file.js';
import { isKipError } from '../errors.js';
import type { LoggedCommit } from '../repo/git-log.js';
import { readingSize, type FileReading } from '../manifests/read-sites.js';
import { BoundedCache } from '../repo/bounded-cache.js';
import type { Gitdir, LogInfo } from '../repo/gitdir.js';
import {
  firstImage,
  learnedValue,
  narrowValue,
  readAppValue,
  repositoryOf,
  sameValue,
  type AppValue,
  type ImageRepositories,
} from './app-value.js';
import { parseTrailers, revertedCommit, type KipperTrailers } from './trailers.js';

/** One revision of an app: a first-parent commit that changed its deployed value. */
export interface Revision {
  revision: number;
  value: AppValue;
  /** The commit an image was built from (`Kipper-Source-Commit` of our commits). */
  sourceCommit: string | null;
  trigger: string;
  author: string;
  timestamp: string;
  configCommit: string;
  /** For a rollback: the config commit of the revision it went back to. */
  rollbackTo?: string;
  /** For a `git revert` by someone else: the commit it names (`This reverts commit <sha>.`). */
  reverts?: string;
  /** For a promotion: the namespace it came from. */
  promotedFrom?: string;
  /** The full image our commit deployed, where the files hold only part of it (a `:tag` marker). */
  deployed?: string;
  /** Why (`Kipper-Reason` of our commits). */
  reason?: string;
  /** Who did it (`Kipper-Actor` of our commits). */
  actor?: string;
  /** The `Idempotency-Key` of the webhook request that wrote it (`Kipper-Idempotency-Key`). */
  idempotencyKey?: string;
  /** Pull-request mode: the merged proposal that brought it (`Kipper-Pull-Request` of the bridge's branch commit). */
  pullRequest?: { number: number; url: string };
  /**
   * The value holds every image of the app's files, of several repositories: it was read
   * before any deploy told which one the app's are (`readsEveryImage`). The repositories
   * each image's targets match, for the bridge's first commit for the app to narrow the
   * value to that repository's (`settle`).
   */
  everyImage?: ImageRepositories;
}

interface AppState {
  revisions: Revision[];
  value: AppValue | null;
  /**
   * The repository the app's deploys target: that of the `Kipper-Image` of the bridge's
   * last commit for it. Undefined until one is written (a person's commit never tells:
   * its first image may be another repository's, issue #18).
   */
  repository: string | undefined;
}

/** The index as persisted in the data dir. */
export interface IndexSnapshot {
  head: string | null;
  complete: boolean;
  apps: Record<string, AppState>;
  /** The highest webhook generation kipper.yaml ever held, per app. */
  generations: Record<string, number>;
}

/**
 * Revisions of every app, read from the first-parent history of the branch. Numbers are
 * positions in that history (oldest = 1), so a revision keeps its number however many
 * commits follow. The index walks only commits it has not seen: `update(head)` after
 * every push or fetch costs what arrived, not the whole history. One walker, whatever
 * the commits' source (`Gitdir.log`: our own from memory, others' from `git log`).
 */
export class RevisionIndex {
  private apps = new Map<string, AppState>();
  private generations = new Map<string, number>();
  private indexed: string | null = null;
  /** The last reading of each file (most commits change one image of one file: read-sites.ts). */
  private readonly readings = new BoundedCache<FileReading>(READINGS_BYTES, readingSize);
  /** kipper.yaml as the last applied commit had it; null: unknown (every app is looked at when it changes). */
  private applied: KipperConfig | null = null;
  private updating: Promise<void> = Promise.resolve();
  /** False when the walk started at the edge of a shallow clone: numbers are partial. */
  complete = false;
  /** True while a walk is applying commits: a snapshot taken then would be torn. */
  busy = false;
  /** `onChange` is told after the index moved (to persist it). */
  constructor(
    private readonly gitdir: Gitdir,
    /** kipper.yaml at a commit (throws when missing or invalid); callers cache it by blob. */
    private readonly configAt: (commit: string) => Promise<KipperConfig>,
    private readonly events: { onChange?: () => void } = {},
  ) {}

  /** Everything the index knows, to persist it (see `restore`): a copy, which later updates leave as it is. */
  snapshot(): IndexSnapshot {
    const apps: Record<string, AppState> = {};
    for (const [id, s] of this.apps)
      apps[id] = { revisions: s.revisions.slice(), value: s.value, repository: s.repository };
    return { head: this.indexed, complete: this.complete, apps, generations: Object.fromEntries(this.generations) };
  }

  /** Start from a persisted snapshot: the next `update` reads only commits after its head. */
  restore(snapshot: IndexSnapshot): void {
    this.apps = new Map(Object.entries(snapshot.apps));
    // JSON.parse makes a string per revision of what most of them share.
    for (const state of this.apps.values()) {
      for (const r of state.revisions) {
        r.author = shared(r.author);
        r.trigger = shared(r.trigger);
      }
    }
    this.generations = new Map(Object.entries(snapshot.generations));
    this.indexed = snapshot.head;
    this.complete = snapshot.complete;
  }

  /**
   * The highest webhook generation `appId` ever had in kipper.yaml history. `disable`
   * removes the entry, so a later `enable` must go above this, never back to a number
   * whose token was already handed out. Never lowered, not even by rewritten history.
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
    return this.serially(() => this.walk(head));
  }

  /** Forget the revisions and index from `head` back to the root (after unshallowing). */
  rebuild(head: string): Promise<void> {
    return this.serially(() => {
      this.indexed = null;
      return this.walk(head);
    });
  }

  private serially(fn: () => Promise<void>): Promise<void> {
    const run = async () => {
      this.busy = true;
      try {
        await fn();
      } finally {
        this.busy = false;
      }
    };
    this.updating = this.updating.then(run, run);
    return this.updating;
  }

  private async walk(head: string): Promise<void> {
    if (head === this.indexed) return;
    let again = false;
    // From the start (first walk, rebuild), or history was rewritten under us: all of it.
    const start = (info: LogInfo, restarted: boolean) => {
      if (info.fromReached) return true;
      if (!info.whole && !restarted) {
        again = true;
        return false;
      }
      this.apps.clear();
      this.applied = null;
      this.complete = !info.shallow;
      return true;
    };
    let config: KipperConfig | null | undefined;
    const each = async (commits: LoggedCommit[]) => {
      const reads = new ReadAhead(this.gitdir);
      for (const [i, commit] of commits.entries()) {
        if (config === undefined || configChanges(commit)) config = await this.configOrNull(commit.oid);
        // A commit with a missing or broken kipper.yaml deploys nothing; files may change
        // unseen meanwhile, so the next valid one looks at every app.
        if (config) {
          this.readAhead(commits, i, config, reads);
          await this.apply(commit, config, reads);
        } else this.applied = null;
        reads.forget(commit.oid);
        // Per commit: a walk that fails half-way resumes after what it applied, never twice.
        this.indexed = commit.oid;
      }
    };
    await this.gitdir.logEach(this.indexed, head, (info) => start(info, false), each);
    if (again) await this.gitdir.logEach(null, head, (info) => start(info, true), each);
    this.indexed = head;
    this.events.onChange?.();
  }

  /**
   * Asks git for the files the next commits will be read at, so that git reads them while
   * the ones before are parsed (`cat-file` answers in order): a first history of 100,000
   * commits waited on git one file at a time (issue #14). Up to the next change of
   * kipper.yaml, which may change what is read.
   */
  private readAhead(commits: readonly LoggedCommit[], at: number, config: KipperConfig, reads: ReadAhead): void {
    for (let i = Math.max(at + 1, reads.until); i < commits.length && reads.size < READ_AHEAD; i++) {
      const commit = commits[i]!;
      if (configChanges(commit)) return;
      for (const app of this.appsToVisit(commit, config, config))
        if (learnedValue(commit.memo, app.id) === undefined)
          for (const path of app.files) reads.prefetch(commit.oid, path);
      reads.until = i + 1;
    }
  }

  /** The apps whose value `commit` may change (see `apply`), with kipper.yaml `before` it as applied. */
  private appsToVisit(commit: LoggedCommit, config: KipperConfig, before: KipperConfig | null): Iterable<AppConfig> {
    const changed = commit.changed;
    const configChanged = configChanges(commit);
    if (changed === null || (configChanged && before === null)) return config.apps.values();
    const apps = new Set<AppConfig>();
    const byPath = appsByPath(config);
    for (const path of changed) for (const app of byPath.get(path) ?? []) apps.add(app);
    if (configChanged && before !== config)
      for (const app of config.apps.values()) if (!sameEntry(app, before!.apps.get(app.id))) apps.add(app);
    return apps;
  }

  /** kipper.yaml at a commit, or null where it is missing or invalid; any other failure (a missing object) is an error. */
  private async configOrNull(commit: string): Promise<KipperConfig | null> {
    try {
      return await this.configAt(commit);
    } catch (err) {
      if (isKipError(err, 'CONFIG_INVALID')) return null;
      throw err;
    }
  }

  /**
   * Record the apps whose value `commit` changed. Only apps whose files changed can have
   * a new value (`changed` null: look at every app, at a root commit or a shallow edge);
   * when kipper.yaml itself changed, also the apps it added or changed (every app when
   * the one before is not known). An app's value depends only on its entry, its files and
   * its repository, which moves only with commits that change its files: looking at the
   * others again would read what they already hold (and cost 10,000 parses on a webhook
   * enable in a repo of 10,000 apps, issue #14).
   */
  private async apply(commit: LoggedCommit, config: KipperConfig, reads: ReadAhead): Promise<void> {
    if (configChanges(commit)) {
      for (const [id, generation] of config.webhooks)
        this.generations.set(id, Math.max(generation, this.generations.get(id) ?? 0));
    }
    const visit = this.appsToVisit(commit, config, this.applied);
    this.applied = config;
    const trailers = await this.trailersOf(commit);
    const revert = revertedCommit(commit.message);
    const readFile = (path: string) => reads.start(commit.oid, path);
    if (trailers.app !== undefined && trailers.image && config.apps.has(trailers.app)) {
      const state = this.stateOf(trailers.app);
      const repository = repositoryOf(trailers.image);
      if (state.repository === undefined) settle(state, repository);
      state.repository = repository;
    }
    // The files of the next apps are asked for while this one is parsed (a root commit has
    // 10,000 apps: a window of them, not all at once).
    const apps = [...visit];
    let asked = 0;
    for (const [k, app] of apps.entries()) {
      for (; asked < apps.length && asked < k + READ_AHEAD; asked++) {
        const next = apps[asked]!;
        if (learnedValue(commit.memo, next.id) === undefined)
          for (const path of next.files) reads.prefetch(commit.oid, path);
      }
      const state = this.stateOf(app.id);
      const ours = trailers.app === app.id;
      // Read from the files, also for our own commits (a `:tag` marker holds only the tag,
      // and one value must have one form whoever wrote the commit): by the edit that wrote
      // them, when it told what a reading gives, else by reading them.
      const learned = learnedValue(commit.memo, app.id);
      const reading =
        learned !== undefined
          ? { value: learned }
          : readAppValue(app, await Promise.all(app.files.map(readFile)), state.repository, this.readings);
      const read = reading.value;
      if (sameValue(read, state.value)) continue;
      const value = read && ('images' in read ? { images: read.images.map(own) } : { commit: own(read.commit) });
      state.value = value;
      if (value === null) continue;
      const image = firstImage(value);
      state.revisions.push({
        revision: state.revisions.length + 1,
        value,
        sourceCommit: ours && image !== null && trailers.sourceCommit ? own(trailers.sourceCommit) : null,
        trigger: ours && trailers.trigger ? shared(trailers.trigger) : revert ? 'revert' : 'git',
        author: shared(`${commit.author.name} <${commit.author.email}>`),
        timestamp: new Date(commit.author.timestamp * 1000).toISOString(),
        configCommit: own(commit.oid),
        ...(ours && trailers.rollbackTo ? { rollbackTo: own(trailers.rollbackTo) } : {}),
        ...(!ours && revert ? { reverts: own(revert) } : {}),
        ...(ours && trailers.promotedFrom ? { promotedFrom: own(trailers.promotedFrom) } : {}),
        ...(ours && trailers.image && trailers.image !== image ? { deployed: own(trailers.image) } : {}),
        ...(ours && trailers.reason ? { reason: own(trailers.reason) } : {}),
        ...(ours && trailers.actor ? { actor: shared(trailers.actor) } : {}),
        ...(ours && trailers.idempotencyKey ? { idempotencyKey: own(trailers.idempotencyKey) } : {}),
        ...(ours && trailers.pullRequest ? pullRequestOf(trailers.pullRequest) : {}),
        ...(reading.repositories ? { everyImage: ownRepositories(reading.repositories) } : {}),
      });
    }
  }

  /**
   * The Kipper trailers of a commit. A merge commit of pull-request mode (a person or the
   * host merged `kipper/<ns>/<app>`) has its host's message: the trailers are those of the
   * bridge's branch commit, its second parent. Squash and rebase merges keep them in the
   * message itself (the proposal's body carries them).
   */
  private async trailersOf(commit: LoggedCommit): Promise<KipperTrailers> {
    const trailers = parseTrailers(commit.message);
    const branchCommit = commit.parents[1];
    if (trailers.app !== undefined || branchCommit === undefined) return trailers;
    try {
      const merged = parseTrailers((await this.gitdir.readCommit(branchCommit)).message);
      // Only the bridge's own branch commits: a merge of any other branch is a person's change.
      return merged.app !== undefined && merged.trigger !== undefined && merged.actor !== undefined ? merged : trailers;
    } catch {
      // Not in this (shallow) store: a merge like any other.
      return trailers;
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

/** `{number, url}` of a `Kipper-Pull-Request` URL (`…/pull/12`, `…/-/merge_requests/12`). */
function pullRequestOf(url: string): { pullRequest?: { number: number; url: string } } {
  const number = /\/(\d+)\/?$/.exec(url)?.[1];
  return number ? { pullRequest: { number: Number(number), url: own(url) } } : {};
}

const pathIndexes = new WeakMap<KipperConfig, Map<string, AppConfig[]>>();

/** The apps that list each file, per parsed kipper.yaml (built once: configs are cached by blob). */
function appsByPath(config: KipperConfig): Map<string, AppConfig[]> {
  let index = pathIndexes.get(config);
  if (!index) {
    index = new Map();
    for (const app of config.apps.values()) {
      for (const path of app.files) {
        const apps = index.get(path);
        if (apps) apps.push(app);
        else index.set(path, [app]);
      }
    }
    pathIndexes.set(config, index);
  }
  return index;
}

/** Whether an app's entry in kipper.yaml reads the same (what its value depends on). */
function sameEntry(a: AppConfig, b: AppConfig | undefined): boolean {
  return (
    b !== undefined &&
    a.source === b.source &&
    a.container === b.container &&
    a.workload === b.workload &&
    a.files.length === b.files.length &&
    a.files.every((f, i) => f === b.files[i])
  );
}

/**
 * A copy of `s` that keeps no larger string alive. A slice of a file's text or of git's
 * output would, for as long as history holds the revision: 100,000 revisions held most
 * of a 35 MB log and a file's text each (issue #14).
 */
function own(s: string): string {
  return Buffer.from(s, 'utf8').toString('utf8');
}

const sharedStrings = new Map<string, string>();

/** One copy (see `own`) of a string that many revisions hold (an author, a trigger); a few thousand at most are kept. */
function shared(s: string): string {
  let kept = sharedStrings.get(s);
  if (kept === undefined) {
    if (sharedStrings.size >= 4096) sharedStrings.clear();
    kept = own(s);
    sharedStrings.set(kept, kept);
  }
  return kept;
}

/**
 * The bridge's first commit for an app tells the repository its deploys target: the
 * revisions read before with every image of its files (`everyImage`) now hold only what a
 * deploy of that repository targets (a Deployment whose init container runs
 * `tools/migrate` and whose container runs `api`: `api`, issue #18), told by what their
 * reading kept, without reading them again. Numbers stay; neighbours may now read the
 * same. A revision with no target of that repository keeps what it held.
 */
function settle(state: AppState, repository: string): void {
  const last = state.revisions.at(-1);
  const currentWasLast = last !== undefined && sameValue(state.value, last.value);
  for (const [i, r] of state.revisions.entries()) {
    if (!r.everyImage) continue;
    const { everyImage, ...settled } = r;
    const value = narrowValue(r.value, everyImage, repository);
    if (value) settled.value = value;
    // A replacement, not an edit: a snapshot taken before holds the old object.
    state.revisions[i] = settled;
  }
  if (currentWasLast) state.value = state.revisions.at(-1)!.value;
}

/** `repositories` holding no larger string (see `own`). */
function ownRepositories(repositories: ImageRepositories): ImageRepositories {
  return Object.fromEntries(Object.entries(repositories).map(([image, of]) => [own(image), of.map(shared)]));
}

/** Readings of files kept between commits, by their approximate size in memory. */
const READINGS_BYTES = 32 * 1024 * 1024;

/** Files read ahead of the walk at most (a few KB each, waiting in memory). */
const READ_AHEAD = 64;

/** Whether kipper.yaml may differ at `commit` from its parent (a root or shallow-edge commit has no parent here). */
function configChanges(commit: LoggedCommit): boolean {
  return commit.changed === null || commit.changed.includes(KIPPER_FILE);
}

/** Files asked of git ahead of the walk, by commit and path, until the walk has passed them. */
class ReadAhead {
  private readonly pending = new Map<string, Map<string, Promise<string | null>>>();
  /** Commits of the log up to here have their reads started. */
  until = 0;
  /** Files asked for and not forgotten. */
  size = 0;

  constructor(private readonly gitdir: Gitdir) {}

  /** The text of `path` at `commit` (null: no file there), asked for once. */
  start(commit: string, path: string): Promise<string | null> {
    let files = this.pending.get(commit);
    if (!files) this.pending.set(commit, (files = new Map()));
    let text = files.get(path);
    if (!text) {
      text = this.gitdir.readFile(commit, path).then((bytes) => (bytes ? Buffer.from(bytes).toString('utf8') : null));
      // Read ahead and never used (a walk that failed half-way): not an unhandled rejection.
      text.catch(() => undefined);
      files.set(path, text);
      this.size++;
    }
    return text;
  }

  /** Asks for `path` at `commit` now, for a `start` later: a failure is that `start`'s to report. */
  prefetch(commit: string, path: string): void {
    this.start(commit, path).catch(() => undefined);
  }

  forget(commit: string): void {
    this.size -= this.pending.get(commit)?.size ?? 0;
    this.pending.delete(commit);
  }
}
