import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Rollout } from '../rollout/rollout-state.js';

const FILE = 'rollouts.json';
/** Revisions remembered per app: history older than this shows what it showed when it was current, or `unknown`. */
const PER_APP = 200;

/**
 * The rollout states the bridge saw, per app and config commit, kept in the data dir: a
 * revision that is no longer current keeps what it reached (healthy, degraded, failed),
 * or is `superseded` when a newer one came before it settled. Only the bridge watching
 * sees these, so they outlive a restart here.
 */
export class RolloutMemory {
  private apps = new Map<string, Map<string, Rollout>>();
  private saveTimer: NodeJS.Timeout | undefined;
  /** Writes one after the other: two at once would share the temporary file (and one rename would fail). */
  private saving: Promise<void> = Promise.resolve();

  constructor(private readonly dataDir: string) {}

  async load(): Promise<void> {
    try {
      const stored = JSON.parse(await readFile(join(this.dataDir, FILE), 'utf8')) as Record<
        string,
        Record<string, Rollout>
      >;
      this.apps = new Map(Object.entries(stored).map(([app, byCommit]) => [app, new Map(Object.entries(byCommit))]));
    } catch {
      // None yet, or unreadable: start empty (only what is seen from now on is remembered).
    }
  }

  get(app: string, configCommit: string): Rollout | undefined {
    return this.apps.get(app)?.get(configCommit);
  }

  /** Records what a revision shows now; returns the stored rollout (its `since` kept while the state stays). */
  set(app: string, configCommit: string, rollout: Omit<Rollout, 'since'>, now = Date.now()): Rollout {
    const byCommit = this.apps.get(app) ?? new Map<string, Rollout>();
    this.apps.set(app, byCommit);
    const before = byCommit.get(configCommit);
    const since = before?.state === rollout.state ? before.since : new Date(now).toISOString();
    const stored = { ...rollout, since };
    if (
      before &&
      before.state === stored.state &&
      before.message === stored.message &&
      before.health === stored.health &&
      before.revision === stored.revision
    )
      return before;
    byCommit.delete(configCommit);
    byCommit.set(configCommit, stored);
    if (byCommit.size > PER_APP) byCommit.delete(byCommit.keys().next().value!);
    this.scheduleSave();
    return stored;
  }

  async close(): Promise<void> {
    clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    await this.save();
  }

  private scheduleSave(): void {
    this.saveTimer ??= setTimeout(() => {
      this.saveTimer = undefined;
      // write() is best effort and never rejects; nothing else may hide here.
      this.save().catch(() => undefined);
    }, 1_000).unref();
  }

  /** Writes what is remembered now, after any write already under way. */
  private save(): Promise<void> {
    this.saving = this.saving.then(() => this.write());
    return this.saving;
  }

  /**
   * Best effort, never a failure of the bridge (a shutdown included): what is lost is what
   * past revisions reached, which then read as `unknown`.
   */
  private async write(): Promise<void> {
    const path = join(this.dataDir, FILE);
    const tmp = `${path}.${process.pid}.tmp`;
    const stored = Object.fromEntries([...this.apps].map(([app, byCommit]) => [app, Object.fromEntries(byCommit)]));
    try {
      await writeFile(tmp, JSON.stringify(stored), { mode: 0o600 });
      await rename(tmp, path);
    } catch {
      // See above: the next write tries again.
    }
  }
}
