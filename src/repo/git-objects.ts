/**
 * Git's object formats, pure bytes in and out: ids, trees, commits, pack entries.
 * https://git-scm.com/book/en/v2/Git-Internals-Git-Objects,
 * https://git-scm.com/docs/gitformat-pack. The bridge builds the few objects of a deploy
 * in memory (their ids are known at once, before anything touches the disk), sends them
 * in a thin push and hands them to `git index-pack`; git itself does every read and
 * every other write of the gitdir (gitdir.ts).
 */
import { hash } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import { KipError } from '../errors.js';

export type ObjectType = 'blob' | 'tree' | 'commit';

/**
 * Author or committer. `timezoneOffset` is in minutes WEST of UTC (JavaScript's
 * `Date#getTimezoneOffset` sign), so UTC+02:00 is -120.
 */
export interface Signature {
  name: string;
  email: string;
  /** Unix seconds. */
  timestamp: number;
  timezoneOffset: number;
}

/** A parsed commit. */
export interface CommitInfo {
  tree: string;
  parents: string[];
  message: string;
  author: Signature;
  committer: Signature;
}

/**
 * One raw tree entry. `name` holds the name's bytes as latin1 (one character per byte):
 * it compares and sorts byte-wise as git does, and unchanged siblings are written back
 * exactly.
 */
export interface TreeEntry {
  mode: string;
  name: string;
  oid: string;
}

/**
 * A parsed tree: its bytes, its entries in order, and where each entry's 20-byte id sits
 * in the bytes, so a deploy rewrites one id in a copy of the bytes instead of writing the
 * whole tree again (a directory of 10,000 apps is 370 KB, issue #14).
 */
export interface Tree {
  bytes: Buffer;
  entries: TreeEntry[];
  idAt: number[];
  /** Entry index by name (latin1), built on the first lookup; shared by trees with the same names. */
  byName?: Map<string, number>;
}

/** The all-zero id git uses for "no object" (a ref that does not exist yet). */
export const ZERO_OID = '0'.repeat(40);
/** The id of the empty tree, which git treats as always present. */
export const EMPTY_TREE_OID = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';
export const MODE_TREE = '40000';
export const MODE_FILE = '100644';
export const MODE_EXEC = '100755';

/** The id of an object: SHA-1 of `<type> <size>\0<content>`. */
export function hashObject(type: ObjectType, content: Uint8Array): string {
  // One-shot: a Hash object per call was most of the cost for objects this small (issue #14).
  const header = `${type} ${content.byteLength}\0`;
  const bytes = Buffer.allocUnsafe(header.length + content.byteLength);
  bytes.write(header, 0, 'latin1');
  bytes.set(content, header.length);
  return hash('sha1', bytes, 'hex');
}

/** Splits and checks a repo path: relative, no empty, `.`, `..` or `.git` segments. */
export function splitPath(path: string): string[] {
  const segments = path.split('/');
  const bad = segments.some(
    (s) => s === '' || s === '.' || s === '..' || s.toLowerCase() === '.git' || /[\0\n\r]/.test(s),
  );
  if (bad) {
    throw new KipError(
      'INTERNAL',
      `invalid repo path ${JSON.stringify(path)}: use a relative path like apps/a/deployment.yaml`,
      { path },
    );
  }
  return segments;
}

// One string per mode, not one per entry of every parsed tree.
const MODES = new Map([MODE_TREE, MODE_FILE, MODE_EXEC].map((m) => [m, m]));

/** Tree object format: repeated `<mode> <name>\0<20-byte id>`, sorted git's way. `buf` is kept, not copied. */
export function parseTree(buf: Uint8Array, oid: string): Tree {
  const data = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const entries: TreeEntry[] = [];
  const idAt: number[] = [];
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    const nul = space < 0 ? -1 : data.indexOf(0, space + 1);
    if (space < 0 || nul < 0 || nul + 21 > data.length)
      throw new KipError('INTERNAL', `tree ${oid} is corrupt`, { oid });
    const mode = data.toString('latin1', pos, space);
    entries.push({
      mode: MODES.get(mode) ?? mode,
      name: data.toString('latin1', space + 1, nul),
      oid: data.toString('hex', nul + 1, nul + 21),
    });
    idAt.push(nul + 1);
    pos = nul + 21;
  }
  return { bytes: data, entries, idAt };
}

/** The empty tree. */
export function emptyTree(): Tree {
  return { bytes: Buffer.alloc(0), entries: [], idAt: [] };
}

/** The tree of `entries` (in git's order). */
export function treeOf(entries: readonly TreeEntry[]): Tree {
  let size = 0;
  for (const e of entries) size += e.mode.length + 1 + e.name.length + 1 + 20;
  const out = Buffer.allocUnsafe(size);
  const idAt: number[] = [];
  let pos = 0;
  for (const e of entries) {
    pos += out.write(e.mode, pos, 'latin1');
    out[pos++] = 0x20;
    pos += out.write(e.name, pos, 'latin1');
    out[pos++] = 0;
    idAt.push(pos);
    pos += out.write(e.oid, pos, 'hex');
  }
  return { bytes: out, entries: [...entries], idAt };
}

/** The index of the entry named `name` (a path segment), or -1. */
export function findEntry(tree: Tree, name: string): number {
  if (!tree.byName) {
    tree.byName = new Map();
    tree.entries.forEach((e, i) => tree.byName!.set(e.name, i));
  }
  // latin1 of the name's UTF-8 bytes; an ASCII name is that already.
  return tree.byName.get(/^[\x20-\x7e]*$/.test(name) ? name : Buffer.from(name, 'utf8').toString('latin1')) ?? -1;
}

/**
 * A copy of `tree` with the ids of some entries replaced (same names, same modes): the
 * bytes are copied and the ids overwritten in place, no entry is written again.
 */
export function withIds(tree: Tree, ids: ReadonlyMap<number, string>): Tree {
  const bytes = Buffer.allocUnsafe(tree.bytes.length);
  tree.bytes.copy(bytes);
  const entries = [...tree.entries];
  for (const [i, oid] of ids) {
    bytes.write(oid, tree.idAt[i]!, 'hex');
    entries[i] = { ...entries[i]!, oid };
  }
  return { bytes, entries, idAt: tree.idAt, ...(tree.byName ? { byName: tree.byName } : {}) };
}

/**
 * Inserts in git's order: by name bytes, a directory compared as if its name ended in
 * '/' (`base_name_compare` in git's tree.c); `git fsck` flags any other order.
 */
export function insertEntry(entries: TreeEntry[], entry: TreeEntry): void {
  const key = sortKey(entry);
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sortKey(entries[mid]!) > key) hi = mid;
    else lo = mid + 1;
  }
  entries.splice(lo, 0, entry);
}

// latin1 strings compare code unit by code unit, which is byte by byte.
function sortKey(e: TreeEntry): string {
  return e.mode === MODE_TREE ? `${e.name}/` : e.name;
}

/** A commit object's bytes; the message gets exactly one trailing newline, as `git commit` writes it. */
export function formatCommit(c: {
  tree: string;
  parent: string;
  author: Signature;
  committer: Signature;
  message: string;
}): Buffer {
  const lines = [`tree ${c.tree}`];
  if (c.parent !== '') lines.push(`parent ${c.parent}`);
  lines.push(`author ${formatSignature(c.author)}`, `committer ${formatSignature(c.committer)}`);
  return Buffer.from(`${lines.join('\n')}\n\n${c.message.replace(/\n+$/, '')}\n`, 'utf8');
}

/**
 * `commit` with `signature` as its gpgsig header, byte for byte as git writes it (commit.c
 * add_header_signature): at the end of the header, before the blank line; the first line
 * after `gpgsig `, every further line after one space (an empty line becomes " ").
 */
export function insertSignature(commit: Buffer | string, signature: string): Buffer {
  const bytes = typeof commit === 'string' ? Buffer.from(commit, 'utf8') : commit;
  const endOfHeader = bytes.indexOf('\n\n');
  const at = endOfHeader < 0 ? bytes.length : endOfHeader + 1;
  const header = `gpgsig ${signature.replace(/\n$/, '').split('\n').join('\n ')}\n`;
  return Buffer.concat([bytes.subarray(0, at), Buffer.from(header, 'utf8'), bytes.subarray(at)]);
}

/** What `parseCommit` reads back from `formatCommit(c)`, without formatting and parsing (a deploy writes one per commit). */
export function commitInfoOf(c: {
  tree: string;
  parent: string;
  author: Signature;
  committer: Signature;
  message: string;
}): CommitInfo {
  const readBack = (sig: Signature): Signature => ({
    ...sig,
    timestamp: Math.floor(sig.timestamp),
    timezoneOffset: sig.timezoneOffset === 0 ? 0 : sig.timezoneOffset,
  });
  return {
    tree: c.tree,
    parents: c.parent === '' ? [] : [c.parent],
    message: `${c.message.replace(/\r/g, '').replace(/^\n+/, '').replace(/\n+$/, '')}\n`,
    author: readBack(c.author),
    committer: readBack(c.committer),
  };
}

/** `Name <email> <seconds> <+hhmm>` as in a commit header. */
function formatSignature(sig: Signature): string {
  if (/[<>\n\0]/.test(sig.name) || /[<>\n\0]/.test(sig.email)) {
    throw new KipError(
      'CONFIG_INVALID',
      'commit author/committer name and email must not contain <, > or line breaks',
      { name: sig.name, email: sig.email },
    );
  }
  const east = -sig.timezoneOffset;
  const abs = Math.abs(east);
  const hhmm = `${String(Math.floor(abs / 60)).padStart(2, '0')}${String(abs % 60).padStart(2, '0')}`;
  return `${sig.name} <${sig.email}> ${Math.floor(sig.timestamp)} ${east < 0 ? '-' : '+'}${hhmm}`;
}

/**
 * Parses a commit the way git reads one (and isomorphic-git's GitCommit, which the history
 * index was first built on): one `tree` first, `parent` lines right after it, the first
 * of any other header wins, continuation lines (gpgsig) start with a space, and the
 * message has CRs and surrounding blank lines dropped.
 */
export function parseCommit(bytes: Uint8Array, oid: string): CommitInfo {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  const corrupt = (why: string) => new KipError('INTERNAL', `commit ${oid} is corrupt (${why})`, { oid });
  const split = text.indexOf('\n\n');
  const headers: string[] = [];
  for (const line of text.slice(0, split < 0 ? text.length : split).split('\n')) {
    if (line.startsWith(' ') && headers.length > 0) headers[headers.length - 1] += `\n${line.slice(1)}`;
    else headers.push(line);
  }
  const keyOf = (h: string) => h.slice(0, h.indexOf(' '));
  const valueOf = (h: string) => h.slice(h.indexOf(' ') + 1);
  if (headers.length === 0 || keyOf(headers[0]!) !== 'tree') throw corrupt('no tree header first');
  const parents: string[] = [];
  let i = 1;
  for (; i < headers.length && keyOf(headers[i]!) === 'parent'; i++) parents.push(valueOf(headers[i]!));
  const rest = new Map<string, string>();
  for (; i < headers.length; i++) {
    const key = keyOf(headers[i]!);
    if (key !== 'tree' && key !== 'parent' && !rest.has(key)) rest.set(key, valueOf(headers[i]!));
  }
  const author = rest.get('author');
  const committer = rest.get('committer');
  if (author === undefined || committer === undefined) throw corrupt('no author or committer');
  const message =
    split < 0
      ? ''
      : text
          .slice(split + 2)
          .replace(/\r/g, '')
          .replace(/^\n+/, '')
          .replace(/\n+$/, '');
  return {
    tree: valueOf(headers[0]!),
    parents,
    message: `${message}\n`,
    author: parseSignature(author, corrupt),
    committer: parseSignature(committer, corrupt),
  };
}

/** `Name <email> <seconds> <+hhmm>`; the offset becomes minutes west of UTC (0 stays as written, even -0). */
function parseSignature(value: string, corrupt: (why: string) => Error): Signature {
  const match = /^(.*) <(.*)> (.*) (.*)$/.exec(value);
  const zone = match ? /(\+|-)(\d\d)(\d\d)/.exec(match[4]!) : null;
  if (!match || !zone) throw corrupt(`bad signature ${JSON.stringify(value)}`);
  const east = (zone[1] === '+' ? 1 : -1) * (Number(zone[2]) * 60 + Number(zone[3]));
  return { name: match[1]!, email: match[2]!, timestamp: Number(match[3]), timezoneOffset: east === 0 ? east : -east };
}

/** Pack entry type numbers (https://git-scm.com/docs/gitformat-pack#_object_types). */
const PACK_TYPE: Record<ObjectType, number> = { commit: 1, tree: 2, blob: 3 };

/** The pack entry of a whole object: type and size header, then the content deflated. */
export function packEntry(type: ObjectType, content: Uint8Array): Buffer {
  const size = content.byteLength;
  const header: number[] = [];
  let byte = (PACK_TYPE[type] << 4) | (size & 0x0f);
  let rest = Math.floor(size / 16);
  while (rest > 0) {
    header.push(byte | 0x80);
    byte = rest & 0x7f;
    rest = Math.floor(rest / 128);
  }
  header.push(byte);
  return Buffer.concat([
    Buffer.from(header),
    size <= STORE_LIMIT ? storedZlib(content) : deflateSync(content, { level: 1 }),
  ]);
}

/**
 * Objects up to this size go into the pack as stored (uncompressed) zlib streams. deflateSync
 * sets up a zlib stream per object, ~35 µs, the largest native share of a deploy's CPU
 * (issue #14), to save little on a few KB of YAML and of tree entries whose ids do not
 * compress; git compresses them its own way when it repacks. Bigger objects (the tree of
 * a directory of thousands of apps) are still deflated, for the bytes on the wire.
 */
const STORE_LIMIT = 16 * 1024;

/** `content` as a zlib stream of stored deflate blocks (RFC 1950/1951): header, blocks of at most 65,535 bytes, Adler-32. */
export function storedZlib(content: Uint8Array): Buffer {
  const blocks = Math.max(1, Math.ceil(content.byteLength / 65_535));
  const out = Buffer.allocUnsafe(2 + blocks * 5 + content.byteLength + 4);
  out[0] = 0x78; // deflate, 32 KiB window
  out[1] = 0x01; // no dictionary, "fastest"; (0x78 << 8 | 0x01) % 31 === 0
  let pos = 2;
  for (let i = 0, at = 0; i < blocks; i++) {
    const length = Math.min(65_535, content.byteLength - at);
    out[pos] = i === blocks - 1 ? 1 : 0; // BFINAL, BTYPE 00 (stored)
    out.writeUInt16LE(length, pos + 1);
    out.writeUInt16LE(~length & 0xffff, pos + 3);
    out.set(content.subarray(at, at + length), pos + 5);
    pos += 5 + length;
    at += length;
  }
  out.writeUInt32BE(adler32(content), pos);
  return out;
}

/** Adler-32 (RFC 1950): the sums are reduced every 5,552 bytes, before they can overflow 32 bits. */
function adler32(data: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (let i = 0; i < data.length;) {
    const end = Math.min(i + 5552, data.length);
    for (; i < end; i++) {
      a += data[i]!;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return (b * 65536 + a) >>> 0;
}

/** A packfile of whole-object entries: `PACK`, version 2, count, the entries, SHA-1 trailer. */
export function packOf(entries: readonly Buffer[]): Buffer {
  const header = Buffer.alloc(12);
  header.write('PACK', 0, 'latin1');
  header.writeUInt32BE(2, 4);
  header.writeUInt32BE(entries.length, 8);
  const body = Buffer.concat([header, ...entries]);
  return Buffer.concat([body, hash('sha1', body, 'buffer')]);
}
