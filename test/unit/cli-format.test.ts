import { describe, expect, it } from 'vitest';
import { formatHistory } from '../../src/cli/format-history.js';
import { relativeTime } from '../../src/history/relative-time.js';

const now = Date.parse('2026-11-22T12:00:00Z');
const ago = (s: number) => new Date(now - s * 1000).toISOString();

describe('relative time', () => {
  it.each([
    [5, '5 sec ago'],
    [120, '2 min ago'],
    [3600, '1 hour ago'],
    [3 * 3600, '3 hours ago'],
    [86400, '1 day ago'],
    [3 * 86400, '3 days ago'],
  ])('%i s → %s', (s, text) => {
    expect(relativeTime(ago(s), now)).toBe(text);
  });
});

describe('history table', () => {
  it("matches Kipper's own layout byte for byte", () => {
    const table = formatHistory(
      [
        { revision: 3, image: 'registry.example.com/api:abc123f', commit: 'abc123f', trigger: 'webhook', timestamp: ago(120), current: true },
        { revision: 2, image: 'registry.example.com/api:def456a', commit: 'def456a0000', trigger: 'webhook', timestamp: ago(3600), current: false },
      ],
      now,
    );
    expect(table).toBe(
      [
        ' #  IMAGE                              COMMIT   TRIGGER   WHEN',
        ' 3  registry.example.com/api:abc123f   abc123f  webhook   2 min ago (current)',
        ' 2  registry.example.com/api:def456a   def456a  webhook   1 hour ago',
      ].join('\n'),
    );
  });

  it('widens the image column for long images and shows - for missing values', () => {
    const long = `registry.example.com/team/very-long-service-name:${'a'.repeat(40)}`;
    const table = formatHistory([{ revision: 12, image: long, commit: null, trigger: 'git', timestamp: ago(10), current: true }], now);
    const [header, row] = table.split('\n');
    expect(row).toBe(`12  ${long}  -        git       10 sec ago (current)`);
    expect(header!.indexOf('COMMIT')).toBe(row!.indexOf('-        git'));
  });

  it('keeps two spaces before COMMIT after a 60-character image, and the columns aligned', () => {
    const long = `registry.example.com/platform/payments-api:${'0'.repeat(17)}`;
    expect(long).toHaveLength(60);
    const table = formatHistory(
      [
        { revision: 2, image: long, commit: 'abc123f', trigger: 'webhook', timestamp: ago(120), current: true },
        { revision: 1, image: 'registry.example.com/api:def456a', commit: 'def456a', trigger: 'git', timestamp: ago(3600), current: false },
      ],
      now,
    );
    expect(table.split('\n')).toEqual([
      ` #  IMAGE${' '.repeat(57)}COMMIT   TRIGGER   WHEN`,
      ` 2  ${long}  abc123f  webhook   2 min ago (current)`,
      ` 1  registry.example.com/api:def456a${' '.repeat(30)}def456a  git       1 hour ago`,
    ]);
  });

  it('widens TRIGGER for promotion and the number column for revision 100', () => {
    const table = formatHistory(
      [{ revision: 100, image: 'registry.example.com/api:abc123f', commit: 'abc123f', trigger: 'promotion', timestamp: ago(120), current: true }],
      now,
    );
    expect(table.split('\n')).toEqual([
      '  #  IMAGE                              COMMIT   TRIGGER    WHEN',
      '100  registry.example.com/api:abc123f   abc123f  promotion  2 min ago (current)',
    ]);
  });

  it('marks an undone revision (undone), as (current) marks the newest, in the usual layout', () => {
    const table = formatHistory(
      [
        { revision: 3, image: 'registry.example.com/api:def456a', commit: 'def456a', trigger: 'rollback', timestamp: ago(120), current: true, undone: false },
        { revision: 2, image: 'registry.example.com/api:abc123f', commit: 'abc123f', trigger: 'webhook', timestamp: ago(3600), current: false, undone: true },
        { revision: 1, image: 'registry.example.com/api:def456a', commit: 'def456a', trigger: 'webhook', timestamp: ago(3 * 3600), current: false },
      ],
      now,
    );
    expect(table).toBe(
      [
        ' #  IMAGE                              COMMIT   TRIGGER   WHEN',
        ' 3  registry.example.com/api:def456a   def456a  rollback  2 min ago (current)',
        ' 2  registry.example.com/api:abc123f   abc123f  webhook   1 hour ago (undone)',
        ' 1  registry.example.com/api:def456a   def456a  webhook   3 hours ago',
      ].join('\n'),
    );
  });
});
