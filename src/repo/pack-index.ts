/**
 * Pack index (.idx) version 2: encode, parse, look up. Pure bytes, no fs.
 * https://git-scm.com/docs/gitformat-pack#_version_2_pack_idx_files_support_packs_larger_than_4_gib_and
 *
 *   "\377tOc", version 2, 256-entry fanout (object count with first byte <= i),
 *   sorted 20-byte ids, CRC32 of each packed entry, 4-byte offsets (MSB set: index
 *   into a table of 8-byte offsets, for entries at 2 GiB and beyond), pack checksum,
 *   idx checksum (SHA-1 of everything before it).
 */
import { createHash } from 'node:crypto';
import { KipError } from '../errors.js';

/** One object of a pack, as the index records it. */
export interface IndexEntry {
  /** 20 raw bytes. */
  oid: Buffer;
  /** Byte offset of the entry's header in the pack. */
  offset: number;
  /** CRC32 of the entry's bytes in the pack (header + deflated data). */
  crc: number;
}

const MAGIC = Buffer.from([0xff, 0x74, 0x4f, 0x63]);
const HEADER = 8;
const FANOUT = 256 * 4;
/** Offsets at or beyond 2^31 go to the 8-byte table. */
const SMALL_OFFSET_LIMIT = 0x80000000;

/** Encodes an idx v2 for `entries` (any order; ids must be unique) of the pack whose trailer is `packChecksum`. */
export function encodePackIndex(entries: IndexEntry[], packChecksum: Buffer): Buffer {
  const sorted = [...entries].sort((a, b) => Buffer.compare(a.oid, b.oid));
  const n = sorted.length;
  const large = sorted.filter((e) => e.offset >= SMALL_OFFSET_LIMIT).length;
  const out = Buffer.alloc(HEADER + FANOUT + n * (20 + 4 + 4) + large * 8 + 40);
  MAGIC.copy(out, 0);
  out.writeUInt32BE(2, 4);
  const oidsAt = HEADER + FANOUT;
  const crcsAt = oidsAt + n * 20;
  const offsetsAt = crcsAt + n * 4;
  const largeAt = offsetsAt + n * 4;
  let nextLarge = 0;
  const counts = new Uint32Array(256);
  for (let i = 0; i < n; i++) {
    const e = sorted[i] as IndexEntry;
    if (i > 0 && e.oid.equals((sorted[i - 1] as IndexEntry).oid)) {
      throw new KipError('INTERNAL', `object ${e.oid.toString('hex')} is twice in one pack`, { oid: e.oid.toString('hex') });
    }
    const first = e.oid[0] as number;
    counts[first] = (counts[first] as number) + 1;
    e.oid.copy(out, oidsAt + i * 20);
    out.writeUInt32BE(e.crc >>> 0, crcsAt + i * 4);
    if (e.offset < SMALL_OFFSET_LIMIT) {
      out.writeUInt32BE(e.offset, offsetsAt + i * 4);
    } else {
      out.writeUInt32BE((SMALL_OFFSET_LIMIT | nextLarge) >>> 0, offsetsAt + i * 4);
      out.writeBigUInt64BE(BigInt(e.offset), largeAt + nextLarge * 8);
      nextLarge++;
    }
  }
  let total = 0;
  for (let b = 0; b < 256; b++) {
    total += counts[b] as number;
    out.writeUInt32BE(total, HEADER + b * 4);
  }
  const trailerAt = largeAt + large * 8;
  packChecksum.copy(out, trailerAt);
  createHash('sha1').update(out.subarray(0, trailerAt + 20)).digest().copy(out, trailerAt + 20);
  return out;
}

/** A parsed idx v2, searched in place (binary search over the sorted ids, as git does). */
export class PackIndex {
  readonly count: number;
  /** The pack's trailer checksum (hex): the pack this index describes. */
  readonly packChecksum: string;
  private readonly buf: Buffer;
  private readonly oidsAt: number;
  private readonly crcsAt: number;
  private readonly offsetsAt: number;
  private readonly largeAt: number;
  /** Entry offsets in pack order, built on first need (to find where an entry ends). */
  private byOffset: Float64Array | null = null;

  /** Parses and checks an idx file's bytes; throws KipError('INTERNAL') when it is not a valid idx v2. */
  constructor(buf: Buffer, name = 'pack index') {
    const corrupt = (why: string) => new KipError('INTERNAL', `${name} is not a valid pack index v2 (${why})`, { name });
    if (buf.length < HEADER + FANOUT + 40 || !buf.subarray(0, 4).equals(MAGIC)) throw corrupt('bad magic');
    if (buf.readUInt32BE(4) !== 2) throw corrupt(`version ${buf.readUInt32BE(4)}`);
    const n = buf.readUInt32BE(HEADER + 255 * 4);
    this.buf = buf;
    this.count = n;
    this.oidsAt = HEADER + FANOUT;
    this.crcsAt = this.oidsAt + n * 20;
    this.offsetsAt = this.crcsAt + n * 4;
    this.largeAt = this.offsetsAt + n * 4;
    const largeBytes = buf.length - 40 - this.largeAt;
    if (largeBytes < 0 || largeBytes % 8 !== 0) throw corrupt('wrong size for its object count');
    const digest = createHash('sha1').update(buf.subarray(0, buf.length - 20)).digest();
    if (!digest.equals(buf.subarray(buf.length - 20))) throw corrupt('checksum mismatch');
    this.packChecksum = buf.toString('hex', buf.length - 40, buf.length - 20);
  }

  /** Position of `oid` (40 hex, or 20 raw bytes) in the sorted id table, or -1. */
  find(oid: string | Buffer): number {
    const want = typeof oid === 'string' ? Buffer.from(oid, 'hex') : oid;
    if (want.length !== 20) return -1;
    const first = want[0] as number;
    let lo = first === 0 ? 0 : this.buf.readUInt32BE(HEADER + (first - 1) * 4);
    let hi = this.buf.readUInt32BE(HEADER + first * 4);
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const at = this.oidsAt + mid * 20;
      // Sign of (entry at mid) - want.
      const cmp = this.buf.compare(want, 0, 20, at, at + 20);
      if (cmp === 0) return mid;
      if (cmp > 0) hi = mid;
      else lo = mid + 1;
    }
    return -1;
  }

  /** Raw 20-byte id at position `i` (a view into the index bytes). */
  oidAt(i: number): Buffer {
    return this.buf.subarray(this.oidsAt + i * 20, this.oidsAt + i * 20 + 20);
  }

  crcAt(i: number): number {
    return this.buf.readUInt32BE(this.crcsAt + i * 4);
  }

  offsetAt(i: number): number {
    const small = this.buf.readUInt32BE(this.offsetsAt + i * 4);
    if (small < SMALL_OFFSET_LIMIT) return small;
    return Number(this.buf.readBigUInt64BE(this.largeAt + (small - SMALL_OFFSET_LIMIT) * 8));
  }

  /**
   * Where the entry at `offset` ends: the next entry's offset, or `packSize - 20` (the
   * trailer) for the last one. Entries are back to back in a pack.
   */
  entryEnd(offset: number, packSize: number): number {
    if (this.byOffset === null) {
      const offsets = new Float64Array(this.count);
      for (let i = 0; i < this.count; i++) offsets[i] = this.offsetAt(i);
      this.byOffset = offsets.sort();
    }
    const offsets = this.byOffset;
    let lo = 0;
    let hi = offsets.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((offsets[mid] as number) <= offset) lo = mid + 1;
      else hi = mid;
    }
    return lo < offsets.length ? (offsets[lo] as number) : packSize - 20;
  }
}
