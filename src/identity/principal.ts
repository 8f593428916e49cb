/** A person signed in through the OpenID Provider: what its ID token says. */
export interface Person {
  kind: 'person';
  /** The token's `sub`. */
  sub: string;
  email: string | undefined;
  name: string | undefined;
  /** The groups claim (KIPPER_OIDC_GROUPS_CLAIM), what `access:` rules with `group:` match. */
  groups: string[];
}

/** Who a request comes from: a verified person, or the break-glass admin token (`actor`: `admin` or `admin (as …)`). */
export type Principal = Person | { kind: 'admin'; actor: string };

/** The `Kipper-Actor` of a principal: a person's email, else their `sub` (docs/design.md "Who did it"). */
export function actorOf(p: Principal): string {
  return p.kind === 'admin' ? p.actor : (p.email ?? p.sub);
}

/** A verified person is the commit's author (the bridge stays committer); the admin token never is. */
export function authorOf(p: Principal): { name: string; email: string } | undefined {
  if (p.kind !== 'person' || p.email === undefined) return undefined;
  return { name: p.name ?? p.email, email: p.email };
}

/** A person from verified claims; undefined when `sub` is missing or unprintable. */
export function personOf(claims: Record<string, unknown>, groupsClaim: string): Person | undefined {
  const text = (v: unknown, max: number) =>
    // eslint-disable-next-line no-control-regex -- a claim goes into a commit's author and trailer line
    typeof v === 'string' && v.length > 0 && v.length <= max && !/[\u0000-\u001f\u007f<>]/.test(v) ? v : undefined;
  const sub = text(claims.sub, 300);
  if (sub === undefined) return undefined;
  const rawGroups = claims[groupsClaim];
  const groups = (Array.isArray(rawGroups) ? rawGroups : typeof rawGroups === 'string' ? [rawGroups] : []).filter(
    (g): g is string => typeof g === 'string' && g.length <= 300,
  );
  const email = text(claims.email, 254);
  return {
    kind: 'person',
    sub,
    email: email?.includes('@') ? email : undefined,
    name: text(claims.name, 200),
    groups: groups.slice(0, 200),
  };
}
