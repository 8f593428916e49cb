import type { HistoryAnswer, LockInfo } from '../../api-types.js';
import { relativeTime } from '../../history/relative-time.js';
import type { AdminClient } from '../admin-client.js';
import { resolveApp, type AppOptions } from '../args.js';
import { formatHistory } from '../format-history.js';

/** `kip app history <app> [--wide]`: revisions from git, newest first, after the app's lock if it has one. */
export async function appHistory(client: AdminClient, positionals: string[], options: AppOptions): Promise<string> {
  const { id, name } = resolveApp(positionals[0], options);
  const res = await client.request<HistoryAnswer>('GET', `/api/v1/apps/${id}/history`);
  if (options.json) return JSON.stringify(res, null, 2);
  const now = Date.now();
  const table = res.revisions.length === 0 ? `No revisions of ${name} yet.` : formatHistory(res.revisions, now, { wide: options.wide });
  // `lock` is absent from older bridges.
  return res.lock ? `${lockLine(res.lock, now)}\n${table}` : table;
}

/** `Locked by ana@example.com 5 min ago: INC-42: bad migration`; by and time only where kipper.yaml has them. */
export function lockLine(lock: LockInfo, now: number = Date.now()): string {
  const when = lock.at && !Number.isNaN(Date.parse(lock.at)) ? relativeTime(lock.at, now) : '';
  return [['Locked', lock.by && `by ${lock.by}`, when].filter(Boolean).join(' '), lock.reason].join(': ');
}
