import type { AppsAnswer } from '../../api-types.js';
import type { AdminClient } from '../admin-client.js';
import type { AppOptions } from '../args.js';
import { formatTable } from '../format-table.js';

/** `kip app list`: apps, their current image, whether a webhook is enabled, and why one is locked. */
export async function appList(client: AdminClient, options: AppOptions): Promise<string> {
  const res = await client.request<AppsAnswer>('GET', '/api/v1/apps');
  if (options.json) return JSON.stringify(res, null, 2);
  const apps = options.namespace ? res.apps.filter((a) => a.app.startsWith(`${options.namespace}/`)) : res.apps;
  if (apps.length === 0) return 'No apps in kipper.yaml.';
  // LOCKED (the lock's reason) only when a listed app is locked, like history's STATUS:
  // the table is byte for byte the same as before locks otherwise. Last, so a long
  // reason widens nothing else. `lock` is absent from older bridges.
  const locked = apps.some((a) => a.lock);
  // REPO only when the bridge serves several config repos (KIPPER_REPOS_FILE).
  const repos = new Set(res.apps.map((a) => a.repo ?? 'default')).size > 1;
  return formatTable(
    ['APP', ...(repos ? ['REPO'] : []), 'SOURCE', 'IMAGE', 'REVISION', 'WEBHOOK', ...(locked ? ['LOCKED'] : [])],
    apps.map((a) => [
      a.app,
      ...(repos ? [a.repo] : []),
      a.source,
      a.image ?? '-',
      a.revision === null ? '-' : String(a.revision),
      a.webhook ? 'enabled' : 'disabled',
      ...(locked ? [a.lock ? a.lock.reason : '-'] : []),
    ]),
  );
}
