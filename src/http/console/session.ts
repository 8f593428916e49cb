import { createHmac, randomBytes } from 'node:crypto';
import { safeEqual } from '../../config/tokens.js';
import type { Person } from '../../identity/principal.js';

/** A console session, as its cookie carries it. */
export interface Session {
  /** Random id: what a CSRF token is bound to, and what sign-out revokes. */
  sid: string;
  /** Unix seconds of the last request seen with it (idle expiry). */
  seen: number;
  /** Unix seconds of the sign-in (absolute expiry: activity never extends a session past it). */
  born: number;
  /** Single sign-on: who signed in (absent: the admin token, break-glass). */
  person?: Person | undefined;
  /** Single sign-on: the provider's tokens, sealed (identity/sealed.ts): what checks the session again and what sign-out revokes. */
  op?: string | undefined;
  /** Single sign-on: unix seconds of the provider's last word on this session (sso-session.ts checks again after KIPPER_OIDC_SESSION_CHECK). */
  checked?: number | undefined;
}

export const SESSION_COOKIE = 'kipper_session';
export const SIGN_IN_COOKIE = 'kipper_sign_in';
/** A one-time message for the next page (what a form POST did), set on its redirect. */
export const FLASH_COOKIE = 'kipper_flash';
/** A flash not shown within this long is dropped (it belongs to the redirect that set it). */
export const FLASH_SECONDS = 60;
/** A session unused this long is over (issue #11: 12 h idle). */
export const IDLE_SECONDS = 12 * 60 * 60;
/** A cookie older than this is re-issued with a new `seen`, so activity keeps it alive. */
const REFRESH_SECONDS = 5 * 60;
/** However active, a session ends this long after its sign-in (issue 18: 7 days). */
export const ABSOLUTE_SECONDS = 7 * 24 * 60 * 60;

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

  /** A new session's cookie value; `sso`: a person signed in through the provider. */
  create(now = Date.now(), sso?: { person: Person; op: string }): { session: Session; cookie: string } {
    const seconds = Math.floor(now / 1000);
    const session: Session = {
      sid: b64(randomBytes(18)),
      seen: seconds,
      born: seconds,
      ...(sso ? { ...sso, checked: seconds } : {}),
    };
    return { session, cookie: this.seal(session) };
  }

  /** The cookie value of `session` as the provider just confirmed it (new tokens, fresh groups). */
  rechecked(session: Session, person: Person, op: string, now = Date.now()): string {
    const seconds = Math.floor(now / 1000);
    return this.seal({ ...session, person, op, checked: seconds, seen: seconds });
  }

  /** The session a cookie value carries, if it is ours, not revoked, not idle too long and not older than ABSOLUTE_SECONDS. */
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
    // A cookie without `born` predates the absolute lifetime: it is over too.
    if (typeof session.sid !== 'string' || typeof session.seen !== 'number' || typeof session.born !== 'number')
      return null;
    const seconds = Math.floor(now / 1000);
    if (
      seconds - session.seen > IDLE_SECONDS ||
      seconds - session.born > ABSOLUTE_SECONDS ||
      this.revoked.has(session.sid)
    )
      return null;
    return session;
  }

  /** The cookie value to send back to keep `session` alive, or null when the current one is fresh enough. */
  refresh(session: Session, now = Date.now()): string | null {
    const seconds = Math.floor(now / 1000);
    return seconds - session.seen < REFRESH_SECONDS ? null : this.seal({ ...session, seen: seconds });
  }

  /** Ends a session on this replica (an SSO session also ends at the provider, so every replica's next check ends it: sso-session.ts). */
  revoke(session: Session, now = Date.now()): void {
    const seconds = Math.floor(now / 1000);
    this.revoked.set(session.sid, seconds);
    // Bounded: an entry is useless once the session would have idled out anyway.
    for (const [sid, at] of this.revoked)
      if (seconds - at > IDLE_SECONDS || this.revoked.size > 10_000) this.revoked.delete(sid);
  }

  /**
   * A flash cookie's value: `text` for the next page of this session only, signed, so a
   * link can never make the console say anything (issue 18: the status line once echoed
   * `?done=…&to=…` from the URL).
   */
  flash(session: Session, text: string, now = Date.now()): string {
    const payload = b64(
      Buffer.from(JSON.stringify({ sid: session.sid, text, until: Math.floor(now / 1000) + FLASH_SECONDS }), 'utf8'),
    );
    return `f1.${payload}.${this.mac(`f1.${payload}`)}`;
  }

  /** The text of a flash cookie set for `session` and not yet stale, else undefined. */
  readFlash(session: Session, cookie: string | undefined, now = Date.now()): string | undefined {
    const [version, payload, mac] = (cookie ?? '').split('.');
    if (version !== 'f1' || !payload || !mac || !safeEqual(mac, this.mac(`f1.${payload}`))) return undefined;
    try {
      const flash = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as {
        sid?: unknown;
        text?: unknown;
        until?: unknown;
      };
      const fresh = typeof flash.until === 'number' && Math.floor(now / 1000) <= flash.until;
      return flash.sid === session.sid && fresh && typeof flash.text === 'string' ? flash.text : undefined;
    } catch {
      return undefined;
    }
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
