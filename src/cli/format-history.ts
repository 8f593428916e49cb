import { relativeTime } from './relative-time.js';

/** One row of `GET …/history`. */
export interface HistoryRow {
  revision: number;
  image: string | null;
  commit: string | null;
  trigger: string;
  timestamp: string;
  current: boolean;
}

/**
 * The history table in Kipper's own layout:
 * ` #  IMAGE<pad to 34> COMMIT   TRIGGER   WHEN` (the number right-aligned in 2), commits
 * shortened to 7 characters.
 */
export function formatHistory(rows: HistoryRow[], now: number = Date.now()): string {
  const num = Math.max(2, ...rows.map((r) => String(r.revision).length));
  const image = Math.max(34, ...rows.map((r) => (r.image ?? '-').length));
  const line = (n: string, img: string, commit: string, trigger: string, when: string) =>
    `${n.padStart(num)}  ${img.padEnd(image)} ${commit.padEnd(8)} ${trigger.padEnd(9)} ${when}`.trimEnd();
  return [
    line('#', 'IMAGE', 'COMMIT', 'TRIGGER', 'WHEN'),
    ...rows.map((r) =>
      line(
        String(r.revision),
        r.image ?? '-',
        r.commit ? r.commit.slice(0, 7) : '-',
        r.trigger,
        `${relativeTime(r.timestamp, now)}${r.current ? ' (current)' : ''}`,
      ),
    ),
  ].join('\n');
}
