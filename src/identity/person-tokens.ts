import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { OIDC_ALGORITHMS } from '../webhooks/oidc-verifier.js';
import { personOf, type Person } from './principal.js';
import type { SsoSettings } from '../config/sso-settings.js';

/** The most a token's times may be off, in seconds. */
const CLOCK_TOLERANCE_S = 60;

/**
 * Verifies the bearer tokens people hold (what `kip login` keeps: the provider's ID token,
 * or a JWT access token for this client): signed by KIPPER_OIDC_ISSUER's keys (its
 * discovery document's `jwks_uri`, fetched once, again on an unknown `kid` at most once a
 * minute; oidc-verifier.ts does the same for CI), `aud` the bridge's client id, not expired,
 * asymmetric algorithms only.
 */
export class PersonTokens {
  private keys: Promise<JWTVerifyGetKey> | undefined;
  private failedAt = 0;

  constructor(private readonly sso: SsoSettings) {}

  /** The person a token names, or null with the check that failed (for the log, never for the caller). */
  async verify(token: string): Promise<{ person: Person } | { failed: string }> {
    try {
      const { alg } = decodeProtectedHeader(token);
      if (typeof alg !== 'string' || !OIDC_ALGORITHMS.includes(alg)) return { failed: 'algorithm' };
    } catch {
      return { failed: 'format' };
    }
    let keys: JWTVerifyGetKey;
    try {
      keys = await this.keysOf();
    } catch (err) {
      return { failed: `discovery: ${err instanceof Error ? err.message : String(err)}` };
    }
    try {
      const { payload } = await jwtVerify(token, keys, {
        issuer: this.sso.issuer,
        audience: this.sso.clientId,
        algorithms: OIDC_ALGORITHMS,
        clockTolerance: CLOCK_TOLERANCE_S,
        requiredClaims: ['exp', 'sub'],
      });
      const person = personOf(payload, this.sso.groupsClaim);
      return person ? { person } : { failed: 'subject' };
    } catch (err) {
      return { failed: err instanceof Error ? `${err.name}: ${err.message}` : 'signature' };
    }
  }

  private keysOf(): Promise<JWTVerifyGetKey> {
    if (this.keys && (this.failedAt === 0 || Date.now() - this.failedAt < 10_000)) return this.keys;
    this.failedAt = 0;
    this.keys = this.discover();
    this.keys.catch(() => (this.failedAt = Date.now()));
    return this.keys;
  }

  private async discover(): Promise<JWTVerifyGetKey> {
    const { issuer } = this.sso;
    const res = await fetch(`${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`, {
      redirect: 'error',
      signal: AbortSignal.timeout(5_000),
      headers: { accept: 'application/json' },
    });
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
    const doc = (await res.json()) as { issuer?: unknown; jwks_uri?: unknown };
    if (doc.issuer !== issuer) throw new Error('its issuer is not KIPPER_OIDC_ISSUER');
    if (typeof doc.jwks_uri !== 'string' || !doc.jwks_uri.startsWith('https://'))
      throw new Error('jwks_uri is not an https URL');
    return createRemoteJWKSet(new URL(doc.jwks_uri), { cooldownDuration: 60_000, timeoutDuration: 5_000 });
  }
}
