import type { HistoryRevision } from '../api-types.js';
import { relativeTime } from '../history/relative-time.js';

/** One row of `GET …/history`: what the table shows of it (`undone` is absent from older bridges). */
export type HistoryRow = Pick<HistoryRevision, 'revision' | 'image' | 'commit' | 'trigger' | 'timestamp' | 'current'> &
  Partial<Pick<HistoryRevision, 'undone' | 'rollout'>>;

/** Kipper's own column widths (IMAGE 34, COMMIT 8, TRIGGER 9, each followed by one space), less the gap. */
const MIN_WIDTH = { revision: 2, image: 33, commit: 7, trigger: 8, status: 6 };
const GAP = '  ';

/**
 * The history table in Kipper's own layout:
 * ` #  IMAGE<pad to 35>COMMIT   TRIGGER   WHEN` (the number right-aligned), commits
 * shortened to 7 characters. Every column is as wide as its widest cell and at least
 * Kipper's width, with two spaces between columns, so the usual case is byte for byte
 * Kipper's and a long image never runs into COMMIT.
 */
export function formatHistory(rows: HistoryRow[], now: number = Date.now()): string {
  // STATUS (the rollout, issue #12) only where a syncer reports on the app: Kipper's
  // own table, byte for byte, otherwise.
  const status = rows.some((r) => r.rollout && r.rollout.state !== 'unknown');
  const cells = [
    ['#', 'IMAGE', 'COMMIT', 'TRIGGER', ...(status ? ['STATUS'] : []), 'WHEN'],
    ...rows.map((r) => [
      String(r.revision),
      r.image ?? '-',
      r.commit ? r.commit.slice(0, 7) : '-',
      r.trigger,
      ...(status ? [r.rollout?.state ?? '-'] : []),
      [relativeTime(r.timestamp, now), r.current ? '(current)' : '', r.undone ? '(undone)' : ''].filter(Boolean).join(' '),
    ]),
  ];
  const widest = (i: number) => Math.max(...cells.map((c) => c[i]!.length));
  const widths = [
    Math.max(MIN_WIDTH.revision, widest(0)),
    Math.max(MIN_WIDTH.image, widest(1)),
    Math.max(MIN_WIDTH.commit, widest(2)),
    Math.max(MIN_WIDTH.trigger, widest(3)),
    ...(status ? [Math.max(MIN_WIDTH.status, widest(4))] : []),
  ];
  return cells
    .map(([n, ...rest]) => [n!.padStart(widths[0]!), ...rest.map((c, i) => (i + 1 < widths.length ? c.padEnd(widths[i + 1]!) : c))].join(GAP).trimEnd())
    .join('\n');
}
