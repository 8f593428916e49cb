import { describe, expect, it } from 'vitest';
import { didYouMean } from '../../src/cli/did-you-mean.js';
import { formatHistory } from '../../src/cli/format-history.js';
import { formatTable } from '../../src/cli/format-table.js';
import { printable, printableLine } from '../../src/cli/printable.js';
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

  // Issue #18: 360–364 days printed "0 years ago" (months counted to 12, years not yet to 1).
  it.each([
    [29, '29 days ago'],
    [30, '1 month ago'],
    [61, '2 months ago'],
    [200, '6 months ago'],
    [334, '10 months ago'],
    [335, '11 months ago'],
    [360, '11 months ago'],
    [364, '11 months ago'],
    [365, '1 year ago'],
    [729, '1 year ago'],
    [730, '2 years ago'],
  ])('%i days → %s, never "0 years ago"', (days, text) => {
    expect(relativeTime(ago(days * 86400), now)).toBe(text);
    expect(relativeTime(ago(days * 86400 + 86399), now)).toBe(text);
  });

  it('says "unknown" for a timestamp that does not parse, never "NaN years ago"', () => {
    for (const bad of ['', 'yesterday', '2026-13-45T99:00:00Z', 'NaN']) expect(relativeTime(bad, now)).toBe('unknown');
  });
});

describe('printable text (issue #18: a commit message must not rewrite the terminal)', () => {
  const hostile = 'a\u001b]0;owned\u0007b\u001b[31mred\u001b[0m\r\u0008\u009b2J\u007f\u202eevil\tz';

  it('escapes C0 (ESC, BEL, CR, BS, TAB), DEL, C1 and bidi overrides as \\uXXXX, and keeps newlines', () => {
    expect(printable(`${hostile}\nnext ✔ ünïcode`)).toBe(
      'a\\u001b]0;owned\\u0007b\\u001b[31mred\\u001b[0m\\u000d\\u0008\\u009b2J\\u007f\\u202eevil\\u0009z\nnext ✔ ünïcode',
    );
    // eslint-disable-next-line no-control-regex -- what must not be left
    expect(printable(hostile)).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/);
    expect(printableLine('one\ntwo')).toBe('one\\u000atwo');
  });

  it('leaves JSON the same JSON: DEL and C1, which JSON.stringify keeps raw, become \\u escapes of the same value', () => {
    const json = JSON.stringify({ reason: hostile, list: [1, 'x'] }, null, 2);
    const safe = printable(json);
    expect(JSON.parse(safe)).toEqual(JSON.parse(json));
    // eslint-disable-next-line no-control-regex -- what must not be left
    expect(safe).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
  });

  it('escapes table cells before measuring them, so the columns stay aligned', () => {
    const table = formatTable(
      ['APP', 'IMAGE'],
      [
        ['a\u001b[2Jb', 'x'],
        ['plain', 'y'],
      ],
    );
    expect(table.split('\n')).toEqual([' APP          IMAGE', ' a\\u001b[2Jb  x', ' plain        y']);
  });
});

describe('did you mean', () => {
  const commands = ['webhook', 'list', 'history', 'rollback', 'update', 'promote', 'lock', 'unlock', 'wait'];
  it.each([
    ['histroy', 'history'],
    ['hsitory', 'history'],
    ['HISTORY', 'history'],
    ['rolback', 'rollback'],
    ['updte', 'update'],
    ['lsit', 'list'],
    ['webhok', 'webhook'],
  ])('%s → %s', (typo, meant) => {
    expect(didYouMean(typo, commands)).toBe(meant);
  });

  it.each(['nope', 'x', 'deploy', 'statusx'])('%s → nothing close', (word) => {
    expect(didYouMean(word, commands)).toBeUndefined();
  });
});

describe('history table', () => {
  it("matches Kipper's own layout byte for byte", () => {
    const table = formatHistory(
      [
        {
          revision: 3,
          image: 'registry.example.com/api:abc123f',
          commit: 'abc123f',
          trigger: 'webhook',
          timestamp: ago(120),
          current: true,
        },
        {
          revision: 2,
          image: 'registry.example.com/api:def456a',
          commit: 'def456a0000',
          trigger: 'webhook',
          timestamp: ago(3600),
          current: false,
        },
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
    const table = formatHistory(
      [{ revision: 12, image: long, commit: null, trigger: 'git', timestamp: ago(10), current: true }],
      now,
    );
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
        {
          revision: 1,
          image: 'registry.example.com/api:def456a',
          commit: 'def456a',
          trigger: 'git',
          timestamp: ago(3600),
          current: false,
        },
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
      [
        {
          revision: 100,
          image: 'registry.example.com/api:abc123f',
          commit: 'abc123f',
          trigger: 'promotion',
          timestamp: ago(120),
          current: true,
        },
      ],
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
        {
          revision: 3,
          image: 'registry.example.com/api:def456a',
          commit: 'def456a',
          trigger: 'rollback',
          timestamp: ago(120),
          current: true,
          undone: false,
        },
        {
          revision: 2,
          image: 'registry.example.com/api:abc123f',
          commit: 'abc123f',
          trigger: 'webhook',
          timestamp: ago(3600),
          current: false,
          undone: true,
        },
        {
          revision: 1,
          image: 'registry.example.com/api:def456a',
          commit: 'def456a',
          trigger: 'webhook',
          timestamp: ago(3 * 3600),
          current: false,
        },
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

describe('history table: BY and rollback targets (issue #18)', () => {
  const row = {
    image: 'registry.example.com/api:abc123f',
    commit: 'abc123f',
    timestamp: ago(120),
    current: false,
    author: 'Kipper <kipper@example.com>',
  };

  it("adds BY after WHEN: the actor, else the name of the author; Kipper's columns keep their places", () => {
    const table = formatHistory(
      [
        {
          ...row,
          revision: 4,
          trigger: 'rollback',
          rolledBackTo: 2,
          current: true,
          actor: 'admin (as ana@example.com)',
        },
        { ...row, revision: 3, trigger: 'webhook', timestamp: ago(3600), actor: 'webhook:yourr-name-test/api' },
        { ...row, revision: 2, trigger: 'webhook', timestamp: ago(7200) },
        {
          ...row,
          revision: 1,
          image: 'registry.example.com/api:seed',
          commit: null,
          trigger: 'git',
          timestamp: ago(86400),
          author: 'Ana Lyst <ana@example.com>',
        },
      ],
      now,
    );
    expect(table.split('\n')).toEqual([
      ' #  IMAGE                              COMMIT   TRIGGER         WHEN                 BY',
      ' 4  registry.example.com/api:abc123f   abc123f  rollback to #2  2 min ago (current)  admin (as ana@example.com)',
      ' 3  registry.example.com/api:abc123f   abc123f  webhook         1 hour ago           webhook:yourr-name-test/api',
      ' 2  registry.example.com/api:abc123f   abc123f  webhook         2 hours ago          Kipper',
      ' 1  registry.example.com/api:seed      -        git             1 day ago            Ana Lyst',
    ]);
  });

  it('keeps the contract table byte for byte up to WHEN, BY following it', () => {
    const table = formatHistory(
      [
        { ...row, revision: 3, trigger: 'webhook', current: true, actor: 'webhook:yourr-name-test/api' },
        {
          ...row,
          revision: 2,
          image: 'registry.example.com/api:def456a',
          commit: 'def456a',
          trigger: 'webhook',
          timestamp: ago(3600),
        },
      ],
      now,
    );
    const contract = [
      ' #  IMAGE                              COMMIT   TRIGGER   WHEN',
      ' 3  registry.example.com/api:abc123f   abc123f  webhook   2 min ago (current)',
      ' 2  registry.example.com/api:def456a   def456a  webhook   1 hour ago',
    ];
    expect(table.split('\n').map((l, i) => l.slice(0, contract[i]!.length))).toEqual(contract);
    expect(table.split('\n').map((l) => l.slice(contract[1]!.length))).toEqual([
      '  BY',
      '  webhook:yourr-name-test/api',
      '  Kipper',
    ]);
  });

  it('escapes control characters in any cell, and the columns stay aligned', () => {
    const table = formatHistory(
      [
        {
          ...row,
          revision: 2,
          trigger: 'git',
          current: true,
          author: 'Mallory\u001b]0;owned\u0007 <m@example.com>',
          reason: 'x\u001b[31mred',
        },
        { ...row, revision: 1, trigger: 'git', timestamp: ago(3600), reason: null },
      ],
      now,
      { wide: true },
    );
    const lines = table.split('\n');
    expect(table).not.toContain('\u001b');
    expect(lines[1]).toContain('Mallory\\u001b]0;owned\\u0007  x\\u001b[31mred');
    expect(lines[0]!.indexOf('REASON')).toBe(lines[1]!.indexOf('x\\u001b'));
    expect(lines[0]!.indexOf('REASON')).toBe(lines[2]!.lastIndexOf('-'));
  });
});
