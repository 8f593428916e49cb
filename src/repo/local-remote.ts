/**
 * The embedded default: the bare repo in the data dir IS the config repo. Objects are
 * written straight into it, so "push" is only the ref update, done the way git itself
 * does it (refs/heads/<branch>.lock created exclusively, checked, renamed into place),
 * which also excludes a native `git` writing the same ref at the same moment.
 * https://git-scm.com/docs/api-lockfile (lock file protocol).
 */
import { constants } from 'node:fs';
import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { KipError } from '../errors.js';
import { ObjectStore, ZERO_OID } from './object-store.js';
import { syncDir } from './pack-set.js';
import type { PushResult, Remote } from './remote.js';

/**
 * A lock older than this was left by a crash: ours are held for milliseconds. Removing
 * it lets writes resume after a crash instead of being rejected forever.
 */
const STALE_LOCK_MS = 60_000;

/** The embedded bare repo in the data dir, used as the config repo itself. */
export class LocalRemote implements Remote {
  readonly store: ObjectStore;
  readonly description: string;
  private readonly gitdir: string;
  private readonly branch: string;
  private readonly ref: string;

  constructor(opts: { gitdir: string; branch: string }) {
    this.gitdir = opts.gitdir;
    this.branch = opts.branch;
    this.ref = `refs/heads/${opts.branch}`;
    // fsync: once `flush` resolves, the objects survive a crash (see `push`).
    this.store = new ObjectStore(opts.gitdir, { fsync: true });
    this.description = `embedded repo ${opts.gitdir} (${opts.branch})`;
  }

  /** The branch head; throws REPO_UNAVAILABLE when the branch does not exist yet. */
  async fetch(): Promise<string> {
    const head = await this.readHead();
    if (head === null) {
      throw new KipError('REPO_UNAVAILABLE', `branch ${this.branch} does not exist in ${this.gitdir}`, {
        remote: this.description,
        branch: this.branch,
      });
    }
    return head;
  }

  /** Same as fetch: the embedded repo always has its whole history. */
  fetchFull(): Promise<string> {
    return this.fetch();
  }

  /** The branch head, or null when the branch does not exist (an empty repo before seeding). */
  async readHead(): Promise<string | null> {
    const loose = await readOptional(join(this.gitdir, this.ref));
    if (loose !== null) {
      const value = loose.trim();
      if (value.startsWith('ref:')) {
        throw new KipError('INTERNAL', `${this.ref} in ${this.gitdir} is a symbolic ref; Kipper writes only plain branches`);
      }
      return value;
    }
    const packed = await readOptional(join(this.gitdir, 'packed-refs'));
    if (packed === null) return null;
    for (const line of packed.split('\n')) {
      // "<oid> <ref>", plus "# pack-refs with: …" header and "^<oid>" peeled tag lines.
      if (line.startsWith('#') || line.startsWith('^')) continue;
      const space = line.indexOf(' ');
      if (space > 0 && line.slice(space + 1).trim() === this.ref) return line.slice(0, space);
    }
    return null;
  }

  /**
   * Compare-and-swap of the branch ref: moves it from `oldOid` (ZERO_OID: must not
   * exist yet) to `newOid`, or answers `rejected` if it moved or another writer holds
   * the lock. The new objects are durable first, so the ref never names an object a
   * crash could lose: they are in packs the store fsyncs (file and directory) before
   * `flush` resolves.
   */
  async push(oldOid: string, newOid: string, _newObjects: string[]): Promise<PushResult> {
    const refPath = join(this.gitdir, this.ref);
    const lockPath = `${refPath}.lock`;
    await mkdir(dirname(refPath), { recursive: true });
    // A ref must never name a commit that is not here (a corrupt repo for every reader):
    // wait for the store's background pack writes first.
    await this.store.flush();
    await this.store.readCommit(newOid);

    const lock = await this.acquireLock(lockPath);
    if (lock === null) {
      return { ok: false, kind: 'rejected', answer: 'ref locked', detail: `${this.ref} is locked by another writer (${lockPath})` };
    }
    let renamed = false;
    try {
      const current = (await this.readHead()) ?? ZERO_OID;
      if (current !== oldOid) {
        return { ok: false, kind: 'rejected', answer: 'fetch first', detail: `${this.ref} is at ${current}, not at ${oldOid}: fetch first` };
      }
      await lock.writeFile(`${newOid}\n`);
      await lock.sync();
      await lock.close();
      await rename(lockPath, refPath);
      renamed = true;
      await syncDir(dirname(refPath));
      return { ok: true };
    } finally {
      if (!renamed) {
        await lock.close().catch(() => undefined);
        await unlink(lockPath).catch(() => undefined);
      }
    }
  }

  private async acquireLock(lockPath: string) {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        return await open(lockPath, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const info = await stat(lockPath).catch(() => null);
        if (attempt === 0 && info !== null && Date.now() - info.mtimeMs > STALE_LOCK_MS) {
          await unlink(lockPath).catch(() => undefined);
          continue;
        }
        return null;
      }
    }
    return null;
  }
}

async function readOptional(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

