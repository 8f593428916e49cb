// A real OpenID Provider (panva's certified `oidc-provider`) for the SSO tests, run by
// test/helpers/oidc-provider.ts in a child process. Its development login takes any
// name; USERS (JSON) gives a name an email and groups. Prints `listening <issuer>`.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { generateKeyPairSync } from 'node:crypto';
import process from 'node:process';
import Provider from 'oidc-provider';

const users = JSON.parse(process.env.OP_USERS ?? '{}');
const tls = { key: readFileSync(process.env.OP_TLS_KEY), cert: readFileSync(process.env.OP_TLS_CERT) };
const server = createServer(tls);
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `https://127.0.0.1:${server.address().port}`;
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'op-key-1', use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: process.env.OP_CLIENT_ID ?? 'kipper',
      // A native client: any loopback port matches (RFC 8252 §7.3), so bridges on random ports work.
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      redirect_uris: ['http://127.0.0.1/auth/callback'],
      post_logout_redirect_uris: ['http://127.0.0.1/'],
      grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
      response_types: ['code'],
    },
  ],
  jwks: { keys: [jwk] },
  cookies: { keys: ['kipper-test-op-cookie-key'] },
  features: {
    devInteractions: { enabled: true },
    deviceFlow: { enabled: true },
    revocation: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  pkce: { required: () => true },
  scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], groups: ['groups'] },
  // Claims in the ID token itself (what the bridge reads), not only from userinfo.
  conformIdTokenClaims: false,
  issueRefreshToken: () => true,
  ttl: {
    AccessToken: 600,
    IdToken: 600,
    RefreshToken: 3600,
    DeviceCode: 600,
    Interaction: 600,
    Session: 3600,
    Grant: 3600,
  },
  async findAccount(_ctx, id) {
    const user = users[id] ?? {};
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          email: user.email ?? `${id}@example.com`,
          email_verified: true,
          name: user.name ?? id,
          groups: user.groups ?? [],
        };
      },
    };
  },
  // The consent screen is part of the development login: every scope asked for is granted.
  loadExistingGrant: async (ctx) => {
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid offline_access email profile groups');
    grant.addOIDCClaims(['email', 'email_verified', 'name', 'groups']);
    await grant.save();
    return grant;
  },
});
server.on('request', provider.callback());
process.stdout.write(`listening ${issuer}\n`);
