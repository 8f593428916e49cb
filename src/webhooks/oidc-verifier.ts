import {
  createRemoteJWKSet,
  customFetch,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import type { TrustRule } from '../config/kipper-file.js';
import { ciRunUrl } from './ci-run-url.js';
import { matchTrust, type TrustCheck } from './match-trust.js';

/**
 * Asymmetric algorithms only: never `none`, never HMAC (an HS256 token "signed" with the
 * issuer's public key is the classic forgery).
 */
export const OIDC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
];

/** The most a token's `exp`, `nbf` and `iat` may be off, in seconds (clock skew between CI and bridge). */
const CLOCK_TOLERANCE_S = 60;

/** Which check a refused token failed, for the bridge's log (never for the caller). */
export type OidcCheck =
  'format' | 'algorithm' | 'discovery' | 'keys' | 'kid' | 'signature' | 'expiry' | 'subject' | TrustCheck;

/** Who a verified CI token says it is. */
export interface CiIdentity {
  /** The token's `sub` (the actor is `oidc:<sub>`). */
  subject: string;
  /** The CI run's URL (`Kipper-Run`), when the token is GitHub's or GitLab's shape. */
  run: string | undefined;
}

export type OidcResult = { ok: true; identity: CiIdentity } | { ok: false; check: OidcCheck; reason: string };

export interface OidcVerifierOptions {
  /** How long after a key set was fetched an unknown `kid` may fetch it again (default one minute). */
  refetchCooldownMs?: number;
  /** The fetch for discovery and keys (default: the global one, which trusts NODE_EXTRA_CA_CERTS). */
  fetch?: typeof fetch;
}

interface IssuerKeys {
  keys: Promise<JWTVerifyGetKey>;
  failedAt?: number;
}

/**
 * Verifies CI ID tokens (GitHub Actions, GitLab CI) against kipper.yaml `trust:` rules:
 * jose checks signature, algorithm, issuer and times; match-trust.ts the rules. Keys come
 * from the issuer's discovery document's `jwks_uri`, cached per issuer; an unknown `kid`
 * fetches them again at most once per cooldown. Only issuers a rule names are ever fetched.
 */
export class OidcVerifier {
  private readonly issuers = new Map<string, IssuerKeys>();
  private readonly cooldownMs: number;
  private readonly fetch: typeof fetch;

  constructor(private readonly options: OidcVerifierOptions = {}) {
    this.cooldownMs = options.refetchCooldownMs ?? 60_000;
    this.fetch = options.fetch ?? ((input, init) => fetch(input, init));
  }

  /**
   * Verify `token` for `app` (null: an app kipper.yaml does not list). `defaultAudience`
   * is KIPPER_PUBLIC_URL, the audience of a rule that names none.
   */
  async verify(
    token: string,
    app: string | null,
    rules: readonly TrustRule[],
    defaultAudience: string | undefined,
  ): Promise<OidcResult> {
    const refuse = (check: OidcCheck, reason: string): OidcResult => ({ ok: false, check, reason });
    let alg: unknown;
    let iss: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
      iss = decodeJwt(token).iss;
    } catch {
      return refuse('format', 'not a signed JWT');
    }
    if (typeof alg !== 'string' || !OIDC_ALGORITHMS.includes(alg))
      return refuse('algorithm', `alg ${String(alg)} is not an asymmetric algorithm`);
    // Before any network: an issuer no rule names is never fetched from.
    if (typeof iss !== 'string' || !rules.some((r) => r.issuer === iss))
      return refuse('issuer', 'no trust rule names the token issuer');
    let keys: JWTVerifyGetKey;
    try {
      keys = await this.keysOf(iss);
    } catch (err) {
      return refuse('discovery', `the issuer's discovery document could not be used: ${messageOf(err)}`);
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer: iss,
        algorithms: OIDC_ALGORITHMS,
        clockTolerance: CLOCK_TOLERANCE_S,
        requiredClaims: ['exp', 'iat', 'aud', 'sub'],
      }));
    } catch (err) {
      return failureOf(err);
    }
    // jose checks `iat` against the future only with maxTokenAge, and GitLab tokens live
    // as long as their job: checked here.
    if (payload.iat! > Date.now() / 1000 + CLOCK_TOLERANCE_S) return refuse('expiry', 'iat is in the future');
    const subject = payload.sub!;
    // eslint-disable-next-line no-control-regex -- control characters are what is refused
    if (subject.length === 0 || subject.length > 300 || /[\u0000-\u001f\u007f]/.test(subject))
      return refuse('subject', 'sub is empty, too long or has control characters');
    if (app === null) return refuse('app', 'the app is not in kipper.yaml');
    const match = matchTrust(rules, payload, app, defaultAudience);
    if (!match.ok) return refuse(match.failed, `no trust rule matches the token's ${match.failed}`);
    return { ok: true, identity: { subject, run: ciRunUrl(payload) } };
  }

  /** The issuer's keys, from its discovery document: found once, retried at most every 10 s after a failure. */
  private keysOf(issuer: string): Promise<JWTVerifyGetKey> {
    const known = this.issuers.get(issuer);
    if (known && (known.failedAt === undefined || Date.now() - known.failedAt < Math.min(this.cooldownMs, 10_000)))
      return known.keys;
    const entry: IssuerKeys = { keys: this.discover(issuer) };
    entry.keys.catch(() => (entry.failedAt = Date.now()));
    this.issuers.set(issuer, entry);
    return entry.keys;
  }

  private async discover(issuer: string): Promise<JWTVerifyGetKey> {
    const res = await this.fetch(`${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`, {
      redirect: 'error',
      signal: AbortSignal.timeout(5_000),
      headers: { accept: 'application/json' },
    });
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
    const doc = (await res.json()) as { issuer?: unknown; jwks_uri?: unknown };
    // OpenID Connect Discovery 1.0 §4.3: the document's issuer must be the one asked for.
    if (doc.issuer !== issuer) throw new Error('its issuer is not the one asked for');
    if (typeof doc.jwks_uri !== 'string' || !doc.jwks_uri.startsWith('https://'))
      throw new Error('jwks_uri is not an https URL');
    return createRemoteJWKSet(new URL(doc.jwks_uri), {
      cooldownDuration: this.cooldownMs,
      timeoutDuration: 5_000,
      ...(this.options.fetch ? { [customFetch]: this.options.fetch } : {}),
    });
  }
}

/** Which check a jose error says failed. */
function failureOf(err: unknown): OidcResult {
  const refuse = (check: OidcCheck): OidcResult => ({ ok: false, check, reason: messageOf(err) });
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) return refuse('kid');
  if (err instanceof errors.JWSSignatureVerificationFailed) return refuse('signature');
  if (err instanceof errors.JWTExpired) return refuse('expiry');
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf' || err.claim === 'iat' || err.claim === 'exp') return refuse('expiry');
    if (err.claim === 'iss') return refuse('issuer');
    if (err.claim === 'aud') return refuse('audience');
    if (err.claim === 'sub') return refuse('subject');
    return refuse('claims');
  }
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) return refuse('algorithm');
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return refuse('format');
  // The key set could not be fetched or read (timeout, not 200, not a JWKS).
  return refuse('keys');
}

/** An error's message, never a token's content: jose's messages name claims, not their values. */
function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
