import * as oidc from 'openid-client';
import { KipError } from '../errors.js';
import { personOf, type Person } from './principal.js';
import type { SsoSettings } from '../config/sso-settings.js';

/** What a sign-in in progress keeps (sealed in a short-lived cookie) between the redirect to the provider and its callback. */
export interface PendingSignIn {
  verifier: string;
  state: string;
  nonce: string;
  next: string;
}

/** The provider's tokens of a console session (sealed in its cookie): what checks it again, and what sign-out revokes. */
export interface ProviderTokens {
  access: string;
  refresh: string | undefined;
  /** Unix seconds the access token expires at. */
  expires: number;
}

// `groups`: the scope most providers (Okta, Dex, oidc-provider) put the groups claim under; others ignore it.
const SCOPE = 'openid email profile offline_access groups';

/**
 * The console's side of single sign-on with openid-client: authorization code + PKCE to
 * sign in, the provider's userinfo (and refresh) to check a session again, revocation and
 * end_session to sign out. The provider's metadata is discovered at first use.
 */
export class SsoClient {
  private config: Promise<oidc.Configuration> | undefined;

  constructor(
    readonly sso: SsoSettings,
    private readonly callbackUrl: string,
  ) {}

  /** The provider as people know it, for the button: its host. */
  get label(): string {
    return new URL(this.sso.issuer).host;
  }

  /** Where to send the browser to sign in, and what the callback must find again. */
  async start(next: string): Promise<{ url: URL; pending: PendingSignIn }> {
    const config = await this.configuration();
    const pending = {
      verifier: oidc.randomPKCECodeVerifier(),
      state: oidc.randomState(),
      nonce: oidc.randomNonce(),
      next,
    };
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: this.callbackUrl,
      scope: SCOPE,
      code_challenge: await oidc.calculatePKCECodeChallenge(pending.verifier),
      code_challenge_method: 'S256',
      state: pending.state,
      nonce: pending.nonce,
      // offline_access (a refresh token) is granted only with consent (OpenID Connect Core §11).
      prompt: 'consent',
    });
    return { url, pending };
  }

  /** The callback: code for tokens (state, nonce, PKCE and the ID token checked by openid-client). */
  async finish(currentUrl: URL, pending: PendingSignIn): Promise<{ person: Person; tokens: ProviderTokens }> {
    const config = await this.configuration();
    const tokens = await oidc.authorizationCodeGrant(config, currentUrl, {
      pkceCodeVerifier: pending.verifier,
      expectedState: pending.state,
      expectedNonce: pending.nonce,
      idTokenExpected: true,
    });
    const person = personOf(tokens.claims() ?? {}, this.sso.groupsClaim);
    if (!person) throw new KipError('ADMIN_UNAUTHORIZED', "the provider's ID token names nobody (no sub)");
    return { person, tokens: tokensOf(tokens, undefined) };
  }

  /**
   * Ask the provider whether the session still holds: userinfo with the access token, or
   * a refresh when it expired or was refused. Null: the provider has ended it (sign-out
   * elsewhere, a revoked grant, a disabled user). Groups come fresh from the provider.
   */
  async recheck(person: Person, tokens: ProviderTokens): Promise<{ person: Person; tokens: ProviderTokens } | null> {
    const config = await this.configuration();
    if (tokens.expires - 30 > Date.now() / 1000) {
      try {
        const info = await oidc.fetchUserInfo(config, tokens.access, person.sub);
        return { person: personOf({ ...info }, this.sso.groupsClaim) ?? person, tokens };
      } catch {
        // Refused: a refresh decides (a revoked grant refuses that too).
      }
    }
    if (!tokens.refresh) return null;
    try {
      const fresh = await oidc.refreshTokenGrant(config, tokens.refresh);
      const claims = fresh.claims();
      const next = claims ? personOf(claims, this.sso.groupsClaim) : person;
      if (!next || next.sub !== person.sub) return null;
      return { person: next, tokens: tokensOf(fresh, tokens.refresh) };
    } catch {
      return null;
    }
  }

  /** Revoke the session's tokens at the provider, and where to send the browser to end the provider's session (if it has an end_session). */
  async signOut(tokens: ProviderTokens | undefined, afterUrl: string): Promise<URL | null> {
    const config = await this.configuration();
    if (tokens) {
      for (const [token, hint] of [
        [tokens.refresh, 'refresh_token'],
        [tokens.access, 'access_token'],
      ] as const) {
        if (token) await oidc.tokenRevocation(config, token, { token_type_hint: hint }).catch(() => undefined);
      }
    }
    if (!config.serverMetadata().end_session_endpoint) return null;
    return oidc.buildEndSessionUrl(config, { client_id: this.sso.clientId, post_logout_redirect_uri: afterUrl });
  }

  private configuration(): Promise<oidc.Configuration> {
    if (!this.config) {
      const auth = this.sso.clientSecret === undefined ? oidc.None() : oidc.ClientSecretPost(this.sso.clientSecret);
      this.config = oidc.discovery(new URL(this.sso.issuer), this.sso.clientId, undefined, auth, { timeout: 10 });
      // A provider down at first use is asked again next time.
      this.config.catch(() => (this.config = undefined));
    }
    return this.config;
  }
}

function tokensOf(t: oidc.TokenEndpointResponse, previousRefresh: string | undefined): ProviderTokens {
  return {
    access: t.access_token,
    // A provider that does not rotate refresh tokens answers a refresh without one.
    refresh: t.refresh_token ?? previousRefresh,
    expires: Math.floor(Date.now() / 1000) + (t.expires_in ?? 300),
  };
}
