import type { HistoryRevision } from '../api-types.js';
import { relativeTime } from '../history/relative-time.js';
import { printableLine } from './printable.js';

/**
 * One row of `GET …/history`: what the table shows of it (`undone`, `reason`, `actor` are
 * absent from older bridges, `author` from rows built by hand).
 */
export type HistoryRow = Pick<HistoryRevision, 'revision' | 'image' | 'commit' | 'trigger' | 'timestamp' | 'current'> &
  Partial<Pick<HistoryRevision, 'undone' | 'rollout' | 'reason' | 'author' | 'actor' | 'rolledBackTo'>>;

/** How the table is laid out besides the rows. */
export interface HistoryTableOptions {
  /** `kip app history --wide`: a REASON column, last, `-` where a revision has none. */
  wide?: boolean;
}

interface Column {
  title: string;
  /** Kipper's own width (IMAGE 34, COMMIT 8, TRIGGER 9, each followed by one space), less the gap. */
  min: number;
  cell: (r: HistoryRow, now: number) => string;
}

const GAP = '  ';

/**
 * The history table in Kipper's own layout:
 * ` #  IMAGE<pad to 35>COMMIT   TRIGGER   WHEN` (the number right-aligned), commits
 * shortened to 7 characters. Every column is as wide as its widest cell and at least
 * Kipper's width, with two spaces between columns, so the usual case is byte for byte
 * Kipper's and a long image never runs into COMMIT. BY, who did it, follows WHEN: the
 * contract's columns keep their places, and the console has its Author there too.
 */
export function formatHistory(rows: HistoryRow[], now: number = Date.now(), options: HistoryTableOptions = {}): string {
  // STATUS (the rollout, issue #12) only where a syncer reports on the app: Kipper's
  // own table, byte for byte, otherwise.
  const status = rows.some((r) => r.rollout && r.rollout.state !== 'unknown');
  const by = rows.some((r) => r.actor !== undefined || r.author !== undefined);
  const columns: Column[] = [
    { title: '#', min: 2, cell: (r) => String(r.revision) },
    { title: 'IMAGE', min: 33, cell: (r) => r.image ?? '-' },
    { title: 'COMMIT', min: 7, cell: (r) => (r.commit ? r.commit.slice(0, 7) : '-') },
    // As the console says it: `rollback to #9`.
    {
      title: 'TRIGGER',
      min: 8,
      cell: (r) => (r.trigger === 'rollback' && r.rolledBackTo ? `rollback to #${r.rolledBackTo}` : r.trigger),
    },
    ...(status ? [{ title: 'STATUS', min: 6, cell: (r: HistoryRow) => r.rollout?.state ?? '-' }] : []),
    {
      title: 'WHEN',
      min: 0,
      cell: (r, at) =>
        [relativeTime(r.timestamp, at), r.current ? '(current)' : '', r.undone ? '(undone)' : '']
          .filter(Boolean)
          .join(' '),
    },
    // BY (docs/design.md "Who did it") after WHEN, so Kipper's own columns keep their places.
    ...(by ? [{ title: 'BY', min: 0, cell: byOf }] : []),
    // Last, so a long reason widens nothing else.
    ...(options.wide ? [{ title: 'REASON', min: 0, cell: (r: HistoryRow) => r.reason ?? '-' }] : []),
  ];
  // Escaped before measuring, so a commit's control characters neither act on the terminal nor skew a column.
  const cells = [columns.map((c) => c.title), ...rows.map((r) => columns.map((c) => printableLine(c.cell(r, now))))];
  const widths = columns.map((c, i) => Math.max(c.min, ...cells.map((row) => row[i]!.length)));
  const last = columns.length - 1;
  return cells
    .map((row) =>
      row
        .map((c, i) => (i === 0 ? c.padStart(widths[0]!) : i < last ? c.padEnd(widths[i]!) : c))
        .join(GAP)
        .trimEnd(),
    )
    .join('\n');
}

/** Who did it: the actor, else the author; a `Name <email>` as its name, as the console shows it. */
function byOf(r: HistoryRow): string {
  const who = r.actor ?? r.author ?? '';
  const m = /^(.*?)\s*<([^>]*)>$/.exec(who);
  return (m ? m[1] || m[2]! : who) || '-';
}
