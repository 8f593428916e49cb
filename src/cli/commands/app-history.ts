import type { HistoryAnswer } from '../../api-types.js';
import type { AdminClient } from '../admin-client.js';
import { resolveApp, type AppOptions } from '../args.js';
import { formatHistory } from '../format-history.js';

/** `kip app history <app>`: revisions from git, newest first. */
export async function appHistory(client: AdminClient, positionals: string[], options: AppOptions): Promise<string> {
  const { id, name } = resolveApp(positionals[0], options);
  const res = await client.request<HistoryAnswer>('GET', `/api/v1/apps/${id}/history`);
  if (options.json) return JSON.stringify(res, null, 2);
  if (res.revisions.length === 0) return `No revisions of ${name} yet.`;
  return formatHistory(res.revisions);
}
