import type { TrustRule } from '../config/kipper-file.js';

/** The checks of a token against `trust:` rules, in the order they are made. */
export type TrustCheck = 'issuer' | 'audience' | 'claims' | 'app';

/** The rule that lets the token deploy the app, or the furthest check any rule got to before it failed. */
export type TrustMatch = { ok: true; rule: TrustRule } | { ok: false; failed: TrustCheck };

const ORDER: TrustCheck[] = ['issuer', 'audience', 'claims', 'app'];

/**
 * Match a verified token's claims to kipper.yaml's `trust:` rules (docs/identity-and-access.md
 * "CI with OIDC"): a rule matches when the issuer, the audience (the rule's, or
 * `defaultAudience`: KIPPER_PUBLIC_URL), every claim it lists and the app all match. The
 * signature, expiry and algorithm are jose's job, done before this.
 */
export function matchTrust(
  rules: readonly TrustRule[],
  claims: Record<string, unknown>,
  app: string,
  defaultAudience: string | undefined,
): TrustMatch {
  let furthest = 0;
  for (const rule of rules) {
    const failed = firstFailure(rule, claims, app, defaultAudience);
    if (failed === null) return { ok: true, rule };
    furthest = Math.max(furthest, ORDER.indexOf(failed));
  }
  return { ok: false, failed: ORDER[furthest]! };
}

function firstFailure(
  rule: TrustRule,
  claims: Record<string, unknown>,
  app: string,
  defaultAudience: string | undefined,
): TrustCheck | null {
  if (claims.iss !== rule.issuer) return 'issuer';
  // A rule without an audience and no KIPPER_PUBLIC_URL matches no token: never "any audience".
  const audience = rule.audience ?? defaultAudience;
  const aud = claims.aud;
  if (audience === undefined || !(aud === audience || (Array.isArray(aud) && aud.includes(audience))))
    return 'audience';
  for (const [name, pattern] of Object.entries(rule.claims)) {
    const value = claims[name];
    if (!(typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')) return 'claims';
    if (!globMatch(pattern, String(value))) return 'claims';
  }
  return rule.apps.includes(app) ? null : 'app';
}

/**
 * Whether `text` matches `pattern`, where `*` stands for any characters (`/` included) and
 * everything else for itself. Backtracking to the last `*` only (at worst pattern × text
 * steps), no regex: a pattern from kipper.yaml never becomes a ReDoS.
 */
export function globMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let mark = 0;
  while (t < text.length) {
    if (p < pattern.length && pattern[p] !== '*' && pattern[p] === text[t]) {
      p++;
      t++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = t;
    } else if (star !== -1) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}
