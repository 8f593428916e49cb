/**
 * The packs of one repo's `objects/pack`: write a batch of objects as one pack + idx,
 * read whole (undeltified) objects from any pack, and merge small packs of whole
 * objects so lookups stay cheap. https://git-scm.com/docs/gitformat-pack
 *
 * Why not loose objects: one file per object cost ~260 µs of kernel time each, the
 * largest single cost of a deploy, and left every object as a file forever.
 *
 * Visibility: git and isomorphic-git find a pack through its .idx, so the .pack is
 * renamed into place first and the .idx second (each from a temp file): a reader sees
 * the whole pack or nothing. Merging writes the new pack before deleting the old ones,
 * like `git repack -d`, so a concurrent reader (native `git http-backend` serving the
 * embedded repo) always finds every object somewhere.
 *
 * Reads are our own, by offset: isomorphic-git would read a whole pack into memory
 * (and SHA-1 it) to get one object from it, which for a data dir with months of
 * deploys is the whole repo. Packs with deltas (from fetches or native git) are left
 * to isomorphic-git, which resolves delta chains: `read` answers null for them.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32, inflateSync } from 'node:zlib';
import { KipError } from '../errors.js';
import { encodePackIndex, PackIndex, type IndexEntry } from './pack-index.js';

/** An object ready to pack: `entry` is its pack entry (header + deflated content). */
export interface PackObject {
  oid: string;
  entry: Buffer;
}

/** A whole object read from a pack. */
export interface PackedObject {
  type: string;
  content: Buffer;
}

/**
 * More packs of whole objects than this and the smallest are merged. Every lookup
 * that misses our memory scans each pack's index; git's `gc.autoPackLimit` is 50.
 */
export const MAX_PACKS = 16;
/** Packs above this size are never merged (a merge streams, but rewriting GiBs is not worth it). */
const MERGE_MAX_BYTES = 1024 * 1024 * 1024;
/** A merge copies entries in reads and writes of about this size, yielding between them. */
const MERGE_CHUNK_BYTES = 1024 * 1024;
/** Pack entry types of whole objects (https://git-scm.com/docs/gitformat-pack#_object_types); 6 and 7 are deltas. */
const TYPE_NAMES: Record<number, string> = { 1: 'commit', 2: 'tree', 3: 'blob', 4: 'tag' };

interface Pack {
  /** `pack-<40 hex>`, without extension. */
  name: string;
  index: PackIndex;
  /** Bytes of the .pack file. */
  size: number;
  /**
   * true: only whole objects (ours, or checked by a merge); false: has deltas (seen by a
   * read or a merge); undefined: not known yet.
   */
  whole: boolean | undefined;
  /** Never merged: git's repack leaves a kept, promisor or cruft pack alone (their side files say so). */
  kept: boolean;
}

/** Where one entry of an input pack lies, for a merge. */
interface Span {
  oid: Buffer;
  offset: number;
  end: number;
  crc: number;
}

/** Temp names only need to be unique within this process (the pid covers the rest). */
let tmpCounter = 0;

/** The packs of one `objects/pack` directory, as seen by one process. */
export class PackSet {
  private readonly dir: string;
  private readonly fsync: boolean;
  /** isomorphic-git's cache (shared with fetches): entries of deleted packs are dropped from it. */
  private readonly gitCache: object;
  /** Newest last; lookups go newest first (recent objects are the ones read). */
  private packs: Pack[] = [];
  private listed: Promise<void> | null = null;
  private dirReady: Promise<void> | null = null;
  private refreshing: Promise<boolean> | null = null;
  /** Merged away and no longer searched, but still on disk until no isomorphic-git operation runs. */
  private doomed: Pack[] = [];
  private holds = 0;
  private deleting: Promise<void> | null = null;
  private merging: Promise<void> | null = null;
  private mergeAgain = false;
  private mergeError: Error | null = null;
  /**
   * Names of packs we deleted lately: a listing taken just before a deletion must not
   * bring them back. Bounded; a name only returns if the same bytes are written again.
   */
  private readonly deleted = new Set<string>();

  /** `fsync`: make each pack durable before it becomes visible (and before a merge deletes its inputs). */
  constructor(gitdir: string, opts: { fsync: boolean; gitCache: object }) {
    this.dir = join(gitdir, 'objects', 'pack');
    this.fsync = opts.fsync;
    this.gitCache = opts.gitCache;
  }

  /**
   * Writes `objects` (unique ids) as one pack + idx, visible to every reader once this
   * resolves (and durable, with `fsync`). May start a merge in the background.
   */
  async write(objects: PackObject[]): Promise<void> {
    await this.listOnce();
    // A repo made by other tools may have no objects/pack yet.
    this.dirReady ??= mkdir(this.dir, { recursive: true }).then(
      () => undefined,
      (err: unknown) => {
        this.dirReady = null;
        throw err;
      },
    );
    await this.dirReady;
    const header = packHeader(objects.length);
    const entries: IndexEntry[] = [];
    let offset = header.length;
    for (const o of objects) {
      entries.push({ oid: Buffer.from(o.oid, 'hex'), offset, crc: crc32(o.entry) });
      offset += o.entry.length;
    }
    const body = Buffer.concat([header, ...objects.map((o) => o.entry)], offset);
    const checksum = createHash('sha1').update(body).digest();
    const name = `pack-${checksum.toString('hex')}`;
    const idx = encodePackIndex(entries, checksum);
    await this.writeAtomically(`${name}.pack`, [body, checksum]);
    await this.writeAtomically(`${name}.idx`, [idx]);
    if (this.fsync) await syncDir(this.dir);
    this.add({ name, index: new PackIndex(idx, name), size: offset + 20, whole: true, kept: false });
    this.maybeMerge();
  }

  /**
   * The whole object `oid` from any pack, or null when no pack has it as a whole
   * object (absent, loose, or a delta: ask isomorphic-git). Throws on a corrupt entry.
   */
  async read(oid: string): Promise<PackedObject | null> {
    await this.listOnce();
    // Packs come and go behind our back (fetches, another process merging, native git
    // repacking): on a miss, list the directory again, like git's reprepare_packed_git().
    // A writer puts the new pack in place before deleting the old ones, so an object is
    // always in some pack; only a pack that vanished between listing and reading can
    // hide it, and then we look again.
    let lookAgain = true;
    for (let rounds = 0; rounds < 16; rounds++) {
      const hit = this.lookup(oid);
      // A pack with deltas (a fetch's, native git's) is isomorphic-git's to read: it keeps
      // such a pack in memory and resolves delta chains; a read of ours would be wasted.
      if (hit?.pack.whole === false) return null;
      if (hit !== null) {
        try {
          return await this.readEntry(hit.pack, hit.offset, oid);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
          this.drop(hit.pack);
          lookAgain = true;
          continue;
        }
      }
      if (!lookAgain) return null;
      lookAgain = await this.refreshAfterNow();
    }
    return null;
  }

  /**
   * Runs `fn` (an isomorphic-git operation on this repo) while no pack is deleted:
   * isomorphic-git lists `objects/pack` once per lookup and fails if an .idx it listed
   * is gone when it opens it.
   */
  async hold<T>(fn: () => Promise<T>): Promise<T> {
    while (this.deleting !== null) await this.deleting;
    this.holds++;
    try {
      return await fn();
    } finally {
      this.holds--;
      if (this.holds === 0) this.startDelete();
    }
  }

  /** Resolves once no merge or deletion runs; rethrows a failed merge (once). */
  async idle(): Promise<void> {
    while (this.merging !== null || this.deleting !== null) {
      await this.merging;
      await this.deleting;
    }
    const err = this.mergeError;
    if (err) {
      this.mergeError = null;
      throw err;
    }
  }

  /** Names (`pack-<hex>`) of the packs currently searched, for tests and diagnostics. */
  async list(): Promise<string[]> {
    await this.listOnce();
    return this.packs.map((p) => p.name);
  }

  private lookup(oid: string): { pack: Pack; offset: number } | null {
    const raw = Buffer.from(oid, 'hex');
    for (let i = this.packs.length - 1; i >= 0; i--) {
      const pack = this.packs[i] as Pack;
      const at = pack.index.find(raw);
      if (at >= 0) return { pack, offset: pack.index.offsetAt(at) };
    }
    return null;
  }

  private async readEntry(pack: Pack, offset: number, oid: string): Promise<PackedObject | null> {
    const end = pack.index.entryEnd(offset, pack.size);
    const bytes = Buffer.allocUnsafe(end - offset);
    const handle = await open(join(this.dir, `${pack.name}.pack`), 'r');
    try {
      await readFully(handle, bytes, offset);
    } finally {
      await handle.close();
    }
    const { type, size, headerLength } = parseEntryHeader(bytes);
    const typeName = TYPE_NAMES[type];
    if (typeName === undefined) {
      pack.whole = false;
      return null;
    }
    let content: Buffer;
    try {
      content = inflateSync(bytes.subarray(headerLength));
    } catch (err) {
      throw corruptEntry(pack, oid, `cannot inflate: ${(err as Error).message}`);
    }
    const actual = createHash('sha1').update(`${typeName} ${content.length}\0`, 'latin1').update(content).digest('hex');
    if (content.length !== size || actual !== oid) throw corruptEntry(pack, oid, 'content does not match its id');
    return { type: typeName, content };
  }

  /** Lists the directory the first time anything is asked (packs of earlier runs, fetches, native git). */
  private listOnce(): Promise<void> {
    // A failed listing (say, the directory is unreadable for now) is tried again next time.
    this.listed ??= this.refresh().then(
      () => undefined,
      (err: unknown) => {
        this.listed = null;
        throw err;
      },
    );
    return this.listed;
  }

  /** A refresh that lists the directory after this call: one already running may have listed it before. */
  private async refreshAfterNow(): Promise<boolean> {
    if (this.refreshing !== null) await this.refreshing.catch(() => undefined);
    return this.refresh();
  }

  /**
   * Adds packs that appeared in the directory since we last looked and forgets those
   * that are gone. Resolves true when a listed pack vanished before it could be loaded
   * (deleted by a merge meanwhile).
   */
  private refresh(): Promise<boolean> {
    this.refreshing ??= (async () => {
      // Packs known before listing: one of them missing from the listing is really gone
      // (a pack we add later may have been renamed into place after the listing).
      const before = new Set(this.packs);
      let names: string[];
      try {
        names = await readdir(this.dir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw err;
      }
      let vanished = false;
      const present = new Set(names);
      this.packs = this.packs.filter((p) => !before.has(p) || present.has(`${p.name}.idx`));
      const known = new Set([...this.packs, ...this.doomed].map((p) => p.name));
      const skip = (name: string) => known.has(name) || this.deleted.has(name);
      for (const file of names) {
        const match = /^(pack-[0-9a-f]{40})\.idx$/.exec(file);
        const name = match?.[1];
        if (name === undefined || skip(name) || !present.has(`${name}.pack`)) continue;
        const pack = await this.load(name);
        if (pack === 'gone') vanished = true;
        if (typeof pack === 'string') continue;
        pack.kept = ['.keep', '.promisor', '.mtimes'].some((ext) => present.has(`${name}${ext}`));
        // Found, not written by us now: older than our packs, so searched after them.
        // (Checked again: a merge may have added or deleted it while we loaded it.)
        const current = [...this.packs, ...this.doomed];
        if (!current.some((p) => p.name === name) && !skip(name)) this.packs.unshift(pack);
      }
      return vanished;
    })().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  /**
   * A pack found on disk; 'gone' when it vanished meanwhile, 'bad' when it cannot be
   * used (its idx not valid, e.g. mid-write by an isomorphic-git fetch, which writes
   * in place): git skips an unusable pack too, and we look at it again next refresh.
   */
  private async load(name: string): Promise<Pack | 'gone' | 'bad'> {
    try {
      const [idx, info] = await Promise.all([readFile(join(this.dir, `${name}.idx`)), stat(join(this.dir, `${name}.pack`))]);
      return { name, index: new PackIndex(idx, name), size: info.size, whole: undefined, kept: false };
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'gone' : 'bad';
    }
  }

  private add(pack: Pack): void {
    this.deleted.delete(pack.name);
    this.packs = this.packs.filter((p) => p.name !== pack.name);
    this.packs.push(pack);
  }

  private drop(pack: Pack): void {
    this.packs = this.packs.filter((p) => p !== pack);
  }

  private maybeMerge(): void {
    if (this.merging !== null) {
      this.mergeAgain = true;
      return;
    }
    if (this.mergeable().length <= MAX_PACKS) return;
    this.merging = (async () => {
      do {
        this.mergeAgain = false;
        await this.consolidate();
      } while (this.mergeAgain);
    })()
      .catch((err: unknown) => {
        this.mergeError ??= err instanceof Error ? err : new Error(String(err));
      })
      .finally(() => {
        this.merging = null;
      });
  }

  private mergeable(): Pack[] {
    return this.packs.filter((p) => !p.kept && p.whole !== false && p.size <= MERGE_MAX_BYTES);
  }

  /** Merges until at most MAX_PACKS mergeable packs remain (a few rounds: an input may turn out to hold deltas). */
  private async consolidate(): Promise<void> {
    for (let round = 0; round < 4; round++) {
      const candidates = this.mergeable();
      if (candidates.length <= MAX_PACKS) return;
      await this.merge(selectForMerge(candidates));
    }
  }

  /**
   * Copies the entries of `inputs` (once per id) into one new pack, byte for byte:
   * whole objects need no re-deflating, and their CRC32 carries over. Then the inputs
   * stop being searched and are deleted once no isomorphic-git operation runs.
   */
  private async merge(inputs: Pack[]): Promise<void> {
    const seen = new Set<string>();
    const plan: Array<{ pack: Pack; entries: Span[] }> = [];
    for (const pack of inputs) {
      const entries: Span[] = [];
      for (let i = 0; i < pack.index.count; i++) {
        const oid = pack.index.oidAt(i);
        const hex = oid.toString('hex');
        if (seen.has(hex)) continue;
        seen.add(hex);
        const offset = pack.index.offsetAt(i);
        entries.push({ oid, offset, end: pack.index.entryEnd(offset, pack.size), crc: pack.index.crcAt(i) });
      }
      entries.sort((a, b) => a.offset - b.offset);
      plan.push({ pack, entries });
    }

    const out = await TempFile.create(this.dir);
    const written: IndexEntry[] = [];
    let checksum: Buffer;
    /** The merged .pack once renamed into place, to remove again if its .idx cannot be written. */
    let orphan: string | null = null;
    try {
      const hash = createHash('sha1');
      const header = packHeader(seen.size);
      hash.update(header);
      await out.write(header);
      let position = header.length;
      for (const { pack, entries } of plan) {
        let handle: FileHandle;
        try {
          handle = await open(join(this.dir, `${pack.name}.pack`), 'r');
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
          // Gone (native git repacked): the next round picks from what is left.
          this.drop(pack);
          await out.abort();
          return;
        }
        try {
          for (let first = 0; first < entries.length; ) {
            // A run of entries spanning about MERGE_CHUNK_BYTES (at least one entry).
            let last = first;
            const start = (entries[first] as Span).offset;
            while (last + 1 < entries.length && (entries[last + 1] as Span).end - start <= MERGE_CHUNK_BYTES) last++;
            const stop = (entries[last] as Span).end;
            const window = Buffer.allocUnsafe(stop - start);
            await readFully(handle, window, start);
            for (let i = first; i <= last; i++) {
              const e = entries[i] as Span;
              const bytes = window.subarray(e.offset - start, e.end - start);
              if (TYPE_NAMES[parseEntryHeader(bytes).type] === undefined) {
                // A delta refers to its base by offset or id in its own pack: it cannot
                // be copied as is. Leave this pack alone from now on.
                pack.whole = false;
                await out.abort();
                return;
              }
              if (crc32(bytes) !== e.crc) {
                // Never copy a damaged entry; never try this pack again either.
                pack.whole = false;
                throw corruptEntry(pack, e.oid.toString('hex'), 'CRC32 does not match its idx');
              }
              written.push({ oid: e.oid, offset: position, crc: e.crc });
              position += bytes.length;
            }
            // Only the entries we keep (duplicates of earlier inputs are skipped).
            const kept = entries.slice(first, last + 1).map((e) => window.subarray(e.offset - start, e.end - start));
            for (const b of kept) hash.update(b);
            await out.write(Buffer.concat(kept));
            first = last + 1;
          }
        } finally {
          await handle.close();
        }
        pack.whole = true;
      }
      checksum = hash.digest();
      await out.write(checksum);
      position += 20;
      const name = `pack-${checksum.toString('hex')}`;
      await out.commit(join(this.dir, `${name}.pack`), this.fsync);
      if (!inputs.some((p) => p.name === name)) orphan = join(this.dir, `${name}.pack`);
      const idx = encodePackIndex(written, checksum);
      await this.writeAtomically(`${name}.idx`, [idx]);
      orphan = null;
      // The merged pack must be durable before its inputs can go.
      if (this.fsync) await syncDir(this.dir);
      const merged: Pack = { name, index: new PackIndex(idx, name), size: position, whole: true, kept: false };
      // Searched before the inputs are dropped, so a lookup never misses in between.
      this.add(merged);
      for (const pack of inputs) {
        // The merge of packs whose later inputs added nothing is byte for byte the
        // first input, under the same name: that file stays.
        if (pack.name === name) continue;
        this.drop(pack);
        this.doomed.push(pack);
      }
      this.startDelete();
    } catch (err) {
      await out.abort();
      if (orphan !== null) await unlink(orphan).catch(() => undefined);
      throw err;
    }
  }

  /** Deletes merged-away packs, unless an isomorphic-git operation runs (its `hold` ending retries). */
  private startDelete(): void {
    if (this.holds > 0 || this.deleting !== null || this.doomed.length === 0) return;
    const doomed = this.doomed;
    this.doomed = [];
    for (const pack of doomed) this.deleted.add(pack.name);
    for (const name of this.deleted) {
      if (this.deleted.size <= 1024) break;
      this.deleted.delete(name);
    }
    this.deleting = (async () => {
      for (const pack of doomed) {
        // The .idx first: without it no reader uses the .pack. Errors are left for
        // native `git gc` to clean up: a leftover pack is only a duplicate.
        await unlink(join(this.dir, `${pack.name}.idx`)).catch(() => undefined);
        forgetPack(this.gitCache, `${pack.name}.idx`);
        for (const ext of ['.pack', '.rev', '.bitmap']) {
          await unlink(join(this.dir, `${pack.name}${ext}`)).catch(() => undefined);
        }
      }
    })().finally(() => {
      this.deleting = null;
      // More may have been doomed meanwhile.
      this.startDelete();
    });
  }

  /** Temp file, then rename: a reader never sees a partial file. */
  private async writeAtomically(file: string, chunks: Buffer[]): Promise<void> {
    const out = await TempFile.create(this.dir);
    try {
      for (const c of chunks) await out.write(c);
      await out.commit(join(this.dir, file), this.fsync);
    } catch (err) {
      await out.abort();
      throw err;
    }
  }
}

/**
 * Which packs to merge, git's geometric way (`git repack --geometric=2`): sorted by
 * size, merge the smallest ones until every pack left is at least twice the size of
 * all smaller ones together. Each object is then rewritten O(log n) times over the
 * repo's life, not once per merge. And at least enough to get down to half the
 * limit: merging only the two smallest would merge again on every flush.
 */
export function selectForMerge<T extends { size: number }>(packs: T[]): T[] {
  const sorted = [...packs].sort((a, b) => a.size - b.size);
  let split = 0;
  let smaller = 0;
  for (let i = 0; i < sorted.length; i++) {
    const size = (sorted[i] as T).size;
    if (size < 2 * smaller) split = i + 1;
    smaller += size;
  }
  split = Math.max(split, sorted.length - MAX_PACKS / 2 + 1, 2);
  return sorted.slice(0, split);
}

/** `PACK`, version 2, object count. */
function packHeader(count: number): Buffer {
  const header = Buffer.alloc(12);
  header.write('PACK', 0, 'latin1');
  header.writeUInt32BE(2, 4);
  header.writeUInt32BE(count, 8);
  return header;
}

/** Type in bits 6-4 of the first byte, size as a little-endian base-128 varint after its low 4 bits. */
function parseEntryHeader(bytes: Buffer): { type: number; size: number; headerLength: number } {
  let byte = bytes[0] ?? 0;
  const type = (byte >> 4) & 7;
  let size = byte & 0x0f;
  let factor = 16;
  let i = 1;
  while (byte & 0x80) {
    byte = bytes[i++] ?? 0;
    size += (byte & 0x7f) * factor;
    factor *= 128;
  }
  return { type, size, headerLength: i };
}

async function readFully(handle: FileHandle, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await handle.read(buf, done, buf.length - done, position + done);
    if (bytesRead === 0) throw new KipError('INTERNAL', 'pack file is shorter than its index says', { position });
    done += bytesRead;
  }
}

function corruptEntry(pack: Pack, oid: string, why: string): KipError {
  return new KipError('INTERNAL', `object ${oid} in ${pack.name}.pack is corrupt (${why}): restore the repo from a backup or re-clone it`, {
    oid,
    pack: pack.name,
  });
}

/**
 * Drops a deleted pack from isomorphic-git's cache, which keeps every index it loaded
 * (and the whole pack, once read) by path, forever: merged-away packs would leak.
 * Its cache is an object with a private Symbol-keyed Map of path -> index
 * (`PackfileCache` in isomorphic-git's storage/readPackIndex.js); matching on the file
 * name keeps us independent of how it spells the path.
 */
function forgetPack(cache: object, idxFile: string): void {
  for (const key of Object.getOwnPropertySymbols(cache)) {
    const value: unknown = (cache as Record<symbol, unknown>)[key];
    if (!(value instanceof Map)) continue;
    for (const path of value.keys()) {
      if (typeof path === 'string' && path.endsWith(`/${idxFile}`)) value.delete(path);
    }
  }
}

/** fsync a directory, making a rename or a new entry in it durable. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** A temp file in `objects/pack` (git's `tmp_pack_` prefix: `git gc` removes stale ones). */
class TempFile {
  private constructor(
    private readonly path: string,
    private readonly handle: FileHandle,
  ) {}

  static async create(dir: string): Promise<TempFile> {
    const path = join(dir, `tmp_pack_${process.pid}_${tmpCounter++}`);
    return new TempFile(path, await open(path, 'wx', 0o444));
  }

  async write(buf: Buffer): Promise<void> {
    let done = 0;
    while (done < buf.length) done += (await this.handle.write(buf, done, buf.length - done)).bytesWritten;
  }

  /** Closes (fsync first if asked) and renames into place. */
  async commit(path: string, fsync: boolean): Promise<void> {
    if (fsync) await this.handle.sync();
    await this.handle.close();
    await rename(this.path, path);
  }

  async abort(): Promise<void> {
    await this.handle.close().catch(() => undefined);
    await unlink(this.path).catch(() => undefined);
  }
}
