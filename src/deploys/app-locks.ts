import type { LockAnswer } from '../api-types.js';
import { KIPPER_FILE, type Lock } from '../config/kipper-file.js';
import { setLock } from '../config/set-section-entry.js';
import { formatCommitMessage } from '../history/trailers.js';
import { appNotFound, type RepoConfig } from './repo-config.js';
import type { WriteQueue } from './write-queue.js';
import type { Announce } from './announce.js';

/**
 * App locks (docs/design.md "Locks"): a commit to kipper.yaml's `locks:` that every
 * replica and every reader of git sees. A locked app's webhook and provider events deploy
 * nothing (image-edit.ts checks it at the head each deploy is built on); manual deploys,
 * promotions into it and rollbacks still work: they are how an incident is handled.
 */
export class AppLocks {
  constructor(
    private readonly config: RepoConfig,
    private readonly queue: WriteQueue,
    private readonly announce: Announce,
  ) {}

  /** The lock of an app as kipper.yaml at the head has it, or null. */
  of(id: string): Lock | null {
    return this.config.known().locks.get(id) ?? null;
  }

  /** Locks `id` (again: the reason is replaced) and resolves once the commit is in the remote. */
  async lock(id: string, reason: string, by: string, actor: string): Promise<LockAnswer> {
    const lock: Lock = { reason, by, at: new Date().toISOString() };
    const configCommit = await this.write(id, lock, `lock ${id}`, actor);
    if (configCommit) this.announce({ event: 'locked', app: id, configCommit, reason, author: by, actor });
    // Unchanged (locked already, for the same reason by the same person): the lock as it stands.
    return { app: id, locked: true, lock: configCommit ? lock : (this.of(id) ?? lock), configCommit };
  }

  /** Unlocks `id`; an app that is not locked answers as unlocked, with no commit. */
  async unlock(id: string, reason: string | undefined, by: string | undefined, actor: string): Promise<LockAnswer> {
    const configCommit = await this.write(id, null, `unlock ${id}`, actor, reason);
    if (configCommit)
      this.announce({ event: 'unlocked', app: id, configCommit, reason: reason ?? null, author: by ?? null, actor });
    return { app: id, locked: false, lock: null, configCommit };
  }

  private async write(
    id: string,
    lock: Lock | null,
    subject: string,
    actor: string,
    reason = lock?.reason,
  ): Promise<string | null> {
    await this.config.beforeWrite();
    const outcome = await this.queue.submit(async (view) => {
      const { text, config } = await this.config.fileAt(view);
      if (!config.apps.has(id)) throw appNotFound(id);
      const before = config.locks.get(id);
      if (lock === null && before === undefined) return { kind: 'unchanged', result: null };
      if (lock !== null && before?.reason === lock.reason && before.by === lock.by)
        return { kind: 'unchanged', result: null };
      return {
        kind: 'commit',
        files: new Map([[KIPPER_FILE, Buffer.from(setLock(text, id, lock), 'utf8')]]),
        message: formatCommitMessage(subject, { app: id, ...(reason ? { reason } : {}), actor }),
        result: null,
      };
    });
    return outcome.configCommit;
  }
}
