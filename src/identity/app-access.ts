import type { AppConfig, Role } from '../config/kipper-file.js';
import type { Bridge } from '../deploys/bridge.js';
import { appNotFound } from '../deploys/repo-config.js';
import { KipError } from '../errors.js';
import { allows, roleOf, type Need } from './access.js';
import { actorOf, type Principal } from './principal.js';

/** `who`'s role on app `id` by the `access:` rules of the repo that lists it (several repos: each its own). */
export function roleOn(bridge: Bridge, who: Principal, app: Pick<AppConfig, 'id' | 'namespace'>): Role | null {
  if (who.kind === 'admin') return 'admin';
  let rules;
  try {
    rules = bridge.repoOf(app.id).config.known().access;
  } catch {
    return null; // listed by two repos: nobody's rules decide until one drops it
  }
  return roleOf(who, rules, app.namespace);
}

/** Whether `who` may see app `id` at all (lists show only these). */
export function maySee(bridge: Bridge, who: Principal, app: Pick<AppConfig, 'id' | 'namespace'>): boolean {
  return allows(roleOn(bridge, who, app), 'read');
}

/**
 * Throws unless `who` may do what is needed with `app`: 404 for an app one may not see (as
 * if it did not exist), 403 FORBIDDEN for an action one's role does not allow.
 */
export function requireAccess(
  bridge: Bridge,
  who: Principal,
  app: Pick<AppConfig, 'id' | 'namespace'>,
  need: Need,
): void {
  const role = roleOn(bridge, who, app);
  if (!allows(role, 'read')) throw appNotFound(app.id);
  if (!allows(role, need)) {
    throw new KipError(
      'FORBIDDEN',
      `${actorOf(who)} is a ${role} of ${app.id}: changing it takes a deployer or admin rule in kipper.yaml access:`,
      {
        app: app.id,
      },
    );
  }
}
