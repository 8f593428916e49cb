import type { LockAnswer } from '../../api-types.js';
import type { AdminClient } from '../admin-client.js';
import { reasonOf, resolveApp, type AppOptions } from '../args.js';

/** Who runs kip (current-user.ts), asked only once the command line is known to be good. */
export type WhoAmI = () => Promise<string | undefined>;

/**
 * `kip app lock <app> --reason TEXT`: the app's webhook deploys nothing until it is
 * unlocked (docs/design.md "Locks"); manual deploys and rollbacks still work.
 */
export async function appLock(
  client: AdminClient,
  positionals: string[],
  options: AppOptions,
  whoAmI: WhoAmI,
): Promise<string> {
  const { id, name } = resolveApp(positionals[0], options);
  const reason = reasonOf(
    options,
    `say why the app is locked: kip app lock ${positionals[0]} --reason "INC-42: bad migration"`,
  )!;
  const by = await whoAmI();
  const res = await client.request<LockAnswer>('POST', `/api/v1/apps/${id}/lock`, { reason, ...(by ? { by } : {}) });
  if (options.json) return JSON.stringify(res, null, 2);
  // No commit: it was locked already, for this reason by this user.
  if (res.configCommit === null) return `✔ ${name} is already locked: ${res.lock?.reason ?? reason}`;
  return lockedLine(name, res.lock?.reason ?? reason);
}

/** `kip app unlock <app> [--reason TEXT]`: webhooks deploy the app again. */
export async function appUnlock(
  client: AdminClient,
  positionals: string[],
  options: AppOptions,
  whoAmI: WhoAmI,
): Promise<string> {
  const { id, name } = resolveApp(positionals[0], options);
  const reason = reasonOf(options, undefined);
  const by = await whoAmI();
  const res = await client.request<LockAnswer>('DELETE', `/api/v1/apps/${id}/lock`, {
    ...(reason ? { reason } : {}),
    ...(by ? { by } : {}),
  });
  if (options.json) return JSON.stringify(res, null, 2);
  return res.configCommit === null ? `✔ ${name} is not locked` : `✔ Unlocked ${name}`;
}

/** What `lock` and `rollback --lock` print once the app is locked. */
export function lockedLine(name: string, reason: string): string {
  return `✔ Locked ${name}: ${reason}`;
}
