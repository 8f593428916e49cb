import { describe, expect, it } from 'vitest';
import {
  commitInfoOf,
  formatCommit,
  parseCommit,
  parseTree,
  storedZlib,
  treeOf,
  withIds,
  insertEntry,
  MODE_FILE,
  MODE_TREE,
  type TreeEntry,
} from '../../../src/repo/git-objects.js';
import { inflateSync } from 'node:zlib';

const sig = (timestamp: number, timezoneOffset: number) => ({
  name: 'Kip Per',
  email: 'kip@example.com',
  timestamp,
  timezoneOffset,
});

describe('git objects', () => {
  it('knows what a commit it formats reads back as, without parsing it', () => {
    const messages = [
      'deploy a: b\n\nKipper-App: a\n',
      'one line',
      '\n\nleading blank lines\n\n\n',
      'crlf\r\nbody\r\n',
      'ünïcödé ✔\n',
      '',
    ];
    const signatures = [sig(1_700_000_000, 0), sig(1_700_000_000.7, -120), sig(1_600_000_000, 330), sig(0, -0)];
    for (const message of messages) {
      for (const author of signatures) {
        const c = { tree: 'a'.repeat(40), parent: 'b'.repeat(40), author, committer: signatures[1]!, message };
        expect(commitInfoOf(c)).toEqual(parseCommit(formatCommit(c), 'x'));
        const root = { ...c, parent: '' };
        expect(commitInfoOf(root)).toEqual(parseCommit(formatCommit(root), 'x'));
      }
    }
  });

  it('writes stored zlib streams that inflate to the content', () => {
    for (const size of [0, 1, 300, 65_535, 65_536, 140_000]) {
      const content = Buffer.alloc(size, 'kipper ');
      expect(inflateSync(storedZlib(content)).equals(content)).toBe(true);
    }
  });

  it('rewrites ids in place and inserts entries in git order', () => {
    const entries: TreeEntry[] = [];
    for (const [mode, name] of [
      [MODE_FILE, 'a.yaml'],
      [MODE_TREE, 'a'],
      [MODE_FILE, 'a-b'],
      [MODE_TREE, 'z'],
      [MODE_FILE, 'kipper.yaml'],
    ] as const)
      insertEntry(entries, { mode, name, oid: '1'.repeat(40) });
    // A directory sorts as if its name ended in '/': after "a-b" and "a.yaml".
    expect(entries.map((e) => e.name)).toEqual(['a-b', 'a.yaml', 'a', 'kipper.yaml', 'z']);
    const tree = treeOf(entries);
    const changed = withIds(tree, new Map([[2, '2'.repeat(40)]]));
    expect(parseTree(changed.bytes, 'x').entries).toEqual(
      entries.map((e, i) => (i === 2 ? { ...e, oid: '2'.repeat(40) } : e)),
    );
    expect(parseTree(tree.bytes, 'x').entries).toEqual(entries);
  });
});
