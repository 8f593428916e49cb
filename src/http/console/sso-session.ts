import { Sealer } from '../../identity/sealed.js';
import type { PendingSignIn, ProviderTokens, SsoClient } from '../../identity/sso-client.js';
import type { ConsoleSessions, Session } from './session.js';

/** The short-lived cookie of a sign-in in progress (SameSite=Lax: it must come back with the provider's redirect). */
export const PENDING_COOKIE = 'kipper_sso';
export const PENDING_SECONDS = 600;

/**
 * Console sessions of people signed in through the provider. Sessions stay stateless
 * signed cookies; what makes a sign-out hold on every replica is the provider: sign-out
 * revokes the session's tokens there, and every replica asks the provider again (userinfo,
 * or a refresh) once a session's last word from it is older than KIPPER_OIDC_SESSION_CHECK.
 * So a copied cookie dies everywhere within that time, and at once on the replica signed out of.
 */
export class SsoSessions {
  private readonly tokens: Sealer;
  private readonly pending: Sealer;
  /** One check per session at a time on this replica: a page's parallel requests share it (a refresh token may rotate). */
  private readonly inFlight = new Map<string, Promise<{ session: Session; cookie: string } | null>>();

  constructor(
    readonly client: SsoClient,
    private readonly sessions: ConsoleSessions,
    sessionKey: Buffer,
  ) {
    this.tokens = new Sealer(sessionKey, 'provider tokens');
    this.pending = new Sealer(sessionKey, 'pending sign-in');
  }

  sealTokens(t: ProviderTokens): string {
    return this.tokens.seal(t);
  }

  tokensOf(session: Session): ProviderTokens | undefined {
    return this.tokens.open<ProviderTokens>(session.op);
  }

  sealPending(p: PendingSignIn): string {
    return this.pending.seal({ ...p, until: Math.floor(Date.now() / 1000) + PENDING_SECONDS });
  }

  openPending(cookie: string | undefined): PendingSignIn | undefined {
    const p = this.pending.open<PendingSignIn & { until: number }>(cookie);
    return p && p.until >= Date.now() / 1000 ? p : undefined;
  }

  /** Whether the provider's last word on `session` is too old. */
  due(session: Session, now = Date.now()): boolean {
    return (
      session.person !== undefined &&
      Math.floor(now / 1000) - (session.checked ?? 0) >= this.client.sso.sessionCheckSeconds
    );
  }

  /** Ask the provider again: the session with its new cookie, or null when the provider ended it. */
  recheck(session: Session): Promise<{ session: Session; cookie: string } | null> {
    const running = this.inFlight.get(session.sid);
    if (running) return running;
    const check = this.ask(session).finally(() => this.inFlight.delete(session.sid));
    this.inFlight.set(session.sid, check);
    return check;
  }

  private async ask(session: Session): Promise<{ session: Session; cookie: string } | null> {
    const tokens = this.tokensOf(session);
    if (!tokens || !session.person) return null;
    const answer = await this.client.recheck(session.person, tokens).catch(() => null);
    if (!answer) return null;
    const op = this.sealTokens(answer.tokens);
    const cookie = this.sessions.rechecked(session, answer.person, op);
    return { session: this.sessions.open(cookie)!, cookie };
  }
}
