import type { RollbackAnswer } from '../../api-types.js';
import type { AdminClient } from '../admin-client.js';
import { reasonOf, resolveApp, revisionOf, type AppOptions } from '../args.js';
import { lockedLine, type WhoAmI } from './app-lock.js';

/**
 * `kip app rollback <app> [--revision N] [--reason TEXT] [--lock]`: a new commit that brings
 * back an earlier image; with --lock the same commit locks the app, so no CI run can
 * deploy between the rollback and the lock.
 */
export async function appRollback(
  client: AdminClient,
  positionals: string[],
  options: AppOptions,
  whoAmI: WhoAmI,
): Promise<string> {
  const { id, name } = resolveApp(positionals[0], options);
  const revision = revisionOf(options);
  const reason = reasonOf(
    options,
    options.lock
      ? `--lock needs --reason TEXT: say why, e.g. kip app rollback ${positionals[0]} --lock --reason "INC-42: bad migration"`
      : undefined,
  );
  const by = options.lock ? await whoAmI() : undefined;
  const body = {
    ...(revision === undefined ? {} : { revision }),
    ...(reason === undefined ? {} : { reason }),
    ...(options.lock ? { lock: true, ...(by ? { by } : {}) } : {}),
    ...(options.direct ? { direct: true } : {}),
  };
  const res = await client.request<RollbackAnswer>('POST', `/api/v1/apps/${id}/rollback`, body);
  if (options.json) return JSON.stringify(res, null, 2);
  if (res.status === 'proposed' && res.pullRequest) {
    return `✔ Proposed a rollback of ${name} to revision #${res.rolledBackTo} (${res.image ?? res.commit}) in pull request #${res.pullRequest.number}: ${res.pullRequest.url}`;
  }
  const line = `✔ Rolled back ${name} to revision #${res.rolledBackTo} (${res.image ?? res.commit})`;
  return res.lock ? `${line}\n${lockedLine(name, res.lock.reason)}` : line;
}
