import type { AppsAnswer } from '../../api-types.js';
import type { AdminClient } from '../admin-client.js';
import type { AppOptions } from '../args.js';
import { formatTable } from '../format-table.js';

/** `kip app list`: apps, their current image and whether a webhook is enabled. */
export async function appList(client: AdminClient, options: AppOptions): Promise<string> {
  const res = await client.request<AppsAnswer>('GET', '/api/v1/apps');
  if (options.json) return JSON.stringify(res, null, 2);
  const apps = options.namespace ? res.apps.filter((a) => a.app.startsWith(`${options.namespace}/`)) : res.apps;
  if (apps.length === 0) return 'No apps in kipper.yaml.';
  return formatTable(
    ['APP', 'SOURCE', 'IMAGE', 'REVISION', 'WEBHOOK'],
    apps.map((a) => [a.app, a.source, a.image ?? '-', a.revision === null ? '-' : String(a.revision), a.webhook ? 'enabled' : 'disabled']),
  );
}
