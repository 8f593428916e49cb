/**
 * The embedded default: the bare repo in the data dir IS the config repo. The objects of
 * a push are stored durably first, then `git update-ref <ref> <new> <old>` moves the
 * branch git's way (a lock file, the old value checked under it), which is the
 * compare-and-swap and also excludes a native `git` writing the same ref at that moment.
 */
import { KipError } from '../errors.js';
import { Gitdir } from './gitdir.js';
import type { PushResult, Remote } from './remote.js';

/** The embedded bare repo in the data dir, used as the config repo itself. */
export class LocalRemote implements Remote {
  readonly gitdir: Gitdir;
  readonly description: string;
  private readonly ref: string;

  constructor(opts: { gitdir: string; branch: string }) {
    this.ref = `refs/heads/${opts.branch}`;
    // fsync: a ref must never name objects that a crash could lose.
    this.gitdir = new Gitdir(opts.gitdir, { branch: opts.branch, fsync: true });
    this.description = `embedded repo ${opts.gitdir} (${opts.branch})`;
  }

  /** The branch head; throws REPO_UNAVAILABLE when the branch does not exist yet. */
  async fetch(): Promise<string> {
    const head = await this.readHead();
    if (head === null) {
      throw new KipError('REPO_UNAVAILABLE', `branch ${this.ref.slice(11)} does not exist in ${this.gitdir.path}`, {
        remote: this.description,
        answer: 'no such branch',
      });
    }
    return head;
  }

  /** Same as fetch: the embedded repo always has its whole history. */
  fetchFull(): Promise<string> {
    return this.fetch();
  }

  /** The branch head, or null when the branch does not exist (an empty repo before seeding). */
  readHead(): Promise<string | null> {
    return this.gitdir.readRef(this.ref);
  }

  /** Compare-and-swap of the branch ref from `oldOid` (ZERO_OID: must not exist yet) to `newOid`. */
  async push(oldOid: string, newOid: string, _newObjects?: string[]): Promise<PushResult> {
    const refused = await this.gitdir.updateRef(this.ref, newOid, oldOid);
    if (refused === null) return { ok: true };
    // Moved since (`is at X but expected Y`), or locked by another writer right now.
    return {
      ok: false,
      kind: 'rejected',
      answer: /lock/i.test(refused) ? 'ref locked' : 'fetch first',
      detail: `${this.ref} was not moved: ${refused}`,
    };
  }
}
