import type { AccessRule, Role } from '../config/kipper-file.js';
import type { Principal } from './principal.js';

/** What a request wants to do with an app: look at it, or change it (deploy, rollback, promote, lock, webhooks). */
export type Need = 'read' | 'write';

const RANK: Record<Role, number> = { viewer: 1, deployer: 2, admin: 3 };

/**
 * The strongest role kipper.yaml `access:` rules give `who` on an app of `namespace`, or
 * null (docs/identity-and-access.md "People: SSO and roles"). A rule names a user (their
 * email or `sub`) or a group of the groups claim; `namespaces` narrows it, else it holds
 * for every app of that kipper.yaml. The admin token is admin everywhere.
 */
export function roleOf(who: Principal, rules: readonly AccessRule[], namespace: string): Role | null {
  if (who.kind === 'admin') return 'admin';
  let best: Role | null = null;
  for (const rule of rules) {
    const matches =
      rule.user !== undefined ? rule.user === who.email || rule.user === who.sub : who.groups.includes(rule.group!);
    if (!matches || (rule.namespaces !== undefined && !rule.namespaces.includes(namespace))) continue;
    if (best === null || RANK[rule.role] > RANK[best]) best = rule.role;
  }
  return best;
}

/** Whether a role allows what is needed: a viewer reads, a deployer and an admin also write. */
export function allows(role: Role | null, need: Need): boolean {
  if (role === null) return false;
  return need === 'read' || RANK[role] >= RANK.deployer;
}
