import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BoundedCache } from './bounded-cache.js';
import { hashObject, packEntry, packOf, type ObjectType } from './git-objects.js';
import { runGit } from './git-process.js';

/** An object built in memory. */
export interface MemoryObject {
  type: ObjectType;
  content: Uint8Array;
  /** Its pack entry, deflated once for the push and for `index-pack`. */
  entry?: Buffer;
}

/** Objects we wrote, kept for reads after they are stored (the next deploy reads what the last wrote). */
const RECENT_BYTES = 16 * 1024 * 1024;
/**
 * A background store of new objects runs this long after the first one waits. Each store
 * is a `git index-pack` process, whose spawn alone costs this process ~2.5 ms of CPU (a
 * fork of a large heap): at 50 ms it was a tenth of the CPU of a burst of deploys (issue
 * #14). Nothing waits for it: the objects are read from memory until stored, pushes send
 * them from memory, and whatever needs them in the gitdir (fetch, log, update-ref)
 * calls `flush` first.
 */
const STORE_DELAY_MS = 1_000;
/** More packs than this and `git repack --geometric=2` merges the small ones (git's gc.autoPackLimit is 50). */
const MAX_PACKS = 16;

/**
 * The objects the bridge builds in memory (ids known at once), until and after `git
 * index-pack` stores them: one pack per store, in the background, `flush` is the barrier.
 * A loose file per object cost ~260 µs of kernel time each, the largest single cost of a
 * deploy; a pack per batch of deploys costs one ~4 ms `index-pack`, off the hot path.
 */
export class NewObjects {
  private readonly recent = new BoundedCache<MemoryObject>(RECENT_BYTES, (o) => o.content.byteLength);
  private unstored = new Map<string, MemoryObject>();
  private storing = new Map<string, MemoryObject>();
  private chain: Promise<void> = Promise.resolve();
  private failed: Error | null = null;
  private timer: NodeJS.Timeout | undefined;

  /** `env`: settings for git's writes (fsync); `durable`: also fsync the directory that names a new pack. */
  constructor(
    private readonly gitdir: string,
    private readonly git: { env: () => Record<string, string>; durable: boolean },
  ) {}

  /** An object still in memory, or undefined. */
  get(oid: string): MemoryObject | undefined {
    return this.unstored.get(oid) ?? this.storing.get(oid) ?? this.recent.get(oid);
  }

  /**
   * Hashes an object in memory; one not in memory waits for the next store. `stored`:
   * the id of what it replaces, which is in the repo already (same id: nothing to store).
   * Returns its id.
   */
  add(type: ObjectType, content: Uint8Array, stored?: string | null): string {
    const oid = hashObject(type, content);
    // Possibly stored long ago (an image deployed before): a duplicate in a pack is harmless.
    if (oid === stored || this.get(oid)) return oid;
    const object: MemoryObject = { type, content };
    this.unstored.set(oid, object);
    this.recent.set(oid, object);
    this.timer ??= setTimeout(() => this.startStore(), STORE_DELAY_MS).unref();
    return oid;
  }

  /**
   * Resolves once every object added so far is stored. Rejects, for every caller, while
   * objects are still unstored after the last store failed (they wait for the next).
   */
  async flush(): Promise<void> {
    this.startStore();
    await this.chain;
    if (this.unstored.size > 0 && this.failed) throw this.failed;
  }

  private startStore(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.unstored.size === 0) return;
    const batch = this.unstored;
    this.unstored = new Map();
    for (const [oid, o] of batch) this.storing.set(oid, o);
    this.chain = this.chain.then(async () => {
      try {
        const pack = packOf([...batch.values()].map((o) => (o.entry ??= packEntry(o.type, o.content))));
        await runGit(['--git-dir', this.gitdir, 'index-pack', '--stdin'], { input: pack, env: this.git.env() });
        // git fsyncs the files but not the directory that names them (its link()s).
        if (this.git.durable) await syncDir(join(this.gitdir, 'objects', 'pack'));
        for (const o of batch.values()) delete o.entry;
        this.failed = null;
      } catch (err) {
        this.failed = err instanceof Error ? err : new Error(String(err));
        this.unstored = new Map([...batch, ...this.unstored]);
        return;
      } finally {
        for (const oid of batch.keys()) this.storing.delete(oid);
      }
      await this.repackIfMany();
    });
  }

  /**
   * `git repack --geometric=2`: each object is rewritten O(log n) times over the repo's
   * life. A failed repack leaves the packs as they were: harmless, tried again next time.
   */
  private async repackIfMany(): Promise<void> {
    const packs = (await readdir(join(this.gitdir, 'objects', 'pack')).catch(() => [])).filter((f) =>
      f.endsWith('.idx'),
    );
    if (packs.length <= MAX_PACKS) return;
    await runGit(['--git-dir', this.gitdir, 'repack', '-d', '-q', '--geometric=2'], { env: this.git.env() }).catch(
      () => undefined,
    );
  }
}

/** fsync a directory: makes the names of new files in it durable. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
