import { createHmac, randomBytes } from 'node:crypto';
import { safeEqual } from '../../config/tokens.js';

/** A console session, as its cookie carries it. */
export interface Session {
  /** Random id: what a CSRF token is bound to, and what sign-out revokes. */
  sid: string;
  /** Unix seconds of the last request seen with it (idle expiry). */
  seen: number;
}

export const SESSION_COOKIE = 'kipper_session';
export const SIGN_IN_COOKIE = 'kipper_sign_in';
/** A session unused this long is over (issue #11: 12 h idle). */
export const IDLE_SECONDS = 12 * 60 * 60;
/** A cookie older than this is re-issued with a new `seen`, so activity keeps it alive. */
const REFRESH_SECONDS = 5 * 60;

const b64 = (buf: Buffer) => buf.toString('base64url');

/**
 * Console sessions and CSRF tokens, stateless: a session is a cookie signed with a key
 * derived from the secret key, so every replica accepts it and nothing is stored. CSRF
 * tokens are derived from the session (or, for the sign-in form, from a nonce cookie),
 * never stored either. Sign-out revokes the session on this replica at once; elsewhere
 * the cookie is gone from the browser and the session ends with its idle time.
 */
export class ConsoleSessions {
  private readonly revoked = new Map<string, number>();

  /** `key`: derived from the secret key for console sessions only (config/tokens.ts `deriveKey`). */
  constructor(private readonly key: Buffer) {}

  /** A new session's cookie value. */
  create(now = Date.now()): { session: Session; cookie: string } {
    const session = { sid: b64(randomBytes(18)), seen: Math.floor(now / 1000) };
    return { session, cookie: this.seal(session) };
  }

  /** The session a cookie value carries, if it is ours, not revoked and not idle too long. */
  open(cookie: string | undefined, now = Date.now()): Session | null {
    if (!cookie) return null;
    const [version, payload, mac] = cookie.split('.');
    if (version !== 'v1' || !payload || !mac || !safeEqual(mac, this.mac(`v1.${payload}`))) return null;
    let session: Session;
    try {
      session = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Session;
    } catch {
      return null;
    }
    if (typeof session.sid !== 'string' || typeof session.seen !== 'number') return null;
    if (Math.floor(now / 1000) - session.seen > IDLE_SECONDS || this.revoked.has(session.sid)) return null;
    return session;
  }

  /** The cookie value to send back to keep `session` alive, or null when the current one is fresh enough. */
  refresh(session: Session, now = Date.now()): string | null {
    const seconds = Math.floor(now / 1000);
    return seconds - session.seen < REFRESH_SECONDS ? null : this.seal({ sid: session.sid, seen: seconds });
  }

  /** Ends a session on this replica. */
  revoke(session: Session, now = Date.now()): void {
    const seconds = Math.floor(now / 1000);
    this.revoked.set(session.sid, seconds);
    // Bounded: an entry is useless once the session would have idled out anyway.
    for (const [sid, at] of this.revoked) if (seconds - at > IDLE_SECONDS || this.revoked.size > 10_000) this.revoked.delete(sid);
  }

  /** The CSRF token of a session (or of a sign-in nonce). */
  csrf(bound: { sid: string } | { nonce: string }): string {
    return this.mac('sid' in bound ? `csrf.${bound.sid}` : `sign-in.${bound.nonce}`);
  }

  /** True when `token` is the CSRF token of `bound` (constant time). */
  checkCsrf(bound: { sid: string } | { nonce: string }, token: unknown): boolean {
    return typeof token === 'string' && safeEqual(token, this.csrf(bound));
  }

  /** A random nonce for the sign-in form's CSRF token. */
  nonce(): string {
    return b64(randomBytes(18));
  }

  private seal(session: Session): string {
    const payload = b64(Buffer.from(JSON.stringify(session), 'utf8'));
    return `v1.${payload}.${this.mac(`v1.${payload}`)}`;
  }

  private mac(text: string): string {
    return b64(createHmac('sha256', this.key).update(text).digest());
  }
}
