import { KipError } from '../../errors.js';
import type { AdminClient } from '../admin-client.js';
import { resolveApp, type AppOptions } from '../args.js';

interface DeployResponse {
  status: 'deployed' | 'unchanged';
  image: string;
  revision: number | null;
}

function describe(name: string, res: DeployResponse, verb: string): string {
  const rev = res.revision === null ? '' : ` (revision #${res.revision})`;
  if (res.status === 'unchanged') return `✔ ${name} already runs ${res.image}${rev}`;
  return `✔ ${verb} ${name}: ${res.image}${rev}`;
}

/** `kip app update <app> --image REF`: a manual deploy (trigger `manual`). */
export async function appUpdate(client: AdminClient, positionals: string[], options: AppOptions): Promise<string> {
  const { id, name } = resolveApp(positionals[0], options);
  if (!options.image) throw new KipError('INVALID_BODY', 'usage: kip app update <app> --image REF', { usage: true });
  const res = await client.request<DeployResponse>('POST', `/api/v1/apps/${id}/deploy`, { image: options.image });
  if (options.json) return JSON.stringify(res, null, 2);
  return describe(name, res, 'Updated');
}

/**
 * `kip app promote <app> --project P --from ENV --to ENV`: the current image of
 * `P-from/app` is deployed to `P-to/app` (trigger `promotion`).
 */
export async function appPromote(client: AdminClient, positionals: string[], options: AppOptions): Promise<string> {
  const name = positionals[0];
  if (!name || !options.from || !options.to) {
    throw new KipError('INVALID_BODY', 'usage: kip app promote <app> --project P --from ENV --to ENV', { usage: true });
  }
  // --from/--to are environments of --project; with --namespace-style use they may be
  // whole namespaces.
  const ns = (env: string) => (options.project ? `${options.project}-${env}` : env);
  const res = await client.request<DeployResponse>('POST', `/api/v1/apps/${ns(options.from)}/${name}/promote`, { to: ns(options.to) });
  if (options.json) return JSON.stringify(res, null, 2);
  const rev = res.revision === null ? '' : `, revision #${res.revision}`;
  if (res.status === 'unchanged') return `✔ ${name} in ${options.to} already runs ${res.image}${rev.replace(', ', ' (')}${rev ? ')' : ''}`;
  return `✔ Promoted ${name} from ${options.from} to ${options.to} (${res.image}${rev})`;
}
