import { loadIndex, saveIndex } from '../history/index-file.js';
import { RevisionIndex, type Revision } from '../history/revision-index.js';
import type { Logger } from '../log.js';
import type { Remote } from '../repo/remote.js';
import type { WriteQueue } from './write-queue.js';
import type { RepoConfig } from './repo-config.js';

/**
 * The longest a deploy's answer waits for a history that is still loading (a fresh data
 * dir): the whole history of a big repo takes longer to fetch and index than a CI job
 * should wait for its answer, which then says `"revision": null` (issue #14). A small
 * repo's loads in a fraction of this.
 */
const LOADING_WAIT_MS = 2_000;
/**
 * Persisting the index costs time in proportion to its size (~0.5 s for 100,000
 * revisions): after a save that took T, the next waits SAVE_SPACING × T (at least 1 s), so
 * that saving takes a few percent of the time at most. A restart reads what a lost save
 * missed from git again.
 */
const SAVE_SPACING = 40;

/**
 * Deploy history: the revision index, kept up to date with the branch head, persisted in
 * the data dir (at most once a second, and on close), and brought to the whole history
 * in the background after a start from a shallow clone.
 */
export class HistoryService {
  readonly index: RevisionIndex;
  /** The background load of the whole history, while it runs; null once it is done. */
  private loading: Promise<void> | null = null;
  private saveTimer: NodeJS.Timeout | undefined;
  /** When the next save may start (epoch ms). */
  private nextSave = 0;
  private saving: Promise<void> | null = null;
  private readonly listeners = new Set<() => void>();
  /** Set by the persisted index: the first load needs only what is new. */
  private restored = false;
  /** False until `startLoading`: heads seen before it (the first fetch) are the load's to index. */
  private started = false;

  constructor(
    private readonly remote: Remote,
    private readonly queue: WriteQueue,
    config: RepoConfig,
    private readonly store: { dataDir: string; key: string },
    private readonly log: Logger,
    /**
     * True while another replica writes this repo (KIPPER_LEASE, a follower): a moved head
     * is then indexed when a read asks for it, or at once for a live view, not at every
     * push of the holder's burst (issue #22).
     */
    private readonly following: () => boolean = () => false,
  ) {
    const gitdir = remote.gitdir;
    const configAt = (commit: string) => config.at(gitdir.view(commit));
    this.index = new RevisionIndex(gitdir, configAt, {
      onChange: () => {
        this.scheduleSave();
        for (const listener of this.listeners) listener();
      },
    });
  }

  /** Tells `listener` after every move of the index (a deploy, a fetched push); returns the unsubscribe. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Starts from the persisted index, if it is of this repo. Call before the first fetch. */
  async restore(): Promise<boolean> {
    const snapshot = await loadIndex(this.store.dataDir, this.store.key);
    if (snapshot) this.index.restore(snapshot);
    this.restored = snapshot !== null;
    return this.restored;
  }

  /**
   * After the first fetch: bring the index to the whole history in the background. A
   * persisted index that connects to the head needs only the new commits; otherwise the
   * remote's full history is fetched (a remote is fetched shallow so writes can start at
   * once) and indexed. History queries wait for it; deploy answers wait at most until
   * their deadline.
   */
  startLoading(): void {
    this.started = true;
    this.loading = this.load().finally(() => {
      this.loading = null;
    });
  }

  /** Follows the branch head (the write queue calls this after it moved). */
  async onHead(head: string): Promise<void> {
    // While loading, the load owns the index (it may rebuild it whole) and catches up after;
    // before it starts, the head is the load's to index (from a shallow first fetch, it would
    // read every app's files only to read them again from the whole history).
    if (!this.started || this.loading !== null) return;
    // A follower nobody watches: `revisions` indexes what is new when a read comes. During
    // a burst that is one walk instead of one per push, each reading every changed file
    // that the holder's memo spared the holder (2 × 0.2 ms of CPU per deploy, 3 replicas).
    if (this.following() && this.listeners.size === 0) return;
    await this.index.update(head);
  }

  /** Revisions of an app, oldest first, as of the branch head. */
  async revisions(id: string): Promise<Revision[]> {
    await this.loading;
    await this.index.update(this.queue.head);
    return this.index.revisions(id);
  }

  /**
   * The revision a write's answer names (`configCommit` null: it changed nothing, the
   * current one). Waits for a loading history at most LOADING_WAIT_MS (and never past
   * `deadline`); after that, undefined, rather than keep a CI waiting on a long history.
   */
  async revisionAt(id: string, configCommit: string | null, deadline: number): Promise<Revision | undefined> {
    const revisions = await this.revisionsWithin(id, deadline);
    if (revisions === undefined) return undefined;
    return configCommit === null ? revisions.at(-1) : revisions.findLast((r) => r.configCommit === configCommit);
  }

  /**
   * Revisions of an app as of the branch head, waiting for a loading history as
   * `revisionAt` does: undefined when it is still loading after that.
   */
  async revisionsWithin(id: string, deadline: number): Promise<Revision[] | undefined> {
    if (this.loading !== null) {
      let timer: NodeJS.Timeout | undefined;
      const wait = Math.min(deadline - Date.now(), LOADING_WAIT_MS);
      const late = new Promise<void>((r) => (timer = setTimeout(r, Math.max(0, wait))));
      await Promise.race([this.loading, late]);
      clearTimeout(timer);
      if (this.loading !== null) return undefined;
    }
    return this.revisions(id);
  }

  /**
   * Revisions of an app for a check before a write (a webhook retry): after a restart the
   * persisted index catches up with what is new in moments and is waited for (as
   * `revisionsWithin`); a first load of the whole history (a fresh data dir) is not, so
   * that it never delays the first deploys: undefined then.
   */
  async revisionsBeforeWrite(id: string, deadline: number): Promise<Revision[] | undefined> {
    if (this.loading !== null && !this.restored) return undefined;
    return this.revisionsWithin(id, deadline);
  }

  /** Persists the index now (shutdown). */
  async close(): Promise<void> {
    clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    if (this.queue.remote.current !== null) await this.index.update(this.queue.head).catch(() => undefined);
    await this.saving;
    await this.save();
  }

  private async load(): Promise<void> {
    const started = Date.now();
    try {
      // A shallow first fetch and nothing persisted: the whole history is fetched and
      // indexed next, so indexing the shallow head first would be work thrown away.
      if (this.restored || !(await this.remote.gitdir.isShallow())) await this.index.update(this.queue.head);
      if (this.index.complete) return;
      for (let attempt = 1; ; attempt++) {
        try {
          await this.remote.fetchFull();
          break;
        } catch (err) {
          if (attempt >= 5) throw err;
          await new Promise((r) => setTimeout(r, 1000 * attempt));
        }
      }
      const fetched = Date.now();
      await this.index.rebuild(this.queue.head);
      this.log.info('history indexed', {
        fetchMs: fetched - started,
        indexMs: Date.now() - fetched,
        revisions: this.index.size(),
      });
    } catch (err) {
      this.log.error('could not read the full history; revision numbers count from what is here', {
        error: err instanceof Error ? err.message : String(err),
      });
    }
    // Pushes that landed meanwhile.
    await this.index.update(this.queue.head).catch(() => undefined);
  }

  /** Persist the index soon: at most once a second, and spaced by what the last save cost. */
  private scheduleSave(): void {
    this.saveTimer ??= setTimeout(
      () => {
        this.saveTimer = undefined;
        // save() logs its own failure; this catch is for a bug in it, never silent.
        this.save().catch((err: unknown) => this.log.error('history index save failed', { error: String(err) }));
      },
      Math.max(1_000, this.nextSave - Date.now()),
    ).unref();
  }

  private save(): Promise<void> {
    // Mid-walk, revisions and head disagree: save once the walk is over. One save at a time.
    if (this.index.busy || this.saving) {
      this.scheduleSave();
      return this.saving ?? Promise.resolve();
    }
    const snapshot = this.index.snapshot();
    this.saving = saveIndex(this.store.dataDir, this.store.key, snapshot)
      .then(
        (busyMs) => {
          this.nextSave = Date.now() + SAVE_SPACING * busyMs;
        },
        (err: unknown) =>
          this.log.warn('could not persist the history index', {
            error: err instanceof Error ? err.message : String(err),
          }),
      )
      .finally(() => {
        this.saving = null;
      });
    return this.saving;
  }
}
