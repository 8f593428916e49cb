import type { RollbackAnswer } from '../../api-types.js';
import { KipError } from '../../errors.js';
import type { AdminClient } from '../admin-client.js';
import { resolveApp, type AppOptions } from '../args.js';

/** `kip app rollback <app> [--revision N]`: a new commit that brings back an earlier image. */
export async function appRollback(client: AdminClient, positionals: string[], options: AppOptions): Promise<string> {
  const { id, name } = resolveApp(positionals[0], options);
  let revision: number | undefined;
  if (options.revision !== undefined) {
    revision = Number(options.revision);
    if (!/^\d+$/.test(options.revision) || revision < 1) {
      throw new KipError('USAGE', `--revision must be a revision number from \`kip app history\`, got "${options.revision}"`);
    }
  }
  const res = await client.request<RollbackAnswer>('POST', `/api/v1/apps/${id}/rollback`, revision === undefined ? {} : { revision });
  if (options.json) return JSON.stringify(res, null, 2);
  return `✔ Rolled back ${name} to revision #${res.rolledBackTo} (${res.image ?? res.commit})`;
}
